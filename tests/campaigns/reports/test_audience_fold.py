"""Folding the appended counts (campaigns.reports.folding): the figures stay those of the rows, old purchase days
are coarsened, a moment or a setting the coarsened counts cannot answer for falls back to the rows, and the
triggers come back after a migrate that lost them. Random contacts around every threshold and midnight check the
lifecycle arithmetic against the rule itself."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.db import connection, transaction
from django_celery_beat.models import PeriodicTask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.reports import audience as audience_module
from campaigns.reports import triggers
from campaigns.reports.audience import audience_now, audience_scan, distinct_members
from campaigns.reports.counts import AudienceCount
from campaigns.reports.folding import counts_fold
from campaigns.reports.period import Period
from campaigns.reports.tasks import FOLD_TASK, fold_counts_task
from contacts.models import Activity, Contact
from tests.factories import ActivityFactory, ContactFactory

from .test_audience_counts import NOW, assert_counts_exact, at, buyer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def buyers():
    """Buyers whose first and last purchases lie a day apart over two years."""
    return [buyer(700 - 7 * n, 600 - 6 * n) for n in range(100)]


def test_a_fold_adds_the_rows_up_and_coarsens_the_old_days(buyers):
    appended = AudienceCount.objects.count()
    sizes = counts_fold(now=NOW)
    assert sizes["reports_audiencecount"] < appended / 3
    assert AudienceCount.objects.filter(first_clamped=True, last_clamped=True).count() == 1
    assert AudienceCount.objects.filter(first_clamped=False, first_purchase_at__lt=at(33)).count() == 0
    assert_counts_exact()


def test_a_moment_before_the_fold_reads_every_contact_instead(buyers):
    counts_fold(now=NOW)
    earlier, later = NOW - dt.timedelta(days=300), NOW + dt.timedelta(days=3)
    with mock.patch.object(audience_module, "audience_scan", wraps=audience_scan) as scan:
        figures = audience_now(now=earlier), audience_now(now=later)
    assert figures == (audience_scan(now=earlier), audience_scan(now=later))
    assert [call.kwargs["now"] for call in scan.call_args_list] == [earlier]


def test_new_lifecycle_settings_make_the_next_fold_recount(buyers, settings):
    counts_fold(now=NOW)
    settings.LIFECYCLE_AT_RISK_DAYS = 400
    assert AudienceCount.objects.filter(audience_module.straddling(NOW)).exists()
    counts_fold(now=NOW)
    assert not AudienceCount.objects.filter(audience_module.straddling(NOW)).exists()
    assert audience_now(now=NOW) == audience_scan(now=NOW)


def test_the_fold_is_a_job_that_runs_every_minute(buyers):
    job = PeriodicTask.objects.get(task=FOLD_TASK)
    assert (job.interval.every, job.interval.period) == (60, "seconds")
    assert fold_counts_task.apply().get()["reports_audiencecount"] == AudienceCount.objects.count()


def test_triggers_lost_by_a_migration_come_back_with_a_recount(buyers):
    with connection.cursor() as cursor:
        for statement in triggers.dialect(connection).uninstall_statements():
            cursor.execute(statement)
    ContactFactory(email_opt_in=True)  # written while nothing counts
    live = Contact.objects.filter(erased_at__isnull=True).count()
    assert triggers.outdated(connection)
    assert audience_now(now=NOW).contacts == live - 1
    triggers.install_after_migrate(sender=None, using=connection.alias)
    assert not triggers.outdated(connection)
    assert audience_now(now=NOW).contacts == live
    assert_counts_exact()


def test_a_new_time_zone_has_the_days_counted_again_in_it(buyers, settings):
    ActivityFactory(contact=None, anonymous_id="v-1", occurred_at=at(1, 11.5))
    ActivityFactory(type=Activity.Type.REFERRAL, occurred_at=at(2, 11.5))
    settings.TIME_ZONE = "America/New_York"
    assert_counts_exact()  # still counted by the old zone's days: the periods are split by them
    triggers.install_after_migrate(sender=None, using=connection.alias)
    expected = "UTC" if connection.vendor == "sqlite" else "America/New_York"
    assert str(triggers.counts_zone(connection)) == expected
    assert_counts_exact()


# ------------------------------------------------------------------ random contacts around every edge

HOURS = st.sampled_from([0, 0.01, 2, 9.99, 10, 10.01, 11.99, 12, 12.01, 14, 23.99])
DAYS = st.sampled_from([0, 1, 2, 29, 30, 31, 33, 89, 90, 91, 92, 179, 180, 181, 182, 183, 184, 400])


@st.composite
def instants(draw) -> dt.datetime:
    return at(draw(DAYS), draw(HOURS))


@given(
    data=st.data(),
    fold_days=st.lists(st.sampled_from([0, 1, 5, 40]), max_size=2),
    read_days=st.sampled_from([0, 0.5, 1, 10, 60]),
)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_contacts_are_counted_as_the_rule_says(data, fold_days, read_days):
    with transaction.atomic():
        for _n in range(data.draw(st.integers(1, 8))):
            first, last = sorted([data.draw(instants()), data.draw(instants())])
            ContactFactory(
                first_purchase_at=first if data.draw(st.integers(0, 5)) else None,
                last_purchase_at=last if data.draw(st.integers(0, 5)) else None,
                funnel_stage=data.draw(st.integers(0, 4)),
                email_opt_in=data.draw(st.booleans()),
            )
            if data.draw(st.booleans()):
                ActivityFactory(contact=None, anonymous_id=f"v-{_n % 3}", occurred_at=data.draw(instants()))
                ActivityFactory(type=Activity.Type.REVIEW, occurred_at=data.draw(instants()))
        for days in sorted(fold_days, reverse=True):
            counts_fold(now=NOW - dt.timedelta(days=days))
        moment = NOW - dt.timedelta(days=read_days)
        assert audience_now(now=moment) == audience_scan(now=moment)
        end = moment.date()
        for length in (1, 31, 366):
            period = Period(end - dt.timedelta(days=length - 1), end)
            for kind in ("anonymous", "promoter"):
                start, stop = period.bounds()
                events = Activity.objects.filter(occurred_at__gte=start, occurred_at__lt=stop)
                if kind == "anonymous":
                    expected = events.filter(contact__isnull=True).values("anonymous_id").distinct().count()
                else:
                    expected = events.filter(type__in=["review", "referral"]).values("contact_id").distinct().count()
                assert distinct_members(kind, period) == expected
        transaction.set_rollback(True)
