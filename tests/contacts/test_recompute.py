import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from contacts import services
from contacts.management.commands.recompute_contacts import Command as RecomputeCommand
from contacts.models import Contact
from contacts.tasks import contacts_recompute_all_task
from tests.factories import ContactFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def recent_buyer():
    contact = ContactFactory()
    PurchaseFactory(contact=contact, purchased_at=timezone.now() - dt.timedelta(days=10))
    services.contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    contact.refresh_from_db()
    assert contact.lifecycle == "new"
    return contact


def later(monkeypatch, days: int) -> None:
    real_now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: real_now + dt.timedelta(days=days))


def test_lifecycle_moves_to_at_risk_and_lapsed_as_time_passes(recent_buyer, monkeypatch):
    later(monkeypatch, 100)
    call_command("recompute_contacts")
    recent_buyer.refresh_from_db()
    assert recent_buyer.lifecycle == "at_risk"
    later(monkeypatch, 200)
    call_command("recompute_contacts")
    recent_buyer.refresh_from_db()
    assert recent_buyer.lifecycle == "lapsed"


def test_a_buyer_stops_being_new_after_a_month(recent_buyer, monkeypatch):
    later(monkeypatch, 30)
    call_command("recompute_contacts", batch_size=1)
    recent_buyer.refresh_from_db()
    assert recent_buyer.lifecycle == "active"


def test_it_recomputes_contacts_whose_purchases_moved_back(recent_buyer):
    Contact.objects.filter(pk=recent_buyer.pk).update(
        first_purchase_at=timezone.now() - dt.timedelta(days=400),
        last_purchase_at=timezone.now() - dt.timedelta(days=400),
    )
    call_command("recompute_contacts")
    recent_buyer.refresh_from_db()
    assert recent_buyer.lifecycle == "lapsed"
    assert recent_buyer.rfm_recency is not None


def test_the_task_runs_the_same_recompute(recent_buyer, monkeypatch):
    later(monkeypatch, 100)
    contacts_recompute_all_task.delay()
    recent_buyer.refresh_from_db()
    assert recent_buyer.lifecycle == "at_risk"


def test_help_describes_the_command():
    text = RecomputeCommand().create_parser("manage.py", "recompute_contacts").format_help()
    assert "RFM" in text and "--batch-size" in text
