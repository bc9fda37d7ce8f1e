import datetime as dt

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns import audience, selectors, sending, services
from campaigns.models import Campaign, Message
from campaigns.outbox import Outbox
from contacts.models import Contact, EmailStatus
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def received(outbox=None) -> list[str]:
    return sorted(address for m in (outbox or django_mail.outbox) for address in m.to)


def test_it_sends_one_mail_to_each_recipient_and_finishes(make_campaign, run_campaign):
    contacts = ContactFactory.create_batch(5)
    campaign = run_campaign(make_campaign(contacts))
    assert received() == sorted(c.email for c in contacts)
    assert campaign.status == Campaign.Status.SENT and campaign.finished_at is not None
    assert set(campaign.messages.values_list("status", flat=True)) == {Message.Status.SENT}
    assert all(m.message_id.startswith("<") for m in campaign.messages.all())


def test_snapshot_twice_adds_no_one_twice(make_campaign):
    contacts = ContactFactory.create_batch(4)
    campaign = make_campaign(contacts)
    assert audience.snapshot(campaign) == 4
    assert audience.snapshot(campaign) == 0
    assert campaign.messages.count() == 4


def test_it_excludes_contacts_of_the_exclusion_segments(make_campaign, run_campaign):
    stay, excluded = ContactFactory.create_batch(3), ContactFactory.create_batch(2)
    campaign = run_campaign(make_campaign(stay + excluded, exclude=excluded))
    assert received() == sorted(c.email for c in stay)
    assert campaign.messages.count() == 3


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"email_status": EmailStatus.UNSUBSCRIBED}, Message.SkipReason.UNSUBSCRIBED),
        ({"email_status": EmailStatus.BOUNCED}, Message.SkipReason.BOUNCED),
        ({"email_status": EmailStatus.COMPLAINED}, Message.SkipReason.COMPLAINED),
        ({"email_opt_in": False}, Message.SkipReason.NO_CONSENT),
        ({"email": None}, Message.SkipReason.NO_EMAIL),
        ({"erased_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}, Message.SkipReason.ERASED),
    ],
)
def test_a_contact_that_lost_consent_after_the_snapshot_is_skipped_with_the_reason(
    make_campaign, run_campaign, django_capture_on_commit_callbacks, settings, change, reason
):
    settings.CAMPAIGN_SEND_CONCURRENCY = 1
    ok, gone = ContactFactory(), ContactFactory()
    campaign = make_campaign([ok, gone])
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    audience.snapshot(campaign)
    Contact.objects.filter(pk=gone.pk).update(**change)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_resume(campaign=campaign)
    assert received() == [ok.email]
    skipped = Message.objects.get(campaign=campaign, contact=gone)
    assert (skipped.status, skipped.skip_reason) == (Message.Status.SKIPPED, reason)


def test_the_frequency_cap_counts_mails_of_other_campaigns(make_campaign, run_campaign, settings):
    settings.FREQUENCY_CAP_COUNT, settings.FREQUENCY_CAP_DAYS = 2, 7
    busy, quiet, long_ago = ContactFactory(), ContactFactory(), ContactFactory()
    for days in (1, 2):
        run_campaign(make_campaign([busy], name=f"Earlier {days}"))
    old = run_campaign(make_campaign([long_ago], name="Old one"))
    old.messages.update(sent_at=timezone.now() - dt.timedelta(days=8))
    run_campaign(make_campaign([long_ago], name="Old two"))
    old.messages.update(sent_at=timezone.now() - dt.timedelta(days=9))
    django_mail.outbox.clear()

    campaign = make_campaign([busy, quiet, long_ago], name="Capped")
    assert services.campaign_recipient_count(campaign=campaign) == {"total": 3, "eligible": 2}
    run_campaign(campaign)

    assert received() == sorted([quiet.email, long_ago.email])
    capped = Message.objects.get(campaign=campaign, contact=busy)
    assert capped.skip_reason == Message.SkipReason.FREQUENCY_CAP


def test_recipient_count_leaves_out_those_without_consent(make_campaign):
    contacts = ContactFactory.create_batch(3) + [
        ContactFactory(email_opt_in=False),
        ContactFactory(email_status=EmailStatus.BOUNCED),
    ]
    campaign = make_campaign(contacts)
    assert services.campaign_recipient_count(campaign=campaign) == {"total": 5, "eligible": 3}


CONTACT_STATES = st.fixed_dictionaries(
    {
        "email": st.booleans(),
        "email_opt_in": st.booleans(),
        "email_status": st.sampled_from(list(EmailStatus.values)),
        "erased": st.booleans(),
        "excluded": st.booleans(),
    }
)


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states=st.lists(CONTACT_STATES, min_size=1, max_size=8))
def test_only_consenting_active_contacts_ever_receive_a_campaign(states, make_campaign, run_campaign):
    from django.db import transaction

    django_mail.outbox.clear()
    with transaction.atomic():
        contacts = [
            ContactFactory(
                **({} if s["email"] else {"email": None}),
                email_opt_in=s["email_opt_in"],
                email_status=s["email_status"],
            )
            for s in states
        ]
        campaign = make_campaign(contacts, exclude=[c for c, s in zip(contacts, states, strict=True) if s["excluded"]])
        erased = [c.pk for c, s in zip(contacts, states, strict=True) if s["erased"]]
        Contact.objects.filter(pk__in=erased).update(erased_at=timezone.now())
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
        services.campaign_dispatch(campaign_id=campaign.pk)
        sending.send_batches(campaign_id=campaign.pk)
        expected = sorted(
            c.email
            for c, s in zip(contacts, states, strict=True)
            if s["email"]
            and s["email_opt_in"]
            and s["email_status"] == EmailStatus.ACTIVE
            and not s["erased"]
            and not s["excluded"]
        )
        assert received() == expected
        transaction.set_rollback(True)


