"""The tallies the reports read (campaigns.tallies) always equal a count of the rows, whatever writes them: random
sequences of writes compared with a plain-Python recount, merges, erasure, deletions, the real tracking path,
and triggers put back after a migration dropped them."""

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import tallies, tracking
from campaigns.models import Campaign, CampaignTally, EmailTemplate, EventHour, Message, SentHour, TrackingEvent
from campaigns.services.lifecycle import campaign_cancel
from campaigns.tokens import message_token
from contacts.models import Contact
from contacts.services.removal import contact_delete, contact_erase, contact_merge
from tests.campaigns.tracked import tracked
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 27, 21, 30, tzinfo=dt.UTC)  # the night Israel's clocks go forward
STATES = [s.value for s in Message.Status]
NUMBERS = (
    *("recipients", "sent", "failed", "skipped", "held_out", "delivered", "bounced", "complaints", "unsubscribes"),
    *("unique_opens", "unique_clicks", "opens", "machine_opens", "clicks"),
)
HUMAN = tracking.Visitor(user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0", ip="198.51.100.7")


# ------------------------------------------------------------------ the reference: counting the rows in Python


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _event_key(event: TrackingEvent) -> str | None:
    """What an open or click counts as: opens, machine_opens or clicks (machine clicks count nowhere)."""
    if event.is_machine:
        return "machine_opens" if event.kind == "open" else None
    return f"{event.kind}s"


def counted(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, Counter] = {pk: Counter() for pk in campaign_ids}
    for m in Message.objects.filter(campaign_id__in=campaign_ids):
        c = counts[m.campaign_id]
        c["recipients"] += 1
        c[{"sent": "sent", "failed": "failed", "skipped": "skipped", "holdout": "held_out"}.get(m.status, "other")] += 1
        c["delivered"] += m.status == "sent" and m.bounced_at is None
        c["bounced"] += m.bounced_at is not None
        c["complaints"] += m.complained_at is not None
        c["unsubscribes"] += m.unsubscribed_at is not None
        c["unique_opens"] += m.first_opened_at is not None
        c["unique_clicks"] += m.first_clicked_at is not None
    for e in TrackingEvent.objects.filter(campaign_id__in=campaign_ids, kind__in=["open", "click"]):
        key = _event_key(e)
        if key:
            counts[e.campaign_id][key] += 1
    return {pk: {name: c[name] for name in NUMBERS} for pk, c in counts.items()}


def sent_hours() -> dict[dt.datetime, dict[str, int]]:
    hours: dict[dt.datetime, Counter] = {}
    for m in Message.objects.filter(status="sent", sent_at__isnull=False):
        c = hours.setdefault(_hour(m.sent_at), Counter())
        c["sent"] += 1
        c["bounced"] += m.bounced_at is not None
        c["opened"] += m.first_opened_at is not None
        c["clicked"] += m.first_clicked_at is not None
    return {hour: dict(c) for hour, c in hours.items()}


def tallied_sent_hours() -> dict[dt.datetime, dict[str, int]]:
    hours = {_hour(h) for h in SentHour.objects.values_list("hour", flat=True)}
    found = {h: tallies.sent_between(h, h + dt.timedelta(hours=1)) for h in hours}
    return {h: c for h, c in found.items() if any(c.values())}


def event_hours(campaign_id: int) -> list[dict]:
    hours: dict[dt.datetime, Counter] = {}
    for e in TrackingEvent.objects.filter(campaign_id=campaign_id, kind__in=["open", "click"]):
        key = _event_key(e)
        if key:
            hours.setdefault(_hour(e.occurred_at), Counter())[key] += 1
    return [
        {"hour": h, "opens": c["opens"], "machine_opens": c["machine_opens"], "clicks": c["clicks"]}
        for h, c in sorted(hours.items())
    ]


def assert_tallies_count_the_rows(campaign_ids: list[int]) -> None:
    assert tallies.campaign_counts(campaign_ids) == counted(campaign_ids)
    assert {h: {k: c.get(k, 0) for k in ("sent", "bounced", "opened", "clicked")} for h, c in sent_hours().items()} == (
        tallied_sent_hours()
    )
    for pk in campaign_ids:
        shown = [
            row
            for row in tallies.event_hours(pk, START - dt.timedelta(days=30))
            if row["opens"] or row["machine_opens"] or row["clicks"]
        ]
        assert [{**row, "hour": _hour(row["hour"])} for row in shown] == event_hours(pk)


# ------------------------------------------------------------------ random writes


@pytest.fixture
def two_campaigns():
    template = EmailTemplate.objects.create(name="T", subject="S", html="<p>x</p>")
    return [Campaign.objects.create(name=name, template=template) for name in ("Spring", "Summer")]


moments = st.builds(lambda minutes: START + dt.timedelta(minutes=minutes), st.integers(-90, 600))


def _write(data, messages: list[Message], campaigns: list[Campaign], contacts: list[Contact]) -> None:
    """One random write, as the app's code paths make them: a message, a state, a bounce, an open or a click,
    a set-based update of several messages, a deletion."""
    action = data.draw(st.sampled_from(["create", "state", "bounce", "react", "track", "bulk", "delete"]))
    if action == "create" or not messages:
        status = data.draw(st.sampled_from(STATES))
        messages.append(
            Message.objects.create(
                campaign=data.draw(st.sampled_from(campaigns)),
                contact=data.draw(st.sampled_from(contacts)),
                occurrence=max((m.occurrence for m in messages), default=-1) + 1,
                status=status,
                sent_at=data.draw(moments) if status == "sent" else data.draw(st.none() | moments),
            )
        )
        return
    message = data.draw(st.sampled_from(messages))
    if action == "state":
        Message.objects.filter(pk=message.pk).update(
            status=data.draw(st.sampled_from(STATES)), sent_at=data.draw(st.none() | moments)
        )
    elif action == "bounce":
        Message.objects.filter(pk=message.pk).update(bounced_at=data.draw(st.none() | moments))
    elif action == "react":
        field = data.draw(st.sampled_from(["complained_at", "unsubscribed_at"]))
        Message.objects.filter(pk=message.pk).update(**{field: data.draw(st.none() | moments)})
    elif action == "track":
        kind = data.draw(st.sampled_from([TrackingEvent.Kind.OPEN, TrackingEvent.Kind.CLICK]))
        tracked(message, kind, machine=data.draw(st.booleans()), at=data.draw(moments))
    elif action == "bulk":
        ids = [m.pk for m in messages if data.draw(st.booleans())]
        Message.objects.filter(pk__in=ids).update(status=data.draw(st.sampled_from(STATES)))
    else:
        messages.remove(message)
        message.delete()


@given(data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_tallies_count_the_rows_after_any_writes(two_campaigns, data):
    with transaction.atomic():
        try:
            contacts = ContactFactory.create_batch(3)
            messages: list[Message] = []
            for _n in range(data.draw(st.integers(1, 25))):
                _write(data, messages, two_campaigns, contacts)
            assert_tallies_count_the_rows([c.pk for c in two_campaigns])
        finally:
            transaction.set_rollback(True)


# ------------------------------------------------------------------ the app's own writes


def test_opens_and_clicks_through_the_tracking_code_are_tallied(two_campaigns):
    campaign = two_campaigns[0]
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)  # opened at once, it would look like a machine
    message = Message.objects.create(campaign=campaign, contact=ContactFactory(), status="sent", sent_at=an_hour_ago)
    link = campaign.links.create(url="https://shop.example.com/", url_hash="a")
    token = message_token(message.pk)
    tracking.record_open(token=token, visitor=HUMAN)
    tracking.record_open(token=token, visitor=HUMAN)
    tracking.record_open(token=token, visitor=tracking.Visitor(user_agent="Mozilla/5.0", ip="198.51.100.8"))
    tracking.record_click(token=token, link_id=link.pk, visitor=HUMAN)

    counts = tallies.campaign_counts([campaign.pk])[campaign.pk]

    assert counts == counted([campaign.pk])[campaign.pk]
    assert (counts["unique_opens"], counts["unique_clicks"], counts["clicks"]) == (1, 1, 1)
    assert (counts["opens"], counts["machine_opens"]) == (2, 1)


def test_a_merge_folds_the_duplicates_message_into_the_survivors_and_the_tallies_follow(two_campaigns):
    campaign = two_campaigns[0]
    survivor, duplicate = ContactFactory(), ContactFactory()
    now = timezone.now()
    kept = Message.objects.create(campaign=campaign, contact=survivor, status="sent", sent_at=now)
    dropped = Message.objects.create(campaign=campaign, contact=duplicate, status="sent", sent_at=now)
    tracked(dropped, TrackingEvent.Kind.OPEN)
    tracked(kept, TrackingEvent.Kind.CLICK)

    contact_merge(target=survivor, source=duplicate)

    assert Message.objects.filter(campaign=campaign).count() == 1
    assert_tallies_count_the_rows([campaign.pk])
    assert tallies.campaign_counts([campaign.pk])[campaign.pk]["unique_opens"] == 1


def test_a_cancel_skips_the_queued_mail_in_one_statement_and_the_tallies_follow(two_campaigns):
    campaign = two_campaigns[0]
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    for contact in ContactFactory.create_batch(5):
        Message.objects.create(campaign=campaign, contact=contact)
    campaign.refresh_from_db()

    campaign_cancel(campaign=campaign)

    counts = tallies.campaign_counts([campaign.pk])[campaign.pk]
    assert (counts["recipients"], counts["skipped"]) == (5, 5)
    assert_tallies_count_the_rows([campaign.pk])


def test_deleting_a_contact_takes_its_mail_out_of_the_tallies_and_erasing_one_keeps_it(two_campaigns):
    campaign = two_campaigns[0]
    gone, erased, stays = ContactFactory.create_batch(3)
    for contact in (gone, erased, stays):
        tracked(
            Message.objects.create(campaign=campaign, contact=contact, status="sent", sent_at=START), "open", at=START
        )

    contact_delete(contact=gone)
    contact_erase(contact=erased)

    assert tallies.campaign_counts([campaign.pk])[campaign.pk]["recipients"] == 2
    assert_tallies_count_the_rows([campaign.pk])


def test_a_deleted_campaign_leaves_no_tally_behind(two_campaigns):
    campaign, other = two_campaigns
    for c in (campaign, other):
        tracked(
            Message.objects.create(campaign=c, contact=ContactFactory(), status="sent", sent_at=START), "open", at=START
        )

    campaign.delete()

    assert not CampaignTally.objects.filter(campaign_id=campaign.pk).exists()
    assert not EventHour.objects.filter(campaign_id=campaign.pk).exists()
    assert tallies.sent_between(START - dt.timedelta(hours=1), START + dt.timedelta(hours=1))["sent"] == 1
    assert_tallies_count_the_rows([other.pk])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_opens_of_one_campaign_from_many_connections_at_once_are_all_tallied():
    template = EmailTemplate.objects.create(name="T", subject="S", html="<p>x</p>")
    campaign = Campaign.objects.create(name="Busy", template=template)
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    tokens = [
        message_token(Message.objects.create(campaign=campaign, contact=c, status="sent", sent_at=an_hour_ago).pk)
        for c in ContactFactory.create_batch(6)
    ]
    barrier = threading.Barrier(len(tokens))
    errors: list[Exception] = []

    def opens(token: str) -> None:
        try:
            barrier.wait()
            for _n in range(10):
                tracking.record_open(token=token, visitor=HUMAN)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=opens, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    counts = tallies.campaign_counts([campaign.pk])[campaign.pk]
    assert (counts["opens"], counts["unique_opens"]) == (60, 6)
    assert_tallies_count_the_rows([campaign.pk])


# ------------------------------------------------------------------ installing


def test_triggers_a_migration_dropped_are_put_back_and_the_tallies_recounted(two_campaigns):
    campaign = two_campaigns[0]
    assert not tallies.outdated(connection)
    tallies.uninstall(connection)
    Message.objects.create(campaign=campaign, contact=ContactFactory(), status="sent", sent_at=START)
    assert tallies.outdated(connection)

    tallies.install_after_migrate(sender=None, using=connection.alias)

    assert not tallies.outdated(connection)
    assert tallies.campaign_counts([campaign.pk])[campaign.pk]["sent"] == 1
    assert_tallies_count_the_rows([campaign.pk])
