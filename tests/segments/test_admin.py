import csv
import hashlib
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from segments import services
from segments.models import Segment, SegmentMembership
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

HAIFA = {"field": "city", "op": "eq", "value": "Haifa"}


def sha(value):
    return hashlib.sha256(value.encode()).hexdigest()


def test_the_add_page_embeds_the_builder_and_its_catalogue(admin_client):
    response = admin_client.get(reverse("admin:segments_segment_add"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="segment-builder"' in html and "segments/builder.js" in html
    catalogue = json.loads(html.split('id="builder-catalogue" type="application/json">')[1].split("</script>")[0])
    assert {"city", "purchase_count", "cart_abandoned", "in_segment"} <= {c["field"] for c in catalogue}
    assert not re.search(r'(src|href)="(https?:)?//', html), "every asset is served by the app itself"


def test_saving_through_the_admin_validates_and_fills_the_segment(admin_client):
    ContactFactory(city="Haifa")
    url = reverse("admin:segments_segment_add")
    bad = admin_client.post(url, {"name": "Bad", "kind": "dynamic", "rules": json.dumps({"field": "age"})})
    assert bad.status_code == 200
    assert "op: Operator" in bad.content.decode()
    good = admin_client.post(url, {"name": "Haifa", "kind": "dynamic", "rules": json.dumps(HAIFA)})
    assert good.status_code == 302
    segment = Segment.objects.get(name="Haifa")
    assert segment.member_count == 1 and segment.created_by is not None


def test_preview_returns_count_first_contacts_and_time(admin_client):
    for _ in range(3):
        ContactFactory(city="Haifa")
    ContactFactory(city="Eilat")
    response = admin_client.post(
        reverse("admin:segments_segment_preview"), json.dumps(HAIFA), content_type="application/json"
    )
    data = response.json()
    assert data["count"] == 3 and len(data["contacts"]) == 3
    assert data["milliseconds"] >= 0
    assert data["contacts"][0]["url"].startswith("/admin/contacts/contact/")


def test_preview_of_bad_rules_says_where(admin_client):
    response = admin_client.post(
        reverse("admin:segments_segment_preview"),
        json.dumps({"all": [{"field": "city", "op": "eq", "value": ""}]}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == ["Row 1 — City: enter a text value"]
    assert response.json()["rows"] == [
        {"row": 1, "path": "all[0]", "key": "value", "message": "Row 1 — City: enter a text value"}
    ]


def test_the_segment_page_shows_history_members_and_export_links(admin_client):
    contact = ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa", rules=HAIFA)
    html = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()
    assert "sb-chart" in html and escape(str(contact)) in html
    assert reverse("admin:segments_segment_export", args=[segment.pk, "meta"]) in html


def test_why_view_lists_met_and_failed_conditions(admin_client):
    contact = ContactFactory(city="Haifa", email_opt_in=False)
    services.segment_create(
        name="Haifa readers", rules={"all": [HAIFA, {"field": "email_consent", "op": "is", "value": True}]}
    )
    html = admin_client.get(reverse("admin:segments_segment_why", args=[contact.pk])).content.decode()
    assert "Haifa readers" in html and "One condition away" in html
    assert "✔ City is Haifa" in html
    assert "✘ Can receive marketing email is yes" in html


def test_deleting_a_used_segment_in_the_admin_is_refused(admin_client):
    inner = services.segment_create(name="Inner", rules=HAIFA, refresh=False)
    services.segment_create(
        name="Outer", rules={"field": "in_segment", "op": "is", "value": True, "segment": inner.pk}, refresh=False
    )
    response = admin_client.post(
        reverse("admin:segments_segment_delete", args=[inner.pk]), {"post": "yes"}, follow=True
    )
    assert Segment.objects.filter(pk=inner.pk).exists()
    assert "Outer" in response.content.decode()


def read_csv(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_meta_export_hashes_every_column_with_meta_normalization(admin_client):
    ContactFactory(
        email="Dana.Levi@Gmail.com",
        phone="+972501234567",
        first_name="Dana",
        last_name="Levi",
        city="Tel Aviv",
        country="IL",
        gender="female",
        email_opt_in=True,
        sms_opt_in=True,
    )
    ContactFactory(email="no@example.com", email_opt_in=False, sms_opt_in=False)
    segment = services.segment_create(name="All", rules={"all": []})
    rows = read_csv(admin_client.get(reverse("admin:segments_segment_export", args=[segment.pk, "meta"])))
    assert rows[0] == ["email", "phone", "fn", "ln", "ct", "country", "dob", "gen"]
    assert len(rows) == 2, "contacts without consent are not exported"
    email, phone, fn, ln, ct, country, dob, gen = rows[1]
    assert email == sha("dana.levi@gmail.com")
    assert phone == sha("972501234567")
    assert (fn, ln, ct) == (sha("dana"), sha("levi"), sha("telaviv"))
    assert country == sha("il") and gen == sha("f") and dob == ""


def test_google_export_keeps_plus_in_phone_strips_gmail_dots_and_leaves_country_clear(admin_client):
    ContactFactory(
        email="Dana.Levi@Gmail.com",
        phone="+972501234567",
        first_name="Dana",
        last_name="Levi",
        country="IL",
        email_opt_in=True,
        sms_opt_in=True,
    )
    segment = services.segment_create(name="All", rules={"all": []})
    rows = read_csv(admin_client.get(reverse("admin:segments_segment_export", args=[segment.pk, "google"])))
    assert rows[0] == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    assert rows[1][:2] == [sha("danalevi@gmail.com"), sha("+972501234567")]
    assert rows[1][4] == "IL"


def test_the_static_list_upload_form_stands_outside_the_change_form(admin_client):
    """A form nested in the change form is dropped by the browser, leaving the Upload button dead."""
    segment = services.segment_create(name="Event guests", kind=Segment.Kind.STATIC)
    html = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()
    change_form_end = html.index("</form>", html.index('id="segment_form"'))
    assert html.index('<form id="segment-upload-form"') > change_form_end


def test_csv_export_of_a_static_list_and_upload_by_email_phone_and_id(admin_client):
    a = ContactFactory(email="a@example.com", email_opt_in=True)
    b = ContactFactory(phone="+972521112233", email_opt_in=True)
    c = ContactFactory(email_opt_in=True)
    segment = services.segment_create(name="Event guests", kind=Segment.Kind.STATIC)
    upload = SimpleUploadedFile("guests.csv", f"email\nA@example.com\n052-111-2233\n{c.pk}\nnobody@x.com\n".encode())
    response = admin_client.post(
        reverse("admin:segments_segment_upload", args=[segment.pk]), {"file": upload}, follow=True
    )
    html = response.content.decode()
    assert "3 contacts added" in html and "Line 5" in html
    assert set(SegmentMembership.objects.filter(segment=segment).values_list("contact_id", flat=True)) == {
        a.pk,
        b.pk,
        c.pk,
    }
    rows = read_csv(admin_client.get(reverse("admin:segments_segment_export", args=[segment.pk, "csv"])))
    assert {row[0] for row in rows[1:]} == {str(a.pk), str(b.pk), str(c.pk)}


def test_export_action_needs_exactly_one_segment(admin_client):
    services.segment_create(name="A", rules=HAIFA, refresh=False)
    services.segment_create(name="B", rules=HAIFA, refresh=False)
    response = admin_client.post(
        reverse("admin:segments_segment_changelist"),
        {"action": "export_meta", "_selected_action": list(Segment.objects.values_list("pk", flat=True))},
        follow=True,
    )
    assert "exactly one segment" in response.content.decode()


def test_export_streams_in_batches(admin_client, monkeypatch):
    from segments import export

    monkeypatch.setattr(export, "BATCH", 2)
    for _ in range(5):
        ContactFactory(email_opt_in=True)
    segment = services.segment_create(name="All", rules={"all": []})
    response = admin_client.get(reverse("admin:segments_segment_export", args=[segment.pk, "csv"]))
    chunks = list(response.streaming_content)
    assert len(chunks) >= 3
    assert sum(chunk.count(b"\n") for chunk in chunks) == 6


def test_contacts_changelist_action_adds_the_selection_to_a_new_static_list(admin_client):
    a, b = ContactFactory(), ContactFactory()
    ContactFactory()
    url = reverse("admin:contacts_contact_changelist")
    ask = admin_client.post(url, {"action": "add_to_static_list", "_selected_action": [a.pk, b.pk]})
    assert ask.status_code == 200 and "new list named" in ask.content.decode()
    done = admin_client.post(
        url,
        {
            "action": "add_to_static_list",
            "_selected_action": [a.pk, b.pk],
            "apply": "1",
            "new_name": "Store opening guests",
        },
        follow=True,
    )
    assert "2 contacts added" in done.content.decode()
    segment = Segment.objects.get(name="Store opening guests")
    assert segment.kind == "static" and segment.member_count == 2


def test_the_contact_page_links_to_the_why_view(admin_client):
    contact = ContactFactory()
    html = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()
    assert reverse("admin:segments_segment_why", args=[contact.pk]) in html


def test_why_view_shows_choice_labels_not_codes(admin_client):
    contact = ContactFactory()
    services.segment_create(name="Carts", rules={"field": "funnel_stage", "op": "eq", "value": "cart"})
    html = admin_client.get(reverse("admin:segments_segment_why", args=[contact.pk])).content.decode()
    assert "Funnel stage is Add to cart" in html
