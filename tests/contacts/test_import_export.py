import csv
import io
import os
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.models import Contact, LoyaltyMember, Purchase, PurchaseItem
from tests.factories import ContactFactory, MemberFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db

CONTACTS_CSV = """email,phone,first_name,last_name,birth_date,city,tags,email_opt_in,card_number,tier
dana@example.com,050-123-4567,Dana,Cohen,1990-04-12,Haifa,"vip, summer",yes,900000000001,gold
not-an-email,,Bad,Email,,,,,,
avi@example.com,12,Bad,Phone,,,,,,
noa@example.com,,Noa,Levi,31/02/1991,,,,,
Yossi@Example.com,+972 52-222-3333,Yossi,Mizrahi,,Tel Aviv,,no,,
"""

PURCHASES_CSV = """external_id,source,email,card_number,channel,store,purchased_at,total,currency,items
A-1,pos,,900000000001,in_store,S-TLV,2024-05-01 10:30,150.00,ILS,SKU-1:2:50.00;SKU-2:1:50.00
A-2,pos,buyer@example.com,,online,,2024-05-02,80,,SKU-1:1:80
A-3,pos,,,online,,not-a-date,10,,
A-4,pos,x@example.com,,online,,2024-05-03,,,
A-5,pos,y@example.com,,online,,2024-05-03,20,,NOPE:1:20
"""


def upload(client, model, content, name="data.csv"):
    url = reverse(f"admin:contacts_{model}_import")
    file = SimpleUploadedFile(name, content.encode("utf-8"), content_type="text/csv")
    return client.post(url, {"import_file": file, "format": "0", "resource": "0"})


def confirm(client, model, dry_run_response):
    form = dry_run_response.context["confirm_form"]
    url = reverse(f"admin:contacts_{model}_process_import")
    return client.post(url, {**form.initial, "format": "0", "resource": "0"}, follow=True)


def import_file(client, model, content):
    return confirm(client, model, upload(client, model, content))


def invalid_lines(response):
    return {row.number + 1: row.error_dict for row in response.context["result"].invalid_rows}


@pytest.fixture
def catalog():
    member = MemberFactory(card_number="900000000001")
    StoreFactory(code="S-TLV")
    ProductFactory(sku="SKU-1")
    ProductFactory(sku="SKU-2")
    return member


# ---------------------------------------------------------------- contacts


def test_contact_dry_run_reports_bad_lines_by_field_and_imports_nothing(admin_client):
    response = upload(admin_client, "contact", CONTACTS_CSV)
    assert response.status_code == 200
    errors = invalid_lines(response)
    assert set(errors) == {3, 4, 5}
    assert "not a valid email" in errors[3]["email"][0]
    assert "not a valid phone" in errors[4]["phone"][0]
    assert "not a valid date" in errors[5]["birth_date"][0]
    html = response.content.decode()
    assert "Confirm import" in html and 'id="invalid-rows"' in html
    assert Contact.objects.count() == 0
    assert LoyaltyMember.objects.count() == 0


def test_contact_import_keeps_good_rows_and_reports_bad_ones(admin_client):
    response = import_file(admin_client, "contact", CONTACTS_CSV)
    assert response.status_code == 200
    assert set(Contact.objects.values_list("email", flat=True)) == {"dana@example.com", "yossi@example.com"}
    dana = Contact.objects.get(email="dana@example.com")
    assert dana.phone == "+972501234567"
    assert dana.source == "import"
    assert dana.email_opt_in is True
    assert sorted(dana.tags.values_list("name", flat=True)) == ["summer", "vip"]
    assert dana.club.card_number == "900000000001" and dana.club.tier == "gold"
    assert dana.consent_events.filter(granted=True).count() == 1
    messages = " ".join(str(m) for m in response.context["messages"])
    assert "Line 3 — email:" in messages
    assert "Line 4 — phone:" in messages
    assert "Line 5 — birth_date:" in messages


def test_reimporting_the_same_contacts_creates_no_duplicates(admin_client):
    import_file(admin_client, "contact", CONTACTS_CSV)
    before = list(Contact.objects.order_by("pk").values_list("pk", "email", "phone"))
    response = import_file(admin_client, "contact", CONTACTS_CSV)
    assert response.status_code == 200
    assert list(Contact.objects.order_by("pk").values_list("pk", "email", "phone")) == before
    assert LoyaltyMember.objects.count() == 1
    assert Contact.objects.get(email="dana@example.com").consent_events.count() == 1


def test_import_updates_an_existing_contact_found_by_phone(admin_client):
    existing = ContactFactory(email=None, phone="+972501234567", city="Eilat")
    import_file(admin_client, "contact", "phone,first_name\n0501234567,Renamed\n")
    existing.refresh_from_db()
    assert existing.first_name == "Renamed"
    assert existing.city == "Eilat"
    assert Contact.objects.count() == 1


