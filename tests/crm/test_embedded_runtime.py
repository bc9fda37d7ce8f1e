"""The default install behaves like production: the Procfile's web server, worker and beat, started as
`make run` starts them, send a scheduled campaign on time, move contacts in and out of a time-based
segment by themselves, and lose no task when the worker is killed and started again.

Runs on the embedded defaults (SQLite file, the file broker), and again on PostgreSQL + Redis when
DATABASE_URL names a PostgreSQL server and REDIS_URL is set (CI).

What it waits on is retimed as staff may retime any job (beat reads its schedule from the database):
beat fires the worker's heartbeat and the segment refresh every few seconds instead of every 30 s and
15 minutes, and the campaign is due 20 s ahead rather than a minute. The campaign sweep keeps its
minute, so a mail on time comes from the countdown task the killed worker held.
"""

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests.campaigns.conftest import SmtpSink, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
FAST_JOBS = {"runtime.heartbeat": 2, "segments.tasks.refresh_dynamic_segments": 5}  # seconds apart
RETIME = """
from django_celery_beat.models import IntervalSchedule, PeriodicTask
for task, seconds in {jobs!r}.items():
    every, _new = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
    assert PeriodicTask.objects.filter(task=task).update(interval=every, crontab=None) == 1, task
"""
AHEAD = dt.timedelta(seconds=20)  # how far ahead the campaign is due, and the contact turns a day old
POLL_SECONDS = 0.5


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def postgres_database() -> str:
    """A fresh database beside the (PostgreSQL) test database, for processes that cannot see the test's
    transactions."""
    db = connection.settings_dict
    name = f"crm_runtime_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class Runtime:
    """The Procfile's processes, each in its own process group so a kill takes its pool children too."""

    broker: Path | None
    sink: SmtpSink
    url: str
    key: str

    def __init__(self, tmp: Path, env: dict[str, str]):
        self.tmp, self.env = tmp, env
        self.processes: dict[str, subprocess.Popen] = {}
        self.commands = procfile()

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start(self, name: str) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            ["sh", "-c", self.commands[name]],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        """TERM every group, then wait for the whole group to be gone, not only its shell: a worker still
        shutting down (or retrying a broker that is already stopped) gets KILLed after 20 s, so no
        process outlives the test."""
        for process in self.processes.values():
            signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            process.wait(timeout=30)
            while group_alive(process.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            signal_group(process.pid, signal.SIGKILL)
        self.processes.clear()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.tmp.glob("*.log"))


def wait_for(condition, timeout: float, what: str, runtime: Runtime):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    pytest.fail(f"timed out waiting for {what}\n{runtime.logs()}")


