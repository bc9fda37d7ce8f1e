"""Automations benchmark on PostgreSQL: a date trigger's daily enrollment, a burst of segment entries run by
two Celery workers on Redis, and the engine's tick with a million enrollments waiting.

Run against a database seeded at scale, with a Redis on loopback, e.g.:

    DATABASE_URL=postgres://… .venv/bin/python manage.py seed_demo --contacts 1000000
    redis-server --port 6392 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes
    DATABASE_URL=postgres://… REDIS_URL=redis://127.0.0.1:6392/0 .venv/bin/python benchmarks/bench_flows.py
    # options: --sections date,burst,tick --burst 100000 --waiting 1000000 --ticks 50 --max-minutes 30

Set-up, not timed: enrollments waiting throughout (--waiting), and a list and a sent campaign of 200,000
each ("bench history", made once and kept) so that tables have their usual size. Everything else it makes
is named "bench flows …" and is removed at the start of the next run. QUIET_HOURS is emptied so that mail
steps run whatever the hour of the run; mail goes to a local SMTP sink. Figures are printed, not judged.
"""

import argparse
import datetime as dt
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

from benchmarks.bench_send import free_port, peak_rss_mb, run_sink, start_workers, stop  # noqa: E402

BENCH = "bench flows"
WAITING = f"{BENCH} · waiting"
HISTORY = "bench history"  # kept from run to run
WAITING_DAYS = 30


# ------------------------------------------------------------------ set-up and clean-up


def sql(statement: str, params: list | tuple = ()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def clean() -> None:
    """Remove every flow, segment, campaign and tag an earlier run made (raw deletes: a cascade through
    Django's collector would load a million enrollments into memory)."""
    from campaigns.flows.models import Flow
    from campaigns.models import Campaign
    from segments.models import Segment

    flows = list(Flow.objects.filter(name__startswith=BENCH).values_list("pk", flat=True))
    campaigns = list(Campaign.objects.filter(flow_mail__flow_id__in=flows).values_list("pk", flat=True)) + list(
        Campaign.objects.filter(name__startswith=BENCH).values_list("pk", flat=True)
    )
    if flows:
        sql("DELETE FROM flows_steprun WHERE flow_id = ANY(%s)", [flows])
        sql("DELETE FROM flows_enrollment WHERE flow_id = ANY(%s)", [flows])
        sql("DELETE FROM flows_flowmail WHERE flow_id = ANY(%s)", [flows])
    if campaigns:
        sql("DELETE FROM campaigns_message WHERE campaign_id = ANY(%s)", [campaigns])
        Campaign.objects.filter(pk__in=campaigns).delete()
    Flow.objects.filter(pk__in=flows).delete()
    segments = list(Segment.objects.filter(name__startswith=BENCH).values_list("pk", flat=True))
    if segments:
        sql("DELETE FROM segments_segmentmembership WHERE segment_id = ANY(%s)", [segments])
        Segment.objects.filter(pk__in=segments).delete()
    sql("DELETE FROM contacts_contact_tags WHERE tag_id IN (SELECT id FROM contacts_tag WHERE name LIKE 'bench-%%')")


def ensure_history(size: int = 200_000) -> None:
    """What a database in use already holds, so that the planner meets tables of their usual size: a list
    of `size` members and a sent campaign of as many messages (set-up, made once and kept)."""
    from django.utils import timezone

    from campaigns.audience import snapshot
    from campaigns.models import Campaign, Message
    from campaigns.services import campaign_create
    from segments.models import Segment
    from segments.services import segment_create

    segment = Segment.objects.filter(name=HISTORY).first()
    if segment is None:
        segment = segment_create(name=HISTORY, kind=Segment.Kind.STATIC, refresh=False)
        sql(
            "INSERT INTO segments_segmentmembership (segment_id, contact_id, joined_at) "
            "SELECT %s, id, now() FROM contacts_contact ORDER BY id LIMIT %s",
            [segment.pk, size],
        )
    if not Campaign.objects.filter(name=HISTORY).exists():
        campaign = campaign_create(name=HISTORY, template=template(), segments=[segment])
        snapshot(campaign)
        Message.objects.filter(campaign=campaign).update(status=Message.Status.SENT, sent_at=timezone.now())
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT)
    for table in ("segments_segmentmembership", "campaigns_message", "contacts_contact_tags"):
        sql(f"ANALYZE {table}")


