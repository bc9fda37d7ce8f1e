"""Production start-up: the settings refuse to load unsafe, and a production-like environment passes
`manage.py check --deploy` without a warning.

What a setting comes to is read by evaluating crm/settings.py afresh, in this process, under the
environment a new process would get; only what needs a start of its own (the web app, the worker and
beat refusing to start, `manage.py check`) starts a fresh interpreter, seconds each."""

import io
import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from crm.security import DEV_SECRET_KEY, refuse_unsafe_start

ROOT = Path(__file__).resolve().parents[2]
# Left out of the environment a test starts from: set by the test run itself (pytest turns DEBUG on
# by default), or by the browser tests for Playwright (DJANGO_ALLOW_ASYNC_UNSAFE).
TEST_RUN_VARIABLES = {"PYTEST_VERSION", "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def clean_environment(**overrides: str) -> dict[str, str]:
    """The environment of a fresh process: no leftovers of the test run, then `overrides`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in TEST_RUN_VARIABLES and not key.startswith(("SECURE_", "PYTEST_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="crm.settings", **overrides)
    return env


def run(args: list[str], **overrides: str) -> subprocess.CompletedProcess:
    """A fresh interpreter with a clean environment: no .env-independent leftovers of the test run."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean_environment(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )


def load_settings(**overrides: str) -> dict[str, Any]:
    """crm/settings.py evaluated in a fresh namespace under `clean_environment(**overrides)`: what
    `import crm.settings` gives a new process, without starting one. The test run's own settings and
    environment are left as they were."""
    with mock.patch.dict(os.environ, clean_environment(**overrides), clear=True):
        return runpy.run_path(str(ROOT / "crm" / "settings.py"), run_name="crm.settings")


def production_env() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "crm.example.com",
        "SITE_URL": "https://crm.example.com",
        "TRUST_X_FORWARDED_PROTO": "true",
        "ANYMAIL_WEBHOOK_SECRET": f"hooks:{secrets.token_urlsafe(32)}",
    }


WEAK_KEYS = [
    None,
    "",
    "insecure-local-development-key-change-me",
    "django-insecure-" + "x1y2z3" * 10,
    "short-but-random-Q9",
    "ab" * 40,
]
WORKER_START = "import crm.celery; from celery.signals import worker_init; worker_init.send(sender=None)"
BEAT_START = "import crm.celery; from celery.signals import beat_init; beat_init.send(sender=None)"
# Each way of starting, in a process of its own, with a different one of the weak keys; every weak key
# is refused by the rule they all call (the in-process tests below).
STARTS = {"import crm.wsgi": None, "import crm.asgi": "", WORKER_START: WEAK_KEYS[3], BEAT_START: WEAK_KEYS[5]}


def weak(secret_key) -> dict[str, str]:
    return {"DEBUG": "false"} if secret_key is None else {"DEBUG": "false", "SECRET_KEY": secret_key}


@pytest.fixture
def with_settings_of(settings):
    """Puts DEBUG and SECRET_KEY as crm/settings.py reads them from an environment into the running
    settings, for the start-up rule and the system check to judge."""

    def apply(**environment: str) -> None:
        loaded = load_settings(**environment)
        settings.DEBUG, settings.SECRET_KEY = loaded["DEBUG"], loaded["SECRET_KEY"]

    return apply


@pytest.mark.parametrize(("start", "secret_key"), STARTS.items())
def test_the_web_app_worker_and_beat_refuse_to_start_with_debug_off_and_a_missing_default_or_weak_key(
    start, secret_key
):
    result = run(["-c", start], **weak(secret_key))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("secret_key", WEAK_KEYS)
def test_with_debug_off_a_missing_default_or_weak_key_is_refused_at_start(secret_key, with_settings_of):
    with_settings_of(**weak(secret_key))

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        refuse_unsafe_start()


def test_management_commands_still_run_and_the_check_says_what_to_fix():
    result = run(["manage.py", "check"], **weak(None))

    assert result.returncode == 0, result.stderr
    assert "crm.W001" in result.stderr + result.stdout and "SECRET_KEY" in result.stderr + result.stdout


@pytest.mark.parametrize("secret_key", WEAK_KEYS)
def test_the_check_says_what_to_fix_for_every_missing_default_or_weak_key(secret_key, with_settings_of):
    with_settings_of(**weak(secret_key))
    out, err = io.StringIO(), io.StringIO()

    call_command("check", stdout=out, stderr=err)  # raises on an error; warnings do not stop it

    assert "crm.W001" in err.getvalue() + out.getvalue() and "SECRET_KEY" in err.getvalue() + out.getvalue()


def test_a_real_key_starts_the_web_app_and_the_worker():
    result = run(["-c", f"import crm.wsgi; {WORKER_START}"], DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64))

    assert result.returncode == 0, result.stderr


def test_debug_is_off_by_default_and_then_https_is_enforced():
    loaded = load_settings(SECRET_KEY=secrets.token_urlsafe(64))

    assert [loaded["DEBUG"], loaded["SECURE_SSL_REDIRECT"], loaded["SESSION_COOKIE_SECURE"]] == [False, True, True]


def test_development_mode_starts_with_the_local_key_and_plain_http():
    loaded = load_settings(DEBUG="true")

    assert [loaded["DEBUG"], loaded["SECURE_SSL_REDIRECT"], loaded["SESSION_COOKIE_SECURE"]] == [True, False, False]
    assert loaded["SECRET_KEY"] == DEV_SECRET_KEY


def test_a_forwarded_proto_header_is_trusted_only_when_configured():
    untrusted = load_settings(SECRET_KEY=secrets.token_urlsafe(64))
    trusted = load_settings(SECRET_KEY=secrets.token_urlsafe(64), TRUST_X_FORWARDED_PROTO="true")

    assert "SECURE_PROXY_SSL_HEADER" not in untrusted
    assert trusted["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_check_deploy_with_a_production_like_environment_reports_nothing():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "WARNING" not in result.stderr.upper()
