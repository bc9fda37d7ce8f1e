"""Reads for campaign reports: the stats of CONTRACT §4 and §7, the progress of a send, the numbers of the
campaign list, opens and clicks over time, clicks per link, recipients with their status.

The counts come from the campaigns' tallies (`campaigns.tallies`), which the database keeps as messages and
tracking events are written: a campaign of a million messages costs what one of ten does, and there is no
Python loop over messages. Human and machine activity (privacy proxies, scanners, prefetch) are counted
apart; the rates use human activity only. The money and holdout numbers are `campaigns.reports.campaigns`'s,
from the counts made here.
"""

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Count,
    Expression,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, NullIf, TruncDay, TruncHour
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import tallies
from .models import Campaign, CampaignTally, EventHour, Link, Message, TrackingEvent
from .reports.campaigns import campaign_holdout, campaign_money, money_annotations, per_recipient
from .stats import HUMAN_CLICK, HUMAN_OPEN, MACHINE_OPEN, STATS, group_stats

OPEN, CLICK = TrackingEvent.Kind.OPEN, TrackingEvent.Kind.CLICK
RATE_DIGITS = 4
HOURLY_SPAN = dt.timedelta(hours=48)
MAX_DAYS = 90

STATS_FIELDS = tuple(stat.key for stat in STATS)
MAIL_FIELDS = tuple(stat.key for stat in group_stats("mail"))


def rate(part: int, whole: int) -> float | None:
    """A fraction 0..1 rounded to four digits; None when there is nothing to divide by."""
    if not whole:
        return None
    return round(min(part / whole, 1.0), RATE_DIGITS)


def _state_counts() -> dict[str, Count]:
    """How many of a campaign's messages are sent, failed, skipped and held out: the counts the stats and
    the progress bar share."""
    return {
        "sent": Count("pk", filter=Q(status=Message.Status.SENT)),
        "failed": Count("pk", filter=Q(status=Message.Status.FAILED)),
        "skipped": Count("pk", filter=Q(status=Message.Status.SKIPPED)),
        "held_out": Count("pk", filter=Q(status=Message.Status.HOLDOUT)),
    }


def _with_rates(stats: dict) -> dict:
    """The mail numbers (MAIL_FIELDS) with their rates."""
    stats.update(
        open_rate=rate(stats["unique_opens"], delivered(stats)),
        click_rate=rate(stats["unique_clicks"], delivered(stats)),
        click_to_open_rate=rate(stats["unique_clicks"], stats["unique_opens"]),
    )
    return {name: stats[name] for name in MAIL_FIELDS}


def campaign_stats(campaign: Campaign) -> dict:
    """The numbers of CONTRACT §4 and §7 (STATS_FIELDS) in four queries whatever the campaign's size: its
    tallies (messages by state, events by hour), its attributed money, the purchases of its holdout window.

    delivered = sent − bounced; open_rate = unique_opens / delivered; click_rate = unique_clicks /
    delivered; click_to_open_rate = unique_clicks / unique_opens. unique_opens counts messages with
    at least one human open, opens counts human open events, machine_opens the others. The money and
    holdout numbers and their formulas are `campaigns.reports.campaigns`'s.
    """
    counts = tallies.campaign_counts([campaign.pk])[campaign.pk]
    mail = _with_rates(dict(counts))
    count = delivered(mail)
    money = campaign_money(campaign)
    numbers = {
        **mail,
        **money,
        **per_recipient(money, delivered=count),
        **campaign_holdout(campaign, delivered=count, held_out=counts["held_out"]),
    }
    return {name: numbers[name] for name in STATS_FIELDS}


def campaigns_stats(campaign_ids: Collection[int]) -> dict[int, dict]:
    """The mail numbers (MAIL_FIELDS) of many campaigns at once (an automation's mail steps), by campaign id,
    from the same tallies as `campaign_stats`: two queries for them all. Money is
    `campaigns.reports.campaigns.campaigns_money` (one more query for them all); the holdout comparison of an
    automation is over its enrollments, not its step campaigns, so it is not here."""
    if not campaign_ids:
        return {}
    return {pk: _with_rates(counts) for pk, counts in tallies.campaign_counts(campaign_ids).items()}


