"""The contact export page works under the admin's Content Security Policy."""

import pytest

from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_select_all_on_the_export_page_unticks_and_ticks_every_field(logged_in, live_server):
    ContactFactory()
    page = logged_in
    page.goto(f"{live_server.url}/admin/contacts/contact/export/")
    fields = page.locator('.selectable-field-export-row input[type="checkbox"]')
    assert fields.count() > 3
    page.locator("input.select-toggle").first.uncheck()
    assert not any(fields.nth(i).is_checked() for i in range(fields.count()))
    page.locator("input.select-toggle").first.check()
    assert all(fields.nth(i).is_checked() for i in range(fields.count()))
