"""A purchase's UTM parameters through the CSV import and export and on its admin page."""

import csv
import io

import pytest
from django.urls import reverse

from contacts.models import Purchase
from tests.factories import ContactFactory, PurchaseFactory

from .test_import_export import import_file, invalid_lines, upload

pytestmark = pytest.mark.django_db

UTM_CSV = """external_id,source,email,total,utm_source,utm_medium,utm_campaign
U-1,shop,dana@example.com,120.00, facebook ,cpc,summer
U-2,shop,avi@example.com,80.00,,,
U-3,shop,noa@example.com,80.00,crm,"e
mail",spring
"""


def test_imported_purchases_keep_their_utm_and_a_bad_value_names_its_column(admin_client):
    dry_run = upload(admin_client, "purchase", UTM_CSV)
    assert set(invalid_lines(dry_run)) == {4}
    assert "utm_medium" in invalid_lines(dry_run)[4]

    import_file(admin_client, "purchase", UTM_CSV)

    stored = {p.external_id: (p.utm_source, p.utm_medium, p.utm_campaign) for p in Purchase.objects.all()}
    assert stored == {"U-1": ("facebook", "cpc", "summer"), "U-2": ("", "", "")}


def test_the_purchase_export_has_the_utm_columns(admin_client):
    PurchaseFactory(external_id="U-9", utm_source="google", utm_medium="cpc", utm_campaign="brand")
    url = reverse("admin:contacts_purchase_export")
    fields = {f"purchaseresource_{name}": "on" for name in ("external_id", "utm_source", "utm_medium", "utm_campaign")}

    response = admin_client.post(url, {"format": "0", "resource": "0", **fields})

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [{"external_id": "U-9", "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand"}]


def test_the_purchase_page_shows_its_utm_read_only(admin_client):
    purchase = PurchaseFactory(contact=ContactFactory(), utm_source="newsletter-partner", utm_campaign="רשת-קיץ")

    page = admin_client.get(reverse("admin:contacts_purchase_change", args=[purchase.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "newsletter-partner" in html and "רשת-קיץ" in html
    assert 'name="utm_source"' not in html