def make_flow(name: str, trigger: dict, steps: list, **fields):
    from campaigns.flows.services import flow_activate, flow_create

    return flow_activate(flow=flow_create(name=f"{BENCH} · {name}", trigger=trigger, steps=steps, **fields))


def pause_bench_flows() -> None:
    """Each section's flows stop when it ends (the enrollments waiting throughout stay as they are)."""
    from campaigns.flows.models import Flow

    flows = Flow.objects.filter(name__startswith=BENCH, status=Flow.Status.ACTIVE).exclude(name=WAITING)
    flows.update(status=Flow.Status.PAUSED)


def template():
    from campaigns.models import EmailTemplate
    from campaigns.services import template_create

    return EmailTemplate.objects.filter(name=BENCH).first() or template_create(
        name=BENCH,
        language="he",
        subject="ברוכים הבאים {{ contact.first_name|default:'חבר' }}",
        html='<h1>שלום {{ contact.first_name|default:"חבר" }}</h1><p>טוב שהצטרפת.</p>'
        '<p><a href="https://shop.example.com/new">לחנות</a></p>',
    )


def rss_mb() -> float:
    return peak_rss_mb(os.getpid())


# ------------------------------------------------------------------ (a) a date trigger's daily run


def bench_date() -> None:
    """A birthday flow: the daily job that enrolls today's birthdays, then the same job again (a no-op)."""
    from django.utils import timezone

    from campaigns.flows.models import Enrollment
    from campaigns.flows.triggers import enroll_date_flows

    pause_bench_flows()
    flow = make_flow(
        "birthday",
        {"type": "date", "field": "birthday", "offset_days": 0, "time": "09:00"},
        [{"type": "add_tag", "tag": "bench-birthday"}],
    )
    today = timezone.localdate()
    for label in ("first run", "second run (already enrolled)"):
        started = time.perf_counter()
        enrolled = enroll_date_flows(today)
        elapsed = time.perf_counter() - started
        print(f"date trigger (birthday, {today}), {label}: {enrolled:,} enrolled in {elapsed:.2f} s")
    assert Enrollment.objects.filter(flow=flow).count() >= enrolled
    pause_bench_flows()


# ------------------------------------------------------------------ (b) a burst of segment entries


def tag_contacts(name: str, size: int) -> None:
    """The first `size` contacts get the tag (set-up, not timed: written directly, so no hook fires)."""
    from contacts.models import Contact
    from contacts.services import tags_get_or_create

    tag = tags_get_or_create([name])[0]
    Contact.tags.through.objects.filter(tag=tag).delete()
    sql(
        "INSERT INTO contacts_contact_tags (contact_id, tag_id) SELECT id, %s FROM contacts_contact "
        "WHERE erased_at IS NULL ORDER BY id LIMIT %s",
        [tag.pk, size],
    )
    sql("ANALYZE contacts_contact_tags")  # as autovacuum would have by the time a segment is refreshed


