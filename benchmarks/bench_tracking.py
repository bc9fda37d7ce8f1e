"""Tracking endpoints under load: the open pixel and the click redirect, served by gunicorn on
loopback with DEBUG off, driven by wrk, on PostgreSQL.

    python benchmarks/bench_tracking.py --database-url postgres://postgres@127.0.0.1:55446/crm_bench

It migrates the database, creates one sent campaign of --messages recipients (and one link), starts
gunicorn, warms it up, runs wrk against the pixel and then the redirect (each request a different
message, so rows are not contended more than in real life), prints requests/s and the p50/p99
latency, and checks that no event was lost: every response wrk received has its TrackingEvent row
and the counters on Message add up to the rows. The servers it starts are stopped at the end.
Needs `wrk` (apt-get install wrk) and a PostgreSQL it can create a database in.
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HUMAN_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4"
WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i], {["User-Agent"] = "%(ua)s"})
end
"""


def django_env(database_url: str, port: int) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="crm.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64),  # the app refuses a weak key
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{port}",
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )
    return env


def create_database(database_url: str) -> None:
    import psycopg

    base, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare(messages: int) -> tuple[int, int]:
    """One sent campaign with `messages` recipients and one link; returns (campaign id, link id)."""
    import django

    django.setup()
    from django.utils import timezone

    from campaigns import links
    from campaigns.models import Campaign, EmailTemplate, Message
    from contacts.models import Contact

    now = timezone.now()
    template = EmailTemplate.objects.create(name="Bench", subject="Hi", html="<p>Hi</p>", language="en")
    campaign = Campaign.objects.create(name="Bench", template=template, status=Campaign.Status.SENT)
    Contact.objects.bulk_create(
        [Contact(email=f"bench{i}@example.com", email_opt_in=True) for i in range(messages)], batch_size=5000
    )
    ids = Contact.objects.order_by("pk").values_list("pk", flat=True)
    Message.objects.bulk_create(
        [
            Message(
                campaign=campaign, contact_id=i, status=Message.Status.SENT, sent_at=now - timezone.timedelta(hours=1)
            )
            for i in ids
        ],
        batch_size=5000,
    )
    link_id = links.link_register(campaign, "https://shop.example.com/sale?utm_source=crm")
    return campaign.pk, link_id


def write_paths(path: Path, kind: str, campaign_id: int, link_id: int) -> None:
    from campaigns.models import Message
    from campaigns.tokens import message_token

    with path.open("w") as out:
        for pk in Message.objects.filter(campaign_id=campaign_id).order_by("?").values_list("pk", flat=True):
            token = message_token(pk)
            out.write(f"/t/o/{token}.gif\n" if kind == "pixel" else f"/t/c/{token}/{link_id}/\n")


def port_taken(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_gunicorn(env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    if port_taken(port):
        raise SystemExit(f"something already listens on 127.0.0.1:{port}; pick another --port")
    command = [
        str(BASE_DIR / ".venv/bin/gunicorn"),
        "crm.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)
    for _attempt in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/t/o/warm.gif", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise SystemExit("gunicorn did not start")


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def to_ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port: int, paths: Path, seconds: int, connections: int, threads: int) -> dict:
    script = paths.with_suffix(".lua")
    script.write_text(WRK_SCRIPT % {"paths": paths, "ua": HUMAN_UA})
    output = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    completed = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": completed,
        "p50": to_ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1)),
        "p99": to_ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1)),
        "bad": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "none",
        "raw": output,
    }


def cpu_seconds(server_pid: int, database: str) -> float:
    """CPU used so far by the gunicorn master and workers and by this database's PostgreSQL backends."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pgid = int(fields[2])
        if pgid == server_pid or (cmdline.startswith("postgres: ") and f" {database} " in cmdline):
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def counts(kind: str) -> tuple[int, int]:
    from django.db.models import Sum

    from campaigns.models import Message, TrackingEvent

    rows = TrackingEvent.objects.filter(kind=kind).count()
    field = "open_count" if kind == "open" else "click_count"
    return rows, Message.objects.aggregate(total=Sum(field))["total"] or 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:55446/crm_bench_tracking")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=18765)
    return parser.parse_args()


def measure(args: argparse.Namespace, server: subprocess.Popen, work: Path, campaign_id: int, link_id: int) -> dict:
    """wrk on the pixel, then on the redirect: its numbers, the rows written and the CPU spent per request."""
    results = {}
    for kind, event_kind in (("pixel", "open"), ("redirect", "click")):
        paths = work / f"{kind}.txt"
        write_paths(paths, kind, campaign_id, link_id)
        run_wrk(args.port, paths, 3, args.connections, args.wrk_threads)  # warm-up: connections, caches
        time.sleep(1)  # let the warm-up's last in-flight requests finish before counting
        before, _counter = counts(event_kind)
        database = args.database_url.rsplit("/", 1)[1]
        cpu_before = cpu_seconds(server.pid, database)
        result = run_wrk(args.port, paths, args.seconds, args.connections, args.wrk_threads)
        result["cpu_ms"] = (cpu_seconds(server.pid, database) - cpu_before) * 1000 / max(result["requests"], 1)
        time.sleep(0.5)
        rows, counter = counts(event_kind)
        result.update(rows=rows - before, counter_matches=counter == rows)
        results[kind] = result
    return results


def report(args: argparse.Namespace, results: dict) -> bool:
    """Print the table; True when an event was lost or a response was bad."""
    cores = os.cpu_count()
    print(
        f"PostgreSQL, gunicorn gthread {args.workers}×{args.threads}, wrk -t{args.wrk_threads} "
        f"-c{args.connections} -d{args.seconds}s, {args.messages} messages, {cores} cores, DEBUG off"
    )
    print(
        f"{'endpoint':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'responses':>10} {'events':>8} "
        f"{'bad':>4} {'counters':>9} {'CPU ms/req':>11}"
    )
    lost = False
    for kind, r in results.items():
        # wrk stops with up to one request per connection in flight: those are served and recorded
        # but not counted by wrk, so rows may exceed responses by at most the connection count.
        ok = r["requests"] <= r["rows"] <= r["requests"] + args.connections and r["counter_matches"] and not r["bad"]
        lost |= not ok
        print(
            f"{kind:<10} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['requests']:>10} {r['rows']:>8} "
            f"{r['bad']:>4} {'ok' if r['counter_matches'] else 'MISMATCH':>9} {r['cpu_ms']:>11.2f}"
            f"   socket errors: {r['socket_errors']}"
        )
    print(
        "CPU ms/req: gunicorn workers plus PostgreSQL backends per request served (wrk excluded); "
        "2 idle cores serve about 2000 / that many requests per second."
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return lost


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    env = django_env(args.database_url, args.port)
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    create_database(args.database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    campaign_id, link_id = prepare(args.messages)
    work = Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    server = start_gunicorn(env, args.port, args.workers, args.threads)
    try:
        results = measure(args, server, work, campaign_id, link_id)
    finally:
        stop(server)
        shutil.rmtree(work, ignore_errors=True)
    lost = report(args, results)
    print("no event lost" if not lost else "EVENTS LOST OR ERRORS: see above")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