@pytest.fixture(params=["embedded", "postgres-redis"])
def runtime(request, tmp_path):
    """The whole stack (`make run`'s processes) started from scratch, in one place so every test sees
    the same environment; long because each process and its settings are spelled out."""
    if request.param == "postgres-redis" and (connection.vendor != "postgresql" or not os.environ.get("REDIS_URL")):
        pytest.skip("needs DATABASE_URL on PostgreSQL and REDIS_URL")
    if request.param == "embedded" and connection.vendor != "sqlite":
        pytest.skip("the embedded run is the SQLite default")
    sink = SmtpSink().start()
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTEST_VERSION", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "DEBUG": "true",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "HEALTH_CACHE_SECONDS": "1",  # polled for the heartbeats; the default keeps an answer 10 s
            "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
            "WORKER_CONCURRENCY": "2",
            "BROKER_DIR": str(tmp_path / "broker"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    env.pop("CELERY_BROKER_URL", None)
    if request.param == "postgres-redis":
        env["DATABASE_URL"] = postgres_database()
        env["CELERY_BROKER_URL"] = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/5"
        import redis

        redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    run = Runtime(tmp_path, env)
    run.broker = tmp_path / "broker" if request.param == "embedded" else None
    run.sink = sink
    run.url = f"http://127.0.0.1:{port}"
    run.manage("migrate", "--noinput")
    for name in ("web", "worker"):  # they start up while the key is made; beat reads the retimed jobs
        run.start(name)
    scopes = "contacts:read,contacts:write,segments:read,segments:write,campaigns:read,campaigns:write"
    run.key = run.manage("create_api_key", "--name", "runtime", "--scopes", scopes).strip().splitlines()[-1]
    run.manage("shell", "-c", RETIME.format(jobs=FAST_JOBS))
    run.start("beat")
    yield run
    run.stop()
    sink.stop()
    if request.param == "postgres-redis":
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "crm_runtime_{os.getpid()}" WITH (FORCE)')


def api(run: Runtime, method: str, path: str, **body) -> dict:
    response = requests.request(
        method,
        f"{run.url}/api/v1/{path}",
        json=body or None,
        timeout=30,
        headers={"Authorization": f"Bearer {run.key}"},
    )
    assert response.status_code < 300, (path, response.status_code, response.text[:2000])
    return response.json() if response.content else {}


def health(run: Runtime) -> dict:
    try:
        checks = requests.get(f"{run.url}/api/v1/health/", timeout=5).json()["checks"]
    except (requests.ConnectionError, ValueError):
        return {}
    return {check["name"]: check["status"] for check in checks}


def member_emails(run: Runtime, segment_id: int) -> set[str]:
    return {member["email"] for member in api(run, "GET", f"segments/{segment_id}/members/")["results"]}


def test_scheduled_campaign_time_based_segment_and_a_killed_worker(runtime):
    """One story on one running stack, each step building on the previous one's state (starting the
    stack costs far more than the steps), hence its length."""
    run = runtime
    wait_for(
        lambda: health(run).get("worker") == "ok" and health(run).get("beat") == "ok",
        120,
        "the worker and beat heartbeats",
        run,
    )

    now = dt.datetime.now(dt.UTC)
    dana = api(run, "POST", "contacts/", email="dana@example.com", first_name="Dana", email_opt_in=True)
    api(
        run,
        "POST",
        "contacts/",
        email="late@example.com",
        first_name="Late",
        signed_up_at=(now - dt.timedelta(days=1) + AHEAD).isoformat(),
    )
    older = api(
        run,
        "POST",
        "segments/",
        name="Signed up over a day ago",
        kind="dynamic",
        rules={"field": "signed_up", "op": "more_than_days_ago", "value": 1},
    )
    assert "late@example.com" not in member_emails(run, older["id"])

    vip = api(run, "POST", "segments/", name="VIP", kind="static")
    api(run, "POST", f"segments/{vip['id']}/members/", contacts=[dana["id"]])
    template = api(
        run,
        "POST",
        "templates/",
        name="Hello",
        subject="Hello {{ contact.first_name }}",
        html="<p>Hi {{ contact.first_name }}</p>",
        language="en",
    )
    due = dt.datetime.now(dt.UTC).replace(microsecond=0) + AHEAD
    campaign = api(
        run,
        "POST",
        "campaigns/",
        name="On time",
        template=template["id"],
        segments=[vip["id"]],
        from_email="club@example.com",
        scheduled_at=due.isoformat(),
    )
    api(run, "POST", f"campaigns/{campaign['id']}/send/")

    # The worker now holds the campaign's countdown task; kill it without warning and start another.
    if run.broker is not None:
        wait_for(lambda: any((run.broker / "unacked").iterdir()), 30, "the worker to take the task", run)
    else:
        time.sleep(5)
    run.kill("worker")
    time.sleep(3)
    run.start("worker")

    wait_for(lambda: run.sink.messages, 150, "the scheduled mail", run)
    arrived = dt.datetime.now(dt.UTC)
    assert due - dt.timedelta(seconds=1) <= arrived <= due + dt.timedelta(seconds=70), (due, arrived)
    assert run.sink.recipients() == ["dana@example.com"]
    assert str(run.sink.messages[0]["Subject"]) == "Hello Dana"
    wait_for(
        lambda: api(run, "GET", f"campaigns/{campaign['id']}/")["status"] == "sent",
        60,
        "the campaign to be marked sent",
        run,
    )

    wait_for(
        lambda: "late@example.com" in member_emails(run, older["id"]),
        150,
        "the time-based segment to take the contact in",
        run,
    )
    time.sleep(5)
    assert run.sink.recipients() == ["dana@example.com"]  # nothing sent twice after the restart