def delivered(stats: dict) -> int:
    """Sent mail that did not bounce."""
    return max(stats["sent"] - stats["bounced"], 0)


def campaign_progress(campaign: Campaign) -> dict:
    """What the progress bar shows, in one query: counts by state, how many are done (sent, failed,
    skipped or held out) and what percentage of all that is, the send rate over the last minute, and the
    status (read again, so a page polling it sees the campaign finish)."""
    minute_ago = timezone.now() - dt.timedelta(minutes=1)
    counts = Message.objects.filter(campaign=campaign).aggregate(
        total=Count("pk"),
        **_state_counts(),
        queued=Count("pk", filter=Q(status__in=[Message.Status.QUEUED, Message.Status.CLAIMED])),
        last_minute=Count("pk", filter=Q(status=Message.Status.SENT, sent_at__gte=minute_ago)),
    )
    last_minute = counts.pop("last_minute")
    done = counts["sent"] + counts["failed"] + counts["skipped"] + counts["held_out"]
    campaign.refresh_from_db(fields=["status"])
    return {
        **counts,
        "done": done,
        "rate": round(last_minute / 60, 2),
        "status": campaign.status,
        "percent": round(100 * done / counts["total"], 1) if counts["total"] else 0.0,
    }


# ------------------------------------------------------------------ the campaign list


def _tallied(column: str) -> Coalesce:
    """A CampaignTally column of the campaign in the outer query (its shards summed), 0 when it has none."""
    rows = CampaignTally.objects.filter(campaign_id=OuterRef("pk")).order_by().values("campaign_id")
    return Coalesce(Subquery(rows.annotate(n=Sum(column)).values("n")[:1]), Value(0), output_field=IntegerField())


def _share(part: str, whole: str) -> Expression:
    """part / whole as a fraction, NULL when whole is 0."""
    return Cast(part, FloatField()) / NullIf(Cast(whole, FloatField()), 0.0)


LIST_COUNTS = {"delivered_count": "delivered", "opened_count": "unique_opens", "clicked_count": "unique_clicks"}


def with_list_numbers(campaigns: QuerySet) -> QuerySet:
    """`campaigns` annotated with the list's columns, so one query gives a page and any column sorts:
    sent, delivered, open_rate, click_rate (null when nothing was delivered), revenue and romi (as
    `campaigns.reports.campaigns.money_annotations` computes them)."""
    # Aliases, not columns: the database computes each only inside the rate that uses it.
    counts = {name: _tallied(column) for name, column in LIST_COUNTS.items()}
    money = money_annotations()
    return campaigns.alias(**counts).annotate(
        sent_count=_tallied("sent"),
        open_rate=_share("opened_count", "delivered_count"),
        click_rate=_share("clicked_count", "delivered_count"),
        revenue=money["revenue"],
        romi=money["romi"],
    )


# ------------------------------------------------------------------ over time


@dataclass
class Bucket:
    start: dt.datetime
    hours: int
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0


