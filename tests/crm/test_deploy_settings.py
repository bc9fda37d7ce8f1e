"""Production start-up: the settings refuse to load unsafe, and a production-like environment passes
`manage.py check --deploy` without a warning."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_ONLY = "import crm.settings as s; print('DEBUG', s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE)"


def run(args: list[str], **overrides: str) -> subprocess.CompletedProcess:
    """A fresh interpreter with a clean environment: no .env-independent leftovers of the test run."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"PYTEST_VERSION", "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE",
                          "DJANGO_ALLOW_ASYNC_UNSAFE"}  # set by the browser tests for Playwright
           and not key.startswith(("SECURE_", "PYTEST_"))}
    env.update(DJANGO_SETTINGS_MODULE="crm.settings", **overrides)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def production_env() -> dict[str, str]:
    return {"SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "crm.example.com",
            "SITE_URL": "https://crm.example.com", "TRUST_X_FORWARDED_PROTO": "true",
            "ANYMAIL_WEBHOOK_SECRET": f"hooks:{secrets.token_urlsafe(32)}"}


WEAK_KEYS = [None, "", "insecure-local-development-key-change-me", "django-insecure-" + "x1y2z3" * 10,
             "short-but-random-Q9", "ab" * 40]
WORKER_START = "import crm.celery; from celery.signals import worker_init; worker_init.send(sender=None)"
BEAT_START = "import crm.celery; from celery.signals import beat_init; beat_init.send(sender=None)"


def weak(secret_key) -> dict[str, str]:
    return {"DEBUG": "false"} if secret_key is None else {"DEBUG": "false", "SECRET_KEY": secret_key}


@pytest.mark.parametrize("secret_key", WEAK_KEYS)
@pytest.mark.parametrize("start", ["import crm.wsgi", "import crm.asgi", WORKER_START, BEAT_START])
def test_the_web_app_worker_and_beat_refuse_to_start_with_debug_off_and_a_missing_default_or_weak_key(
        secret_key, start):
    result = run(["-c", start], **weak(secret_key))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("secret_key", WEAK_KEYS)
def test_management_commands_still_run_and_the_check_says_what_to_fix(secret_key):
    result = run(["manage.py", "check"], **weak(secret_key))

    assert result.returncode == 0, result.stderr
    assert "crm.W001" in result.stderr + result.stdout and "SECRET_KEY" in result.stderr + result.stdout


def test_a_real_key_starts_the_web_app_and_the_worker():
    key = secrets.token_urlsafe(64)
    assert run(["-c", "import crm.wsgi"], DEBUG="false", SECRET_KEY=key).returncode == 0
    assert run(["-c", WORKER_START], DEBUG="false", SECRET_KEY=key).returncode == 0


def test_debug_is_off_by_default_and_then_https_is_enforced():
    result = run(["-c", SETTINGS_ONLY], SECRET_KEY=secrets.token_urlsafe(64))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DEBUG", "False", "True", "True"]


def test_development_mode_starts_with_the_local_key_and_plain_http():
    result = run(["-c", SETTINGS_ONLY], DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DEBUG", "True", "False", "False"]


def test_a_forwarded_proto_header_is_trusted_only_when_configured():
    code = "import crm.settings as s; print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    untrusted = run(["-c", code], SECRET_KEY=secrets.token_urlsafe(64))
    trusted = run(["-c", code], SECRET_KEY=secrets.token_urlsafe(64), TRUST_X_FORWARDED_PROTO="true")

    assert untrusted.stdout.strip() == "None"
    assert trusted.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_check_deploy_with_a_production_like_environment_reports_nothing():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "WARNING" not in result.stderr.upper()