def test_contact_export_returns_the_filtered_list_as_csv(admin_client):
    haifa = ContactFactory(city="Haifa", email="haifa@example.com")
    haifa.tags.create(name="vip")
    MemberFactory(contact=haifa, card_number="4242")
    ContactFactory(city="Eilat", email="eilat@example.com")
    url = reverse("admin:contacts_contact_export") + "?city=Haifa"
    response = admin_client.post(
        url,
        {
            "format": "0",
            "resource": "0",
            "contactresource_email": "on",
            "contactresource_city": "on",
            "contactresource_tags": "on",
            "contactresource_card_number": "on",
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [{"email": "haifa@example.com", "city": "Haifa", "tags": "vip", "card_number": "4242"}]


# ---------------------------------------------------------------- purchases


def test_purchase_dry_run_reports_bad_lines_and_imports_nothing(admin_client, catalog):
    response = upload(admin_client, "purchase", PURCHASES_CSV)
    errors = invalid_lines(response)
    assert set(errors) == {4, 5, 6}
    assert "purchased_at" in errors[4]
    assert "total" in errors[5]
    assert "items.0.sku" in errors[6]
    assert Purchase.objects.count() == 0
    assert not Contact.objects.filter(email="buyer@example.com").exists()


def test_purchase_import_records_good_rows_through_the_service(admin_client, catalog):
    response = import_file(admin_client, "purchase", PURCHASES_CSV)
    assert response.status_code == 200
    assert set(Purchase.objects.values_list("external_id", flat=True)) == {"A-1", "A-2"}
    in_store = Purchase.objects.get(external_id="A-1")
    assert in_store.contact == catalog.contact
    assert in_store.store.code == "S-TLV"
    assert PurchaseItem.objects.filter(purchase=in_store).count() == 2
    catalog.contact.refresh_from_db()
    assert catalog.contact.purchase_count == 1
    assert catalog.contact.total_spent == Decimal("150.00")
    messages = " ".join(str(m) for m in response.context["messages"])
    assert "Line 4 — purchased_at:" in messages


def test_reimporting_the_same_purchases_creates_no_duplicates(admin_client, catalog):
    import_file(admin_client, "purchase", PURCHASES_CSV)
    response = upload(admin_client, "purchase", PURCHASES_CSV)
    kinds = {row.import_type for row in response.context["result"].valid_rows()}
    assert kinds == {"skip"}
    confirm(admin_client, "purchase", response)
    assert Purchase.objects.count() == 2
    assert PurchaseItem.objects.count() == 3
    catalog.contact.refresh_from_db()
    assert catalog.contact.purchase_count == 1


def test_a_purchase_row_without_external_id_is_refused(admin_client, catalog):
    response = upload(admin_client, "purchase", "email,total\nz@example.com,10\n")
    assert "external_id" in invalid_lines(response)[2]


def test_purchase_export_lists_items(admin_client, catalog):
    import_file(admin_client, "purchase", PURCHASES_CSV)
    url = reverse("admin:contacts_purchase_export") + "?channel__exact=in_store"
    response = admin_client.post(
        url, {"format": "0", "resource": "0", "purchaseresource_external_id": "on", "purchaseresource_items": "on"}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [{"external_id": "A-1", "items": "SKU-1:2:50.00; SKU-2:1:50.00"}]


def test_a_purchase_dry_run_with_a_malformed_items_cell_lists_the_line_instead_of_failing(admin_client, catalog):
    """A column named "items" once made the dry-run page look up `error_dict["items"]` and fail."""
    response = upload(
        admin_client, "purchase", 'external_id,email,total,items\nB-1,z@example.com,10,"a:1:2:3<script>x</script>"\n'
    )
    assert response.status_code == 200
    assert "items" in invalid_lines(response)[2]
    page = response.content.decode()
    assert "<td>2</td>" in page and "<td>items</td>" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page


# ---------------------------------------------------------------- spreadsheet safety and uploads


def test_contact_export_writes_formula_like_cells_as_text(admin_client):
    ContactFactory(
        email="f@example.com",
        first_name='=HYPERLINK("http://x")',
        last_name="@SUM(A1)",
        city="-2+3",
        phone="+972501234567",
    )
    url = reverse("admin:contacts_contact_export")
    response = admin_client.post(
        url,
        {
            "format": "0",
            "resource": "0",
            "contactresource_email": "on",
            "contactresource_first_name": "on",
            "contactresource_last_name": "on",
            "contactresource_city": "on",
            "contactresource_phone": "on",
        },
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        {
            "email": "f@example.com",
            "phone": "'+972501234567",
            "first_name": '\'=HYPERLINK("http://x")',
            "last_name": "'@SUM(A1)",
            "city": "'-2+3",
        }
    ]


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = str(tmp_path / "imports")
    return tmp_path / "imports"


def test_an_import_file_over_the_size_limit_is_refused_with_a_form_error(admin_client, upload_dir, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    response = upload(admin_client, "contact", CONTACTS_CSV)
    assert response.status_code == 200
    assert "import_file" in response.context["form"].errors
    assert "can be imported" in response.content.decode()
    assert Contact.objects.count() == 0
    assert not upload_dir.exists() or not any(upload_dir.iterdir())


def test_the_uploaded_file_is_kept_for_the_confirm_step_then_deleted(admin_client, upload_dir):
    dry_run = upload(admin_client, "contact", CONTACTS_CSV)
    assert len(list(upload_dir.iterdir())) == 1
    confirm(admin_client, "contact", dry_run)
    assert list(upload_dir.iterdir()) == []
    assert Contact.objects.count() == 2


def test_a_dry_run_that_cannot_be_confirmed_leaves_no_file(admin_client, upload_dir):
    response = upload(admin_client, "contact", "email,first_name\n")
    assert "confirm_form" not in response.context
    assert list(upload_dir.iterdir()) == []


def test_an_abandoned_dry_run_file_is_deleted_at_the_next_upload_once_stale(admin_client, upload_dir, settings):
    upload(admin_client, "contact", CONTACTS_CSV)
    abandoned = next(upload_dir.iterdir())
    settings.IMPORT_UPLOAD_MAX_AGE_MINUTES = 0
    os.utime(abandoned, (0, 0))
    upload(admin_client, "contact", CONTACTS_CSV)
    assert not abandoned.exists()