def test_resume_after_a_crash_sends_no_duplicate(
    make_campaign, run_campaign, django_capture_on_commit_callbacks, settings
):
    settings.CAMPAIGN_BATCH_SIZE = 3
    contacts = ContactFactory.create_batch(8)
    campaign = make_campaign(contacts)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    audience.snapshot(campaign)
    first = list(campaign.messages.order_by("id"))[:3]
    sending.send_batch(campaign, *sending.claim(campaign.pk, after=0, size=3), Outbox())
    ids, stamp = sending.claim(campaign.pk, after=first[-1].pk, size=3)  # a worker dies holding this batch
    assert len(ids) == 3
    Message.objects.filter(id__in=ids).update(claimed_at=stamp - sending.claim_lease() - dt.timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_resume(campaign=campaign)
    run_campaign(campaign, action=lambda campaign: None)

    assert received() == sorted(c.email for c in contacts)
    assert campaign.status == Campaign.Status.SENT


def test_a_claim_taken_over_by_another_worker_is_not_sent_again(make_campaign, settings):
    contacts = ContactFactory.create_batch(2)
    campaign = make_campaign(contacts)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    audience.snapshot(campaign)
    ids, stale = sending.claim(campaign.pk, after=0, size=2)
    sending.release_claims(campaign.pk)
    ids_again, fresh = sending.claim(campaign.pk, after=0, size=2)
    sending.send_batch(campaign, ids_again, fresh, Outbox())
    assert sending.send_batch(campaign, ids, stale, Outbox()) == 0
    assert len(django_mail.outbox) == 2


def test_pause_stops_sending_and_resume_finishes(
    make_campaign, run_campaign, settings, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_BATCH_SIZE = 2
    contacts = ContactFactory.create_batch(6)
    campaign = make_campaign(contacts)
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_start(campaign=campaign)
    services.campaign_dispatch(campaign_id=campaign.pk)
    sending.send_batch(campaign, *sending.claim(campaign.pk, after=0, size=2), Outbox())
    services.campaign_pause(campaign=campaign)

    assert sending.send_batches(campaign_id=campaign.pk).more is False
    assert len(django_mail.outbox) == 2
    assert selectors.campaign_progress(campaign)["queued"] == 4

    run_campaign(campaign, action=services.campaign_resume)
    assert received() == sorted(c.email for c in contacts)
    assert campaign.status == Campaign.Status.SENT


def test_cancel_skips_whatever_is_still_queued(make_campaign, django_capture_on_commit_callbacks):
    campaign = make_campaign(ContactFactory.create_batch(3))
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_start(campaign=campaign)
    services.campaign_dispatch(campaign_id=campaign.pk)
    services.campaign_cancel(campaign=campaign)

    assert sending.send_batches(campaign_id=campaign.pk).more is False
    assert django_mail.outbox == []
    assert set(campaign.messages.values_list("skip_reason", flat=True)) == {Message.SkipReason.CANCELLED}
    with pytest.raises(ValidationError):
        services.campaign_resume(campaign=campaign)


def test_progress_counts_each_state_and_the_rate(make_campaign, run_campaign):
    contacts = ContactFactory.create_batch(3) + [ContactFactory(email_opt_in=False)]
    campaign = run_campaign(make_campaign(contacts))
    progress = selectors.campaign_progress(campaign)
    assert {k: progress[k] for k in ("total", "sent", "failed", "skipped", "queued")} == {
        "total": 4,
        "sent": 3,
        "failed": 0,
        "skipped": 1,
        "queued": 0,
    }
    assert progress["rate"] == pytest.approx(3 / 60, abs=0.01)
    assert progress["percent"] == 100.0


def test_a_campaign_scheduled_for_later_waits_for_its_time(make_campaign, run_campaign):
    campaign = make_campaign(ContactFactory.create_batch(2), scheduled_at=timezone.now() + dt.timedelta(hours=1))
    campaign = run_campaign(campaign)
    assert campaign.status == Campaign.Status.SCHEDULED
    assert django_mail.outbox == []

    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - dt.timedelta(seconds=1))
    run_campaign(campaign, action=lambda campaign: services.campaigns_start_due())
    assert campaign.status == Campaign.Status.SENT and len(django_mail.outbox) == 2


def test_a_campaign_that_is_sending_cannot_be_started_or_edited_again(make_campaign, run_campaign):
    campaign = run_campaign(make_campaign(ContactFactory.create_batch(1)))
    with pytest.raises(ValidationError):
        services.campaign_start(campaign=campaign)
    with pytest.raises(ValidationError):
        services.campaign_update(campaign=campaign, name="Renamed")
    assert len(django_mail.outbox) == 1


class PausedClock:
    """The sender's clock, moved only by its pauses: a batch takes no time, however busy the machine."""

    def __init__(self) -> None:
        self.now, self.pauses = 1000.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_the_rate_limit_spreads_the_batches(make_campaign, run_campaign, settings, monkeypatch):
    settings.CAMPAIGN_SEND_RATE, settings.CAMPAIGN_SEND_CONCURRENCY, settings.CAMPAIGN_BATCH_SIZE = 4, 1, 2
    clock = PausedClock()
    monkeypatch.setattr(sending, "time", clock)
    run_campaign(make_campaign(ContactFactory.create_batch(4)))
    assert clock.pauses == [0.5, 0.5]  # 2 mails a batch at 4 mails/s
