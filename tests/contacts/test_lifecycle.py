"""Lifecycle is never stale: every place that shows it evaluates the one rule (contacts.lifecycle) over the
stored purchase dates when it reads, so the passage of time moves a contact everywhere at once, with no
recompute in between."""

import datetime as dt

import pytest
from django.utils import timezone

from contacts import services
from contacts.lifecycle import ORDER, lifecycle_case, lifecycle_q, with_lifecycle
from contacts.models import Contact, Lifecycle
from contacts.resources import ContactResource
from segments.explain import explain
from segments.services import segment_count, segment_create
from tests.factories import ContactFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


def later(monkeypatch, days: float) -> None:
    moment = timezone.now() + dt.timedelta(days=days)
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture
def buyer():
    contact = ContactFactory(email="dana@example.com")
    PurchaseFactory(contact=contact, purchased_at=timezone.now() - dt.timedelta(days=200))
    PurchaseFactory(contact=contact, purchased_at=timezone.now() - dt.timedelta(days=89, hours=23))
    services.contacts_refresh_purchase_stats(contact_ids=[contact.pk])
    return contact


def shown_everywhere(contact: Contact, api, admin_client) -> dict:
    """The stage as each reader shows it."""
    exported = ContactResource().export(queryset=with_lifecycle(Contact.objects.filter(pk=contact.pk)))
    filtered = {
        stage: contact.pk in [c["id"] for c in api.get(f"/api/v1/contacts/?lifecycle={stage}").json()["results"]]
        for stage in Lifecycle.values
    }
    at_risk = segment_create(
        name=f"At risk {timezone.now().timestamp()}", rules={"field": "lifecycle", "op": "eq", "value": "at_risk"}
    )
    return {
        "api": api.get(f"/api/v1/contacts/{contact.pk}/").json()["lifecycle"],
        "api_filter": [stage for stage, hit in filtered.items() if hit],
        "admin_filter_at_risk": "dana@example.com"
        in admin_client.get("/admin/contacts/contact/", {"lifecycle": "at_risk"}).content.decode(),
        "export": exported.dict[0]["lifecycle"],
        "segment_at_risk": segment_count(segment=at_risk) == 1,
        "why_at_risk": explain(at_risk, Contact.objects.get(pk=contact.pk)).matches,
        "model": Contact.objects.get(pk=contact.pk).lifecycle,
    }


def test_time_passing_moves_the_contact_everywhere_at_once(buyer, make_client, admin_client, monkeypatch):
    api = make_client("contacts:read")
    now = shown_everywhere(buyer, api, admin_client)
    assert now["api"] == now["model"] == now["export"] == "active" and now["api_filter"] == ["active"]
    assert not now["admin_filter_at_risk"] and not now["segment_at_risk"] and not now["why_at_risk"]

    later(monkeypatch, 1)  # no purchase, no recompute: only the clock moved
    then = shown_everywhere(buyer, api, admin_client)
    assert then["api"] == then["model"] == then["export"] == "at_risk" and then["api_filter"] == ["at_risk"]
    assert then["admin_filter_at_risk"] and then["segment_at_risk"] and then["why_at_risk"]


def test_the_sql_case_is_built_from_the_per_stage_rules(monkeypatch):
    """Every contact gets exactly the stage whose condition it meets: the CASE and the filters agree."""
    now = timezone.now()
    for first, last in [(None, None), (5, 5), (200, 20), (200, 120), (400, 300)]:
        contact = ContactFactory()
        Contact.objects.filter(pk=contact.pk).update(
            first_purchase_at=first and now - dt.timedelta(days=first),
            last_purchase_at=last and now - dt.timedelta(days=last),
        )
    annotated = dict(with_lifecycle(Contact.objects.all(), now=now).values_list("pk", "lifecycle"))
    for stage in ORDER:
        members = set(Contact.objects.filter(lifecycle_q(stage, now=now)).values_list("pk", flat=True))
        assert members == {pk for pk, found in annotated.items() if found == stage}
    assert set(annotated.values()) == set(ORDER)
    assert Contact.objects.annotate(stage=lifecycle_case(now=now)).filter(stage__isnull=True).count() == 0


def test_the_admin_list_shows_the_stage_by_its_name(buyer, admin_client):
    page = admin_client.get("/admin/contacts/contact/").content.decode()
    assert "Active customer" in page
