"""Headless Chromium from the system packages (/usr/bin/chromium), driven by Playwright.

No browser is downloaded: tests are skipped when the system Chromium is missing, and CI
installs the Debian package first.
"""

import os
import shutil

import pytest

from tests.browser.session import log_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip("system Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def logged_in(page, live_server, django_user_model):
    django_user_model.objects.create_superuser("marketer", "m@example.com", "pw-Marketer-1")
    log_in(page, live_server)
    return page


@pytest.fixture(scope="session", autouse=True)
def _static_files_cached_as_in_production():
    """The test server answers static files as WhiteNoise does in production (`max-age=60`), so the browser
    keeps the admin's scripts and styles between pages instead of asking for each again on every page."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    serve = StaticFilesHandler.serve

    def cached(self, request):
        response = serve(self, request)
        response.headers["Cache-Control"] = "max-age=60, public"
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StaticFilesHandler, "serve", cached)
        yield
