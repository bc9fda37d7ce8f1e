"""Benchmark: purchases and events ingested through the bulk API endpoints.

Prepares a database (migrate + a catalogue, contacts and club members, and the mail they got: every contact
received the last few campaigns, a share of them opened or clicked in the last days, and privacy proxies
opened some of everyone's), starts gunicorn on 127.0.0.1, then one client posts batches of 1000 purchases
(3 items each, made in the last three days) to /api/v1/purchases/bulk/ and batches of 1000 events to
/api/v1/events/bulk/, and prints the throughput, the share of purchases credited to a mail (each batch is
attributed by the same request, CONTRACT §7) and the peak memory of the server workers and of the client.
"End to end" lasts until a worker (a thread of the benchmark) has counted the last purchase or stored the last
event, and, unless --no-automations, also re-evaluated the segment that reads events and enrolled the contacts
in the automations on add-to-cart and on purchases (the tasks those steps start, run in that thread).
Meant for PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python benchmarks/bench_ingest.py
    # attribution at a realistic ratio, then the plan of the attribution statement for one more batch:
    ... bench_ingest.py --contacts 100000 --engaged-share 0.3 --event-batches 0 --explain

The database named in DATABASE_URL is created if missing and its CRM tables are emptied first.
"""

import argparse
import http.client
import json
import logging
import os
import random
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))  # with DEBUG off the app refuses a weak key
os.environ.setdefault("CONN_MAX_AGE", "600")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # plain HTTP on loopback, no TLS proxy in front
# The server's calls for a worker go nowhere: the benchmark counts the queued purchases and stores the queued
# events itself (`Worker`); with automations, that worker's thread also runs the tasks its steps start (`main`).
os.environ.setdefault("CELERY_BROKER_URL", "memory://")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--purchase-batches", type=int, default=40)
    parser.add_argument("--event-batches", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--storers", type=int, default=1, help="workers storing the queued events side by side")
    parser.add_argument("--counters", type=int, default=1, help="workers counting the queued purchases side by side")
    parser.add_argument(
        "--count-after",
        action="store_true",
        help="count the queued purchases only once the posting is over: each stage's own rate, as when the web "
        "server and the workers do not share cores",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=4,
        help="requests the client keeps in flight at once (keep-alive connections)",
    )
    parser.add_argument(
        "--engaged-share",
        type=float,
        default=0.3,
        help="share of the contacts with human opens or clicks in the last days (0 for no mail at all)",
    )
    parser.add_argument("--campaigns", type=int, default=4, help="campaigns of the last week, each sent to everyone")
    parser.add_argument(
        "--history", type=int, default=3, help="purchases per contact made before (over the last two years)"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="at the end, EXPLAIN ANALYZE the attribution statement of one more batch (rolled back)",
    )
    parser.add_argument(
        "--automations",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="an active automation on add-to-cart and one on purchases, and a segment that reads events, so that "
        "the workers also re-evaluate segments and enroll contacts (in their own thread, as part of end to end)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def create_database() -> None:
    import environ

    url = environ.Env.db_url_config(os.environ.get("DATABASE_URL", ""))
    if url.get("ENGINE") != "django.db.backends.postgresql":
        print("note: not PostgreSQL; figures are not comparable with the targets", file=sys.stderr)
        return
    import psycopg

    options = url.get("OPTIONS", {})  # a socket directory comes as ?host=/tmp&port=…
    with psycopg.connect(
        host=url["HOST"] or options.get("host"),
        port=url["PORT"] or options.get("port") or 5432,
        user=url["USER"],
        password=url["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [url["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{url["NAME"]}"')


def prepare(args: argparse.Namespace) -> dict:
    """Fresh tables with a catalogue, contacts and members; returns the refs the batches will use."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from campaigns.models import Campaign, EmailTemplate
    from campaigns.reports.models import Attribution
    from contacts.models import (
        Activity,
        Contact,
        LoyaltyMember,
        Product,
        Purchase,
        PurchaseItem,
        QueuedActivity,
        Store,
    )
    from crm.services import api_key_create

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:  # a plain DELETE would cascade row by row through mail and attribution
        emptied = (Attribution, PurchaseItem, Purchase, Activity, QueuedActivity, LoyaltyMember, Contact)
        tables = [m._meta.db_table for m in emptied]
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    for model in (Campaign, EmailTemplate, Product, Store):
        model.objects.all().delete()
    Store.objects.bulk_create([Store(code=f"ST-{n:02d}", name=f"Store {n}") for n in range(20)])
    Product.objects.bulk_create(
        [Product(sku=f"SKU-{n:04d}", name=f"Product {n}", category=f"cat-{n % 12}") for n in range(500)]
    )
    Contact.objects.bulk_create([Contact(email=f"bench{n}@example.com") for n in range(args.contacts)], batch_size=5000)
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    LoyaltyMember.objects.bulk_create(
        [LoyaltyMember(contact_id=pk, card_number=f"8{pk:011d}") for pk in ids[::4]], batch_size=5000
    )
    prepare_history(args, ids)
    if args.engaged_share > 0:
        prepare_mail(args, ids)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    if args.automations:
        prepare_automations()
    _key, raw = api_key_create(name="benchmark", scopes=["purchases:write", "events:write"])
    connection.close()
    return {"ids": ids, "cards": [f"8{pk:011d}" for pk in ids[::4]], "key": raw}


AUTOMATIONS = "bench ingest"


def prepare_automations() -> None:
    """What a shop has running while it ingests: an automation on add-to-cart, one on every purchase (each
    waits a day, so enrolling is the whole work here) and a segment of "two add-to-carts in 7 days", which every
    stored event batch re-evaluates for its contacts. Those of an earlier run are removed first."""
    from campaigns.flows.models import Flow
    from campaigns.flows.services import flow_activate, flow_create
    from segments.models import Segment
    from segments.services import segment_create

    Flow.objects.filter(name__startswith=AUTOMATIONS).delete()  # their enrollments and step runs with them
    Segment.objects.filter(name__startswith=AUTOMATIONS).delete()
    wait = [{"type": "wait", "days": 1}]
    for name, trigger in (("cart", {"type": "event", "event": "add_to_cart"}), ("purchase", {"type": "purchase"})):
        flow_activate(flow=flow_create(name=f"{AUTOMATIONS} · {name}", trigger=trigger, steps=wait))
    carts = {"field": "event", "op": "count_gte", "value": 2, "event": "add_to_cart", "days": 7}
    segment_create(name=f"{AUTOMATIONS} · two carts", rules={"all": [carts]})


TASK_SECONDS: dict[str, list[float]] = {}  # task name → [runs, seconds] (a task's time includes those it ran)


def time_tasks() -> None:
    """Keep the time of every task the workers' threads run in place."""
    from celery.signals import task_postrun, task_prerun

    started: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def before(task_id: str, **_kwargs: Any) -> None:
        started[task_id] = time.perf_counter()

    @task_postrun.connect(weak=False)
    def after(task_id: str, task: Any, **_kwargs: Any) -> None:
        spent = TASK_SECONDS.setdefault(task.name.rsplit(".", 1)[-1], [0, 0.0])
        spent[0] += 1
        spent[1] += time.perf_counter() - started.pop(task_id, time.perf_counter())


def automations_summary() -> str:
    from django.db import connection
    from django.db.models import Count

    from campaigns.flows.models import Enrollment
    from segments.models import Segment

    flows = dict(
        Enrollment.objects.filter(flow__name__startswith=AUTOMATIONS).values_list("flow__name").annotate(n=Count("pk"))
    )
    segment = Segment.objects.filter(name__startswith=AUTOMATIONS).first()
    members = segment.memberships.filter(left_at=None).count() if segment else 0
    connection.close()
    enrolled = ", ".join(f"{n} in {name.split(' · ')[-1]}" for name, n in sorted(flows.items()))
    tasks = ", ".join(f"{name} {runs:.0f}× {seconds:.2f}s" for name, (runs, seconds) in sorted(TASK_SECONDS.items()))
    TASK_SECONDS.clear()
    return (
        f"enrolled so far: {enrolled or 'none'}; segment of two carts: {members} members; "
        f"tasks the worker ran: {tasks or 'none'}"
    )


def insert_rows(model: Any, rows: list[dict]) -> None:
    """Rows given by some of their fields; every other column takes its model default (the database has none)."""
    from contacts.ingest import rows_insert

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}
    columns = tuple(f.attname for f in fields)
    for start in range(0, len(rows), 20_000):
        chunk = [{**defaults, **row} for row in rows[start : start + 20_000]]
        rows_insert(model, columns, [tuple(row[c] for c in columns) for row in chunk], returning=False)


def prepare_history(args: argparse.Namespace, ids: list[int]) -> None:
    """`--history` older purchases per contact, so the purchases table has the size the contacts imply, and the
    buyers' figures they make (count, total, first and last purchase, the purchaser stage, RFM), as in a shop
    that has been running: a new purchase is added to them and an event moves few funnel stages. With
    --history 0 every contact is new: each purchase is a first one and most events raise a stage."""
    from datetime import timedelta

    from django.utils import timezone

    from contacts.models import Purchase
    from contacts.purchase_stats import refresh_buyers

    rng = random.Random(args.seed + 3)
    now = timezone.now()
    rows = [
        {
            "contact_id": pk,
            "source": "pos",
            "channel": rng.choice(["online", "in_store", "app"]),
            "purchased_at": now - timedelta(days=rng.randint(10, 730), minutes=rng.randint(0, 1439)),
            "total": f"{rng.randint(1000, 50000) / 100:.2f}",
        }
        for pk in ids
        for _n in range(args.history)
    ]
    insert_rows(Purchase, rows)
    if args.history:
        for start in range(0, len(ids), 5000):
            refresh_buyers(ids[start : start + 5000])


def _engagement(rng: random.Random, engaged: bool, sent_at: Any) -> list[tuple[str, bool, Any]]:
    """(kind, is_machine, when) of one delivered message: a privacy proxy opens a fifth of all mail at once;
    an engaged contact opens most of theirs within hours to days and clicks a third of those."""
    from datetime import timedelta

    events = [("delivered", False, sent_at + timedelta(seconds=5))]
    if rng.random() < 0.2:
        events.append(("open", True, sent_at + timedelta(seconds=rng.randint(1, 30))))
    if engaged and rng.random() < 0.7:
        opened = sent_at + timedelta(minutes=rng.randint(1, 3 * 24 * 60))
        events.append(("open", False, opened))
        if rng.random() < 0.35:
            events.append(("click", False, opened + timedelta(seconds=rng.randint(5, 300))))
    return events


def prepare_mail(args: argparse.Namespace, ids: list[int]) -> None:
    """The last `--campaigns` campaigns, one a day, each delivered to every contact; `--engaged-share` of the
    contacts opened or clicked some of them. Written with one INSERT per 20,000 rows (unnest on PostgreSQL)."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent

    rng = random.Random(args.seed + 2)
    now = timezone.now()
    template = EmailTemplate.objects.create(name="Bench", subject="Hi", html="<p>Hi</p>", language="he")
    engaged = set(rng.sample(ids, int(len(ids) * args.engaged_share)))
    messages: list[dict] = []
    sent = []
    for n in range(args.campaigns):
        sent_at = now - timedelta(days=args.campaigns - n + 2)
        campaign = Campaign.objects.create(
            name=f"Bench {n}", template=template, status=Campaign.Status.SENT, started_at=sent_at
        )
        sent.append((campaign.pk, sent_at))
        messages += [{"campaign_id": campaign.pk, "contact_id": pk, "status": "sent", "sent_at": sent_at} for pk in ids]
    insert_rows(Message, messages)
    events = []
    for campaign_id, sent_at in sent:
        rows = Message.objects.filter(campaign_id=campaign_id).values_list("pk", "contact_id").iterator(10_000)
        for message_id, contact_id in rows:
            for kind, machine, at in _engagement(rng, contact_id in engaged, sent_at):
                events.append(
                    {
                        "message_id": message_id,
                        "campaign_id": campaign_id,
                        "contact_id": contact_id,
                        "kind": kind,
                        "is_machine": machine,
                        "occurred_at": at,
                    }
                )
    insert_rows(TrackingEvent, events)
    print(f"mail: {len(messages)} messages, {len(events)} tracking events, {len(engaged)} engaged contacts", flush=True)


def _buyer(rng: random.Random, args: argparse.Namespace, refs: dict) -> dict:
    """Most purchases name the contact, some only a club card, the rest an email (half of them unknown)."""
    draw = rng.random()
    if draw < 0.6:
        return {"contact": rng.choice(refs["ids"])}
    if draw < 0.9:
        return {"card_number": rng.choice(refs["cards"])}
    return {"email": f"bench{rng.randrange(args.contacts * 2)}@example.com"}


def purchase_batches(
    args: argparse.Namespace, refs: dict, count: int | None = None, prefix: str = "bench"
) -> list[bytes]:
    """Purchases made in the last three days, where the mail of the last days may take their credit."""
    from datetime import UTC, datetime, timedelta

    rng = random.Random(f"{args.seed}-{prefix}")
    now = datetime.now(UTC)
    batches = []
    for b in range(args.purchase_batches if count is None else count):
        items = []
        for n in range(args.batch_size):
            who = _buyer(rng, args, refs)
            lines: list[dict[str, Any]] = [
                {
                    "sku": f"SKU-{rng.randrange(500):04d}",
                    "quantity": rng.randint(1, 3),
                    "unit_price": f"{rng.randint(500, 30000) / 100:.2f}",
                }
                for _ in range(3)
            ]
            total = sum(float(line["unit_price"]) * line["quantity"] for line in lines)
            items.append(
                {
                    "external_id": f"{prefix}-{b}-{n}",
                    "source": "pos",
                    **who,
                    "channel": rng.choice(["online", "in_store", "app"]),
                    "store": f"ST-{rng.randrange(20):02d}",
                    "purchased_at": (now - timedelta(minutes=rng.randint(0, 3 * 24 * 60))).isoformat(),
                    "total": f"{total:.2f}",
                    "currency": "ILS",
                    "items": lines,
                }
            )
        batches.append(json.dumps({"purchases": items}).encode())
    return batches


def event_batches(args: argparse.Namespace, refs: dict, count: int | None = None, prefix: str = "ev") -> list[bytes]:
    """Events of the last three days (the segment of two add-to-carts in 7 days finds new members in them)."""
    from datetime import UTC, datetime, timedelta

    rng = random.Random(f"{args.seed + 1}-{prefix}")
    now = datetime.now(UTC)
    types = ["page_view"] * 6 + ["product_view"] * 3 + ["add_to_cart", "checkout_started", "signup"]
    batches = []
    for b in range(args.event_batches if count is None else count):
        items = []
        for n in range(args.batch_size):
            who = rng.random()
            ref = (
                {"anonymous_id": f"anon-{rng.randrange(100_000)}"}
                if who < 0.5
                else {"contact": rng.choice(refs["ids"])}
                if who < 0.9
                else {"email": f"bench{rng.randrange(args.contacts)}@example.com"}
            )
            event = {
                "type": rng.choice(types),
                "event_id": f"{prefix}-{b}-{n}",
                **ref,
                "occurred_at": (now - timedelta(minutes=rng.randint(0, 3 * 24 * 60))).isoformat(),
                "url": f"https://shop.example.com/p/{rng.randrange(500)}",
                "properties": {"n": n},
            }
            if event["type"] in ("product_view", "add_to_cart"):
                event["product"] = f"SKU-{rng.randrange(500):04d}"
            items.append(event)
        batches.append(json.dumps({"events": items}).encode())
    return batches


def start_server(args: argparse.Namespace) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(
        [
            gunicorn,
            "crm.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env={**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false"},
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            conn.request("GET", "/api/v1/health/")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def _cpu_of(pid: str) -> tuple[float, float]:
    """A process's CPU seconds, its own and those of its children it has reaped (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def cpu_seconds(server: subprocess.Popen) -> dict[str, float]:
    """CPU seconds used so far by the PostgreSQL server when it runs on this machine (every postgres process,
    and the backends that have exited), the web server (gunicorn and its workers) and this process (the
    client and the workers' threads)."""
    web = sum(_cpu_of(str(server.pid)))
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    for pid in children.read_text().split() if children.exists() else []:
        web += _cpu_of(pid)[0]
    database = 0.0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                own, reaped = _cpu_of(entry.name)
                database += own + reaped
        except OSError:
            continue
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"database": database, "web": web, "benchmark": usage.ru_utime + usage.ru_stime}


def cpu_summary(before: dict[str, float], after: dict[str, float], thousands: float) -> str:
    spent = {name: after[name] - before[name] for name in after if after[name]}  # no database: not on this machine
    return "CPU per 1,000: " + ", ".join(f"{name} {spent[name] / thousands * 1000:.0f} ms" for name in spent)


def worker_peak_rss_mb(server: subprocess.Popen) -> float:
    """Largest peak resident set (VmHWM) of the gunicorn master and its workers, in MiB."""
    pids = [server.pid]
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def post_all(
    args: argparse.Namespace, key: str, path: str, bodies: list[bytes], connections: int | None = None
) -> tuple[float, dict]:
    """Post every body, `connections` at a time, each on its own keep-alive connection."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    totals = {"created": 0, "duplicates": 0, "errors": 0}
    queue = list(reversed(bodies))
    lock = threading.Lock()

    def send() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=300)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            if response.status != 200:
                raise SystemExit(f"{path}: HTTP {response.status}: {answer}")
            with lock:
                totals["created"] += answer["created"]
                totals["duplicates"] += answer["duplicates"]
                totals["errors"] += len(answer["errors"])
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=send) for _ in range(connections or args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, totals


class Worker(threading.Thread):
    """What the worker does for bulk batches, side by side with the posting: `work` (count the queued purchases,
    `contacts.purchase_queue`; store the queued events, `contacts.event_queue`) until the posting is over and
    nothing is left."""

    def __init__(self, work: str) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.posted = threading.Event()
        self.done = 0
        self.busy = 0.0  # seconds in steps (the tasks they ran included), not waiting for work
        self.finished_at = 0.0

    def run(self) -> None:
        from django.db import connection

        from contacts.event_queue import activities_store_queued
        from contacts.purchase_queue import purchases_count_queued

        step = {"count": purchases_count_queued, "store": activities_store_queued}[self.work]
        while True:
            started = time.perf_counter()
            taken = step()
            self.busy += time.perf_counter() - started
            self.done += taken
            if not taken:
                if self.posted.is_set():
                    break
                time.sleep(0.05)
        self.finished_at = time.perf_counter()
        connection.close()


def bench_purchases(args: argparse.Namespace, server: subprocess.Popen, key: str, purchases: list[bytes]) -> None:
    """Half the batches on one connection, half on several, each time with `--counters` workers counting until
    every purchase is counted (alongside the posting, or with --count-after once it is over); then five
    batches again, all duplicates."""
    half = len(purchases) // 2
    for label, bodies, connections in (
        ("1 connection", purchases[:half], 1),
        (f"{args.connections} connections", purchases[half:], None),
    ):
        counters = [Worker("count") for _ in range(args.counters)]
        cpu = cpu_seconds(server)
        if not args.count_after:
            for counter in counters:
                counter.start()
        started = time.perf_counter()
        seconds, totals = post_all(args, key, "/api/v1/purchases/bulk/", bodies, connections)
        for counter in counters:
            counter.posted.set()
            if args.count_after:
                counter.start()
        for counter in counters:
            counter.join()
        count = len(bodies) * args.batch_size
        everything = max(counter.finished_at for counter in counters) - started
        counted = sum(counter.done for counter in counters)
        busy = sum(counter.busy for counter in counters)
        counting = (
            f"then counted by {args.counters} worker(s) in {everything - seconds:.2f}s = "
            f"{counted / (everything - seconds):,.0f} purchases/s"
            if args.count_after
            else f"counted by {args.counters} worker(s) {everything - seconds:.2f}s later"
        )
        print(
            f"purchases, {label}: {count} stored in {seconds:.2f}s = {count / seconds:,.0f} purchases/s "
            f"({count * 3} items; {totals}); {counting}: {counted} in {everything:.2f}s = "
            f"{counted / everything:,.0f} purchases/s end to end (the workers busy {busy:.2f}s)"
        )
        print(f"  {cpu_summary(cpu, cpu_seconds(server), count / 1000)}")
        if args.automations:
            print(f"  {automations_summary()}")
    seconds, retry = post_all(args, key, "/api/v1/purchases/bulk/", purchases[:5])
    print(
        f"purchases retried: {5 * args.batch_size} in {seconds:.2f}s = {5 * args.batch_size / seconds:,.0f}/s, "
        f"all duplicates: {retry['duplicates'] == 5 * args.batch_size}"
    )


ROUNDS = 5


def attribution_summary() -> None:
    from django.db import connection

    from campaigns.reports.models import Attribution
    from contacts.models import Purchase

    sent = Purchase.objects.exclude(external_id=None)  # the posted ones, not the history
    purchases = sent.count()
    credited = Attribution.objects.filter(purchase__in=sent).count()
    clicks = Attribution.objects.filter(purchase__in=sent, touch="click").count()
    print(
        f"attributed: {credited} of the {purchases} purchases posted ({credited / max(purchases, 1):.0%}; "
        f"{clicks} by a click, {credited - clicks} by an open)"
    )
    connection.close()


@contextmanager
def hooks_without(handler: Any) -> Iterator[None]:
    """The "purchases stored" handlers without this one, for the time of the block."""
    from contacts import hooks

    hooks._stored.remove(handler)
    try:
        yield
    finally:
        hooks._stored.append(handler)


def explain_attribution(args: argparse.Namespace, refs: dict) -> None:
    """One more batch through the bulk path in this process, several times, each in a transaction rolled back:
    the time of the whole batch with and without attribution and of the statement alone, then its plan
    (EXPLAIN ANALYZE)."""
    from django.db import connection, transaction

    from campaigns.reports import attribution
    from contacts.ingest import purchases_record_bulk

    items = json.loads(purchase_batches(args, refs, count=1, prefix="explain")[0])["purchases"]
    spent: list[float] = []
    plan: list[str] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: dict) -> Any:
        if not sql.startswith("INSERT INTO reports_attribution"):
            return execute(sql, params, many, context)
        if len(spent) == ROUNDS and not plan:
            result = execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params, many, context)
            plan.extend(row[0] for row in context["cursor"].fetchall())
            return result
        started = time.perf_counter()
        result = execute(sql, params, many, context)
        spent.append(time.perf_counter() - started)
        return result

    def one_batch() -> float:
        with transaction.atomic():
            started = time.perf_counter()
            purchases_record_bulk(items=items)
            transaction.set_rollback(True)
            return time.perf_counter() - started

    timings: dict[str, list[float]] = {"with": [], "without": []}
    with connection.execute_wrapper(watch):
        for _round in range(ROUNDS):  # alternated, so that a busy moment of the machine hits both
            timings["with"].append(one_batch())
            with hooks_without(attribution.purchases_stored):
                timings["without"].append(one_batch())
        one_batch()  # the plan
    print(
        f"one batch of {len(items)} in this process, best of {ROUNDS}: {min(timings['with']) * 1000:.0f} ms with "
        f"attribution (the statement alone: {min(spent) * 1000:.1f} ms), {min(timings['without']) * 1000:.0f} ms "
        "without"
    )
    lines = (line if len(line) <= 160 else f"{line[:160]}…" for line in plan)  # the ids make a long line
    print("plan of the attribution statement:\n  " + "\n  ".join(lines))
    connection.close()


def bench_events(args: argparse.Namespace, key: str, events: list[bytes], warm_up: list[bytes]) -> None:
    """Half the batches on one connection, half on several, each time with one worker storing the queued events
    (with their funnel stages, last events and visitor counts) until every event is stored. First, untimed, a
    few batches through every server worker and the storing worker, as in a server that has been running."""
    storer = Worker("store")
    storer.start()
    post_all(args, key, "/api/v1/events/bulk/", warm_up)
    storer.posted.set()
    storer.join()
    half = len(events) // 2
    for label, bodies, connections in (
        ("1 connection", events[:half], 1),
        (f"{args.connections} connections", events[half:], None),
    ):
        storers = [Worker("store") for _ in range(args.storers)]
        for storer in storers:
            storer.start()
        started = time.perf_counter()
        seconds, totals = post_all(args, key, "/api/v1/events/bulk/", bodies, connections)
        for storer in storers:
            storer.posted.set()
            storer.join()
        count = len(bodies) * args.batch_size
        everything = max(storer.finished_at for storer in storers) - started
        stored = sum(storer.done for storer in storers)
        print(
            f"events, {label}: {count} accepted in {seconds:.2f}s = {count / seconds:,.0f} events/s ({totals}); "
            f"stored by {args.storers} worker(s) {everything - seconds:.2f}s later: {stored} in {everything:.2f}s = "
            f"{stored / everything:,.0f} events/s end to end (busy {sum(storer.busy for storer in storers):.2f}s)"
        )
        if args.automations:
            print(f"  {automations_summary()}")


def main() -> None:
    args = parse_args()
    # With automations this process runs tasks in place (in the worker's thread), read by Django's set-up in
    # `prepare`; the server it starts does not: a batch there queues, as beside a real worker.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true" if args.automations else "false"
    create_database()
    print(f"preparing: {args.contacts} contacts, 500 products, 20 stores …", flush=True)
    refs = prepare(args)
    logging.getLogger("celery").setLevel(logging.WARNING)  # not a line per task run in the worker's thread
    time_tasks()
    purchases, events = purchase_batches(args, refs), event_batches(args, refs)
    warm_up = event_batches(args, refs, count=2 * args.workers, prefix="warm-up") if events else []
    server = start_server(args)
    try:
        post_all(
            args,
            refs["key"],
            "/api/v1/events/bulk/",
            [json.dumps({"events": [{"type": "page_view", "anonymous_id": "warm-up"}]}).encode()] * 3,
        )
        bench_purchases(args, server, refs["key"], purchases)
        attribution_summary()
        if events:
            bench_events(args, refs["key"], events, warm_up)
        if args.explain:
            explain_attribution(args, refs)
        print(
            f"peak memory: server process {worker_peak_rss_mb(server):.0f} MiB, "
            f"client {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
