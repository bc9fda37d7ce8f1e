"""The API docs render under the Content Security Policy (no inline script needed)."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_swagger_ui_renders_the_schema_without_policy_violations(page, live_server):
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )

    response = page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-tag")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert violations == []