class Beat(threading.Thread):
    """What beat does for automations: the engine's tick and the segment-entry job, every minute."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        from crm.celery import app

        while not self.stopped.is_set():
            app.send_task("campaigns.flows.tasks.flows_tick")
            app.send_task("campaigns.flows.tasks.flows_segment_entries")
            self.stopped.wait(60)


def make_burst_flow(first_step: dict):
    """A flow on a new segment of the contacts tagged for this burst (none yet): first step, wait, again."""
    from segments.services import segment_create

    kind = first_step["type"]
    segment = segment_create(
        name=f"{BENCH} · burst {kind}", rules={"field": "tag", "op": "has", "value": f"bench-burst-{kind}"}
    )
    flow = make_flow(
        f"burst {kind}",
        {"type": "segment_entered", "segment": segment.pk},
        [first_step, {"type": "wait", "days": 2}, first_step],
    )
    return flow, segment


def follow(flow, size: int, since: float, minutes: float) -> tuple[float | None, float | None, int]:
    """Poll until all `size` contacts have run the first step (or `minutes` pass): when the last was enrolled,
    when the last first step ran (seconds after `since`, None if not reached) and how many ran."""
    from campaigns.flows.models import Enrollment, StepRun

    enrolled_at = finished_at = None
    done, last_print = 0, since
    while done < size and time.perf_counter() - since < minutes * 60:
        time.sleep(0.5)
        done = StepRun.objects.filter(flow=flow, step="0").count()
        if enrolled_at is None and Enrollment.objects.filter(flow=flow).count() >= size:
            enrolled_at = time.perf_counter() - since
        if time.perf_counter() - last_print > 15:
            print(f"    … {done:,} first steps after {time.perf_counter() - since:.0f} s", flush=True)
            last_print = time.perf_counter()
    if done >= size:
        finished_at = time.perf_counter() - since
    return enrolled_at, finished_at, done


def burst(first_step: dict, size: int, workers: list, minutes: float) -> None:
    """A segment refresh lets `size` contacts in; the hook's task enrolls them and the workers run the
    flow's first step for each. Timed from the refresh's commit to the last first-step record, or
    stopped after `minutes` with the rate so far."""
    from django.db import transaction

    from campaigns.models import Message
    from segments.models import Segment
    from segments.services import segment_refresh

    kind = first_step["type"]
    flow, segment = make_burst_flow(first_step)
    tag_contacts(f"bench-burst-{kind}", size)  # after activation: the refresh below finds them all new
    started = time.perf_counter()
    with transaction.atomic():
        result = segment_refresh(segment=Segment.objects.get(pk=segment.pk))
    committed = time.perf_counter()
    beat = Beat()
    beat.start()
    enrolled_at, finished_at, done = follow(flow, size, committed, minutes)
    beat.stopped.set()
    seconds = finished_at or (time.perf_counter() - committed)
    print(
        f"burst, first step {kind}: refresh recorded {result.entered:,} entries in {committed - started:.1f} s; "
        f"after its commit all enrolled in {enrolled_at or float('nan'):.1f} s, {done:,} first steps run in "
        f"{seconds:.1f} s = {done / seconds:,.0f} contacts/s; worker peak RSS "
        f"{', '.join(f'{peak_rss_mb(w.pid):.0f}' for w in workers)} MB"
    )
    if finished_at is None:
        print(f"    stopped after {minutes:g} minutes, {size - done:,} first steps still to run")
    elif kind == "send_email":
        queued = Message.objects.filter(campaign__flow_mail__flow=flow)
        while queued.filter(status__in=[Message.Status.QUEUED, Message.Status.CLAIMED]).exists():
            time.sleep(0.5)
        print(
            f"    and the outbox had sent or skipped all {queued.count():,} of those mails "
            f"{time.perf_counter() - committed:.1f} s after the commit"
        )
    pause_bench_flows()


def drain(redis_url: str, minutes: float) -> None:
    """Wait for the workers to finish what the last burst left queued (segment re-evaluations, mail), for
    at most `minutes`; what is still queued then is dropped, so that the next burst starts clean."""
    import redis

    broker = redis.Redis.from_url(redis_url)
    deadline = time.perf_counter() + minutes * 60
    while broker.llen("celery") and time.perf_counter() < deadline:
        time.sleep(1)
    if left := broker.llen("celery"):
        broker.delete("celery")
        print(f"    {left:,} tasks the last burst left were still queued after {minutes:g} minutes: dropped")
    time.sleep(5)


def bench_burst(size: int, env: dict, minutes: float) -> None:
    pause_bench_flows()
    log = Path("/tmp") / f"bench_flows_workers_{os.getpid()}.log"
    workers = start_workers(2, env, log)
    try:
        burst({"type": "add_tag", "tag": "bench-welcome"}, size, workers, minutes)
        drain(env["CELERY_BROKER_URL"], minutes)
        burst({"type": "send_email", "template": template().pk}, size, workers, minutes)
    finally:
        stop(workers)


# ------------------------------------------------------------------ (c) the tick with nothing due


def ensure_waiting(count: int) -> None:
    """`count` active enrollments due in WAITING_DAYS days, there through every section (set-up, not timed)."""
    from django.utils import timezone

    from campaigns.flows.enrollment import enroll
    from campaigns.flows.models import Flow
    from contacts.models import Contact

    flow = make_flow(
        WAITING.split(" · ")[1], {"type": "event", "event": "download"}, [{"type": "wait", "days": WAITING_DAYS}]
    )
    ids = Contact.objects.order_by("pk").values("pk")[:count]
    started = time.perf_counter()
    enrolled = enroll(
        flow=Flow.objects.get(pk=flow.pk),
        contacts=Contact.objects.filter(pk__in=ids),
        run_at=timezone.now() + dt.timedelta(days=WAITING_DAYS),
    )
    elapsed = time.perf_counter() - started
    print(f"set-up: {enrolled:,} enrollments waiting {WAITING_DAYS} days, inserted in {elapsed:.1f} s")
    sql("VACUUM ANALYZE flows_enrollment")


def explain_claim() -> str:
    from django.db import transaction
    from django.utils import timezone

    from campaigns.flows import engine

    with transaction.atomic():
        return engine.due_enrollments(now=timezone.now())[: engine.CLAIM_BATCH].explain(analyze=True, buffers=True)


def archive_bench_flows() -> None:
    """Nothing of the other sections stays due: a paused flow's due enrollments would still be read by
    every tick's claim (and skipped), which is not the case measured here."""
    from campaigns.flows.models import Flow
    from campaigns.flows.services import flow_archive

    for flow in Flow.objects.filter(name__startswith=BENCH).exclude(status=Flow.Status.ARCHIVED).exclude(name=WAITING):
        flow_archive(flow=flow)


