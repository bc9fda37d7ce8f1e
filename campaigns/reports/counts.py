"""Counts the database keeps of contacts, anonymous visitors and channel revenue, so the audience KPIs and channel
ROMI read a few thousand rows instead of a million contacts, a year of events or a year of purchases.

Written by database triggers only (`campaigns.reports.triggers`, on PostgreSQL and SQLite alike): whatever writes
a contact, an event, a visitor identity, a purchase or an attribution — the services, bulk ingestion's
UPDATE … FROM, the CSV import, a merge, an erasure, the admin, raw SQL, COPY — the same statement appends the
difference to these tables, so they cannot drift from the rows they count. Appending (never updating a shared
row) keeps concurrent ingestions from queueing on a hot counter; `folding.counts_fold`, a periodic job, adds the
appended rows up. A figure is always the sum of its rows, folded or not.

The tables are not Django-managed: a test database's flush empties the counted tables (whose triggers then count
the removal, or on PostgreSQL's TRUNCATE clear these), and emptying these tables on their own would break the
sums. The contacts' purchase days are UTC days; the other counts' days are TIME_ZONE days on PostgreSQL and UTC
days on SQLite (`triggers.counts_zone`): `audience.py` and `spend.py` read the hours of a period outside whole
days of the counts from the counted tables themselves.
"""

from django.db import models

from contacts.models import Activity

# The events that make a contact a promoter (CONTRACT §8), as the KPIs read them and the triggers count them.
PROMOTER_EVENTS = (Activity.Type.REVIEW, Activity.Type.REFERRAL)
# A member's day before is stored only when it is at most this many days earlier (as the triggers write it), so a
# period of up to this many days reads its distinct members from the counts.
LONG_GAP_DAYS = 400


class AudienceCount(models.Model):
    """Contacts not erased, by funnel stage, consent to email or SMS, and the days of their first and last
    purchase.

    A purchase date is stored as the UTC midnight that starts its day: the contacts of a row bought at some
    instant of that day. The fold coarsens the days too old to matter to the lifecycle rule
    (`contacts.lifecycle.lifecycle_thresholds`): a `*_clamped` row counts contacts whose date is before the
    day after the one stored, and keeps the table to a few thousand rows, however many buyers there are."""

    funnel_stage = models.PositiveSmallIntegerField()
    consenting = models.BooleanField()
    first_purchase_at = models.DateTimeField(null=True)
    first_clamped = models.BooleanField(default=False)
    last_purchase_at = models.DateTimeField(null=True)
    last_clamped = models.BooleanField(default=False)
    n = models.IntegerField()

    objects = models.Manager()

    class Meta:
        managed = False
        db_table = "reports_audiencecount"

    def __str__(self) -> str:
        return f"{self.funnel_stage} {self.consenting} {self.first_purchase_at} {self.last_purchase_at}: {self.n}"


class SignupCount(models.Model):
    """Contacts (erased ones too) by the UTC day of their sign-up and their source."""

    day = models.DateField()
    source = models.CharField(max_length=20)
    n = models.IntegerField()

    objects = models.Manager()

    class Meta:
        managed = False
        db_table = "reports_signupcount"
        indexes = [models.Index(fields=["day"], name="signupcount_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.source}: {self.n}"


class DistinctDay(models.Model):
    """A UTC day on which a member of a kind was seen — `anonymous`: an anonymous id with an event linked to no
    contact and no visitor identity; `promoter`: a contact (its id as text) with a review or referral event — and
    the member's day before it (None when there is none, or more than LONG_GAP_DAYS before)."""

    kind = models.CharField(max_length=10)
    member = models.CharField(max_length=100)
    day = models.DateField()
    prev_day = models.DateField(null=True)

    objects = models.Manager()

    class Meta:
        managed = False
        db_table = "reports_distinctday"
        indexes = [models.Index(fields=["kind", "member", "day"], name="distinctday_member_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.member} {self.day}"


class DistinctCount(models.Model):
    """`DistinctDay` rows counted by kind, day and day before. The members seen in days [first, stop) are those
    rows of these days whose day before is None or before `first`: each member once, on its first day there."""

    kind = models.CharField(max_length=10)
    day = models.DateField()
    prev_day = models.DateField(null=True)
    n = models.IntegerField()

    objects = models.Manager()

    class Meta:
        managed = False
        db_table = "reports_distinctcount"
        indexes = [models.Index(fields=["kind", "day"], name="distinctcount_day_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.day} {self.prev_day}: {self.n}"


class ChannelCount(models.Model):
    """Purchases and their revenue by day and ROMI channel (`spend.py`): `email` for a purchase a mail has the
    credit of, else its utm_source in lower case; a purchase with neither is not counted."""

    day = models.DateField()
    channel = models.CharField(max_length=100)
    n = models.IntegerField()
    revenue = models.DecimalField(max_digits=16, decimal_places=2)

    objects = models.Manager()

    class Meta:
        managed = False
        db_table = "reports_channelcount"
        indexes = [models.Index(fields=["day"], name="channelcount_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}: {self.n}"