def _start(campaign: Campaign) -> dt.datetime | None:
    if campaign.started_at:
        return campaign.started_at
    first = (
        TrackingEvent.objects.filter(campaign=campaign)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return first


def opens_clicks_over_time(campaign: Campaign, bucket: str = "auto", *, now: dt.datetime | None = None) -> list:
    """Opens (human and machine) and human clicks per time bucket, gaps filled with zeros.

    bucket "hour" or "day" gives one size throughout; "auto" gives hours for the first 48 hours from the
    hour the campaign started in, when most mail is read, then days (at most 90 of them). Times are local.
    """
    start = _start(campaign)
    if start is None:
        return []
    now = max(now or timezone.now(), start)
    tz = timezone.get_current_timezone()
    first = _hour_of(start, tz)
    split = {"auto": first + HOURLY_SPAN, "hour": _hour_of(now, tz) + dt.timedelta(hours=1), "day": first}[bucket]
    hourly, daily = _bucket_counts(campaign, first, split, tz)
    series: list[Bucket] = []
    if split > first:
        hour = first
        while hour < min(split, now) or not series:
            series.append(_bucket(hourly, _local(hour, tz), hour, 1))
            hour += dt.timedelta(hours=1)
    if split <= now:
        day, last = _local(split, tz).date(), _local(now, tz).date()
        while day <= last and len(series) < MAX_DAYS + 48:
            midnight = dt.datetime.combine(day, dt.time())
            series.append(_bucket(daily, midnight, timezone.make_aware(midnight, tz), 24))
            day += dt.timedelta(days=1)
    return series


def _hour_of(moment: dt.datetime, tz) -> dt.datetime:
    """The start of the local hour `moment` falls in, in UTC."""
    return timezone.localtime(moment, tz).replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def _bucket_counts(campaign: Campaign, first: dt.datetime, split: dt.datetime, tz) -> tuple[dict, dict]:
    """The counts from `first` on, by local hour before `split` and by local day from it: the campaign's
    EventHour rows folded into local hours and days, or, in a zone whose hours are not whole UTC hours, its
    events counted one by one."""
    rows = tallies.event_hours(campaign.pk, first)
    hours = [_local(row["hour"], tz) for row in rows]
    if tallies.whole_hours(first, split) and all(local.minute == 0 for local in hours):
        names = tallies.tally_columns(EventHour)
        hourly: dict[dt.datetime, dict] = {}
        daily: dict[dt.datetime, dict] = {}
        for row, local in zip(rows, hours, strict=True):
            into, key = (hourly, local) if row["hour"] < split else (daily, dt.datetime.combine(local, dt.time()))
            totals = into.setdefault(key, dict.fromkeys(names, 0))
            for name in names:
                totals[name] += row[name]
        return hourly, daily
    events = TrackingEvent.objects.filter(campaign=campaign, kind__in=[OPEN, CLICK], occurred_at__gte=first)
    return (
        _counts(events.filter(occurred_at__lt=split), TruncHour("occurred_at", tzinfo=tz), tz),
        _counts(events.filter(occurred_at__gte=split), TruncDay("occurred_at", tzinfo=tz), tz),
    )


def _local(moment: dt.datetime, tz) -> dt.datetime:
    """Local wall-clock time without the zone: bucket keys that survive daylight-saving changes."""
    return timezone.localtime(moment, tz).replace(tzinfo=None)


def _counts(events: QuerySet, trunc, tz) -> dict:
    rows = (
        events.annotate(bucket=trunc)
        .values("bucket")
        .annotate(
            opens=Count("pk", filter=HUMAN_OPEN),
            clicks=Count("pk", filter=HUMAN_CLICK),
            machine_opens=Count("pk", filter=MACHINE_OPEN),
        )
        .order_by("bucket")
    )
    return {_local(row["bucket"], tz): row for row in rows}


def _bucket(counts: dict, key: dt.datetime, start: dt.datetime, hours: int) -> Bucket:
    row = counts.get(key, {})
    return Bucket(
        start=start,
        hours=hours,
        opens=row.get("opens", 0),
        clicks=row.get("clicks", 0),
        machine_opens=row.get("machine_opens", 0),
    )


# ------------------------------------------------------------------ links and recipients


def clicks_per_link(campaign: Campaign) -> QuerySet:
    """Each link of the campaign with its human clicks, distinct clickers and scanner clicks."""
    return (
        Link.objects.filter(campaign=campaign)
        .annotate(
            clicks=Count("events", filter=Q(events__kind=CLICK, events__is_machine=False)),
            unique_clicks=Count(
                "events__message", distinct=True, filter=Q(events__kind=CLICK, events__is_machine=False)
            ),
            machine_clicks=Count("events", filter=Q(events__kind=CLICK, events__is_machine=True)),
        )
        .order_by("-clicks", "pk")
    )


RECIPIENT_STATES = {
    "skipped": _("Skipped"),
    "held_out": _("Held out"),
    "failed": _("Failed"),
    "pending": _("Not sent yet"),
    "complained": _("Complained"),
    "bounced": _("Bounced"),
    "unsubscribed": _("Unsubscribed"),
    "clicked": _("Clicked"),
    "opened": _("Opened"),
    "delivered": _("Delivered"),
}
# What happened to one message, most telling first: a complaint outranks a click, a click an open. The first
# rule a message meets names its state; one that meets none was delivered.
STATE_RULES: tuple[tuple[str, Q], ...] = (
    ("skipped", Q(status=Message.Status.SKIPPED)),
    ("held_out", Q(status=Message.Status.HOLDOUT)),
    ("failed", Q(status=Message.Status.FAILED)),
    ("pending", ~Q(status=Message.Status.SENT)),
    ("complained", Q(complained_at__isnull=False)),
    ("bounced", Q(bounced_at__isnull=False)),
    ("unsubscribed", Q(unsubscribed_at__isnull=False)),
    ("clicked", Q(first_clicked_at__isnull=False)),
    ("opened", Q(first_opened_at__isnull=False)),
)
RECIPIENT_STATE = Case(
    *(When(rule, then=Value(state)) for state, rule in STATE_RULES),
    default=Value("delivered"),
    output_field=CharField(),
)


def _in_state(state: str) -> Q:
    """The messages in `state` (one of RECIPIENT_STATES): its rule and none of those before it, as conditions on
    the columns. Filtering on the `state` annotation instead would be one expression no index serves, so a rare
    state of a big campaign would read every message to find its few."""
    earlier = Q()
    for name, rule in STATE_RULES:
        if name == state:
            return rule & earlier
        earlier &= ~rule
    return earlier


def campaign_recipients(campaign: Campaign, *, state: str | None = None) -> QuerySet:
    """The campaign's messages with their contact and a `state` column, newest id first.

    Filter with `state` (one of RECIPIENT_STATES); page with keyset pagination on the id: the query
    never needs a COUNT over a big campaign.
    """
    qs = (
        Message.objects.filter(campaign=campaign)
        .select_related("contact")
        .annotate(state=RECIPIENT_STATE)
        .order_by("-pk")
    )
    if state in RECIPIENT_STATES:
        qs = qs.filter(_in_state(state))
    return qs


def _state_bounds(stats: dict) -> dict[str, int]:
    """At most how many messages each state can have, from a campaign's stats (its tallies): a message in a state
    meets that state's rule, which the tallied number counts. Where the bound is 0 the state is empty, and its
    page needs no query; "delivered", the rest, is always looked for."""
    settled = stats["sent"] + stats["failed"] + stats["skipped"] + stats["holdout_size"]
    return {
        "skipped": stats["skipped"],
        "held_out": stats["holdout_size"],
        "failed": stats["failed"],
        "pending": stats["recipients"] - settled,
        "complained": stats["complaints"],
        "bounced": stats["bounced"],
        "unsubscribed": stats["unsubscribes"],
        "clicked": stats["unique_clicks"],
        "opened": stats["unique_opens"],
    }


def recipients_page(
    campaign: Campaign,
    *,
    before: int | None = None,
    state: str | None = None,
    size: int = 50,
    stats: dict | None = None,
) -> tuple[list, int | None]:
    """One page of recipients and the id to continue from (None on the last page). With the campaign's `stats`
    (`campaign_stats`), a state they show empty is answered without a query."""
    if stats is not None and state and _state_bounds(stats).get(state, 1) <= 0:
        return [], None
    qs = campaign_recipients(campaign, state=state)
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].pk if more and rows else None)