def bench_tick(count: int, runs: int) -> None:
    from django.utils import timezone

    from campaigns.flows.models import Enrollment
    from campaigns.flows.tasks import flows_tick

    archive_bench_flows()
    active = Enrollment.objects.filter(state=Enrollment.State.ACTIVE)
    due = active.filter(run_at__lte=timezone.now()).count()
    print(f"active enrollments {active.count():,}, due now {due}")
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        ran = flows_tick()
        timings.append((time.perf_counter() - started) * 1000)
        assert ran == 0, ran
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"tick with {count:,} waiting and nothing due, {runs} runs: median {statistics.median(timings):.2f} ms, "
        f"p95 {p95:.2f} ms, max {timings[-1]:.2f} ms"
    )
    print("its claim query:\n    " + explain_claim().replace("\n", "\n    "))
    pause_bench_flows()


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="date,burst,tick")
    parser.add_argument("--burst", type=int, default=100_000, help="segment entries in the burst")
    parser.add_argument("--max-minutes", type=float, default=30, help="give up on a burst after this long")
    parser.add_argument("--waiting", type=int, default=1_000_000, help="enrollments waiting throughout")
    parser.add_argument("--ticks", type=int, default=50, help="tick runs to time")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the workers and the sink
    redis_url = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL")
    if not redis_url or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    port, counter = free_port(), multiprocessing.Value("q", 0)
    sink = multiprocessing.Process(target=run_sink, args=(port, counter), daemon=True)
    sink.start()
    os.environ.update(
        CELERY_BROKER_URL=redis_url, EMAIL_URL=f"smtp://127.0.0.1:{port}", LOG_LEVEL="WARNING", QUIET_HOURS=""
    )
    # DEBUG off (a worker in DEBUG keeps every query in memory); the workers refuse to start without a key.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    env = {**os.environ, "DEBUG": "false", "CAMPAIGN_SEND_RATE": "0"}

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from contacts.models import Contact

    assert connection.vendor == "postgresql", "run this against PostgreSQL (DATABASE_URL)"
    call_command("migrate", verbosity=0)
    subprocess.run(["redis-cli", "-u", redis_url, "FLUSHDB"], check=False, capture_output=True)
    clean()
    ensure_history()
    ensure_waiting(args.waiting)
    print(f"contacts={Contact.objects.count():,}; load average {os.getloadavg()[0]:.1f} at the start")
    sections = args.sections.split(",")
    try:
        if "date" in sections:
            bench_date()
        if "burst" in sections:
            bench_burst(args.burst, env, args.max_minutes)
        if "tick" in sections:
            bench_tick(args.waiting, args.ticks)
    finally:
        sink.terminate()
    print(f"load average {os.getloadavg()[0]:.1f} at the end; bench process peak RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
