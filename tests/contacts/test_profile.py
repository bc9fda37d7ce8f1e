"""The contact profile page: its summary header, its bounded tabs, typed custom fields and the search box."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from contacts import services
from contacts.models import ConsentEvent, Contact, CustomField, FunnelStage
from contacts.selectors import contact_search_q
from tests.contacts.test_admin import CHANGELIST, change_url, contact_form_data, listed_ids
from tests.factories import ContactFactory, MemberFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


def tab(response, key):
    return next(t for t in response.context["tabs"] if t.key == key)


# ---------------------------------------------------------------- header and tabs


def test_header_sums_up_value_funnel_club_and_consent(admin_client):
    contact = ContactFactory(email_opt_in=True, sms_opt_in=False)
    for total in ("100.00", "300.00"):
        PurchaseFactory(contact=contact, total=Decimal(total), purchased_at=timezone.now() - dt.timedelta(days=3))
    Contact.objects.filter(pk=contact.pk).update(
        purchase_count=2,
        total_spent=Decimal("400.00"),
        funnel_stage=FunnelStage.PURCHASER,
        rfm_recency=5,
        rfm_frequency=5,
        rfm_monetary=4,
        last_purchase_at=timezone.now() - dt.timedelta(days=3),
    )
    MemberFactory(contact=contact, card_number="777001", tier="gold", points=1250)
    response = admin_client.get(change_url(contact))
    header = response.context["profile"]
    assert header["spent"] == "400.00"
    assert header["aov"] == "200.00"
    assert header["orders"] == 2
    assert header["funnel_label"] == "Purchaser"
    assert header["rfm"]["segment"] == "Champions"
    assert header["club"]["card_number"] == "777001"
    assert [(c["channel"], c["granted"]) for c in header["consent"]] == [("Email", True), ("SMS", False)]
    html = response.content.decode()
    assert 'class="badge funnel funnel-4"' in html
    assert html.index("profile-header") < html.index('role="tablist"') < html.index('id="section-edit"')


def test_tabs_come_in_order_timeline_first_and_the_form_last(admin_client):
    response = admin_client.get(change_url(ContactFactory()))
    keys = [t.key for t in response.context["tabs"]]
    assert keys[0] == "timeline" and keys[-1] == "edit"
    assert keys.index("purchases") < keys.index("mails") < keys.index("segments") < keys.index("flows")
    assert keys.index("flows") < keys.index("ledger")


def test_the_form_has_save_at_the_top_and_the_bottom(admin_client):
    html = admin_client.get(change_url(ContactFactory())).content.decode()
    assert html.count('name="_save"') == 2


def test_purchases_tab_shows_the_latest_with_a_link_to_all(admin_client):
    contact = ContactFactory()
    start = timezone.now() - dt.timedelta(days=60)
    for day in range(25):
        PurchaseFactory(contact=contact, purchased_at=start + dt.timedelta(days=day))
    purchases = tab(admin_client.get(change_url(contact)), "purchases")
    assert len(purchases.rows) == 20
    assert purchases.more_url.endswith(f"?contact__id__exact={contact.pk}")


def test_ledger_tab_shows_points_entries_or_says_not_a_member(admin_client):
    member = MemberFactory()
    services.points_adjust(member=member, delta=50, reason="Birthday gift")
    ledger = tab(admin_client.get(change_url(member.contact)), "ledger")
    assert [row[1] for row in ledger.rows] == ["+50"]
    outsider = tab(admin_client.get(change_url(ContactFactory())), "ledger")
    assert outsider.rows == [] and outsider.empty == "Not a club member."


def test_a_contact_name_with_markup_is_escaped_in_the_profile(admin_client):
    contact = ContactFactory(first_name="<script>alert(1)</script>", city="<b>Haifa</b>")
    html = admin_client.get(change_url(contact)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<b>Haifa</b>" not in html


def test_profile_page_reads_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries):
    contact = ContactFactory()
    for day in range(30):
        PurchaseFactory(contact=contact, purchased_at=timezone.now() - dt.timedelta(days=day))
    with django_assert_max_num_queries(45):
        admin_client.get(change_url(contact))


# ---------------------------------------------------------------- custom fields


@pytest.fixture
def definitions(db):
    return {
        "shoe_size": CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER),
        "wedding_day": CustomField.objects.create(key="wedding_day", label="Wedding day", type=CustomField.Type.DATE),
        "vip": CustomField.objects.create(key="vip", label="VIP", type=CustomField.Type.BOOLEAN),
        "pet": CustomField.objects.create(key="pet", label="Pet", type=CustomField.Type.CHOICE, choices=["dog", "cat"]),
        "nickname": CustomField.objects.create(key="nickname", label="Nickname", type=CustomField.Type.TEXT),
    }


def typed(**values):
    return {f"attributes__{key}": value for key, value in values.items()}


def test_custom_fields_render_as_typed_inputs(admin_client, definitions):
    contact = ContactFactory(attributes={"shoe_size": 38, "vip": True, "pet": "cat"})
    html = admin_client.get(change_url(contact)).content.decode()
    assert 'type="number" name="attributes__shoe_size"' in html and 'value="38"' in html
    assert 'type="date" name="attributes__wedding_day"' in html
    assert '<select name="attributes__pet"' in html and '<option value="cat" selected>' in html
    assert '<option value="true" selected>' in html
    assert 'name="attributes"' not in html  # no raw JSON box


def test_typed_custom_fields_are_saved_and_unknown_keys_kept(admin_client, definitions):
    contact = ContactFactory(attributes={"loyalty_source": "shopify", "shoe_size": 40})
    data = contact_form_data(contact) | typed(
        shoe_size="38.5", wedding_day="2019-06-14", vip="true", pet="Dog", nickname=" Didi "
    )
    response = admin_client.post(change_url(contact), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact.refresh_from_db()
    assert contact.attributes == {
        "loyalty_source": "shopify",
        "shoe_size": 38.5,
        "wedding_day": "2019-06-14",
        "vip": True,
        "pet": "dog",
        "nickname": "Didi",
    }


def test_emptying_a_custom_field_removes_it(admin_client, definitions):
    contact = ContactFactory(attributes={"shoe_size": 40, "pet": "cat"})
    response = admin_client.post(change_url(contact), contact_form_data(contact) | typed(shoe_size="", pet="cat"))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.attributes == {"pet": "cat"}


@pytest.mark.parametrize(
    "values, label",
    [
        ({"shoe_size": "forty"}, "Shoe size"),
        ({"shoe_size": "1e999"}, "Shoe size"),
        ({"wedding_day": "1800-01-01"}, "Wedding day"),
        ({"wedding_day": "14/06/2019x"}, "Wedding day"),
        ({"pet": "hamster"}, "Pet"),
        ({"vip": "perhaps"}, "VIP"),
        ({"nickname": "x" * 5000}, "Nickname"),
    ],
)
def test_a_bad_custom_value_is_an_error_naming_the_field(admin_client, definitions, values, label):
    contact = ContactFactory(attributes={"shoe_size": 40})
    response = admin_client.post(change_url(contact), contact_form_data(contact) | typed(**values))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["attributes"]
    assert any(error.startswith(f"{label}: ") for error in errors), errors
    contact.refresh_from_db()
    assert contact.attributes == {"shoe_size": 40}


def test_a_bad_value_shows_the_edit_tab_with_what_was_typed(admin_client, definitions):
    contact = ContactFactory()
    response = admin_client.post(change_url(contact), contact_form_data(contact) | typed(shoe_size="forty"))
    html = response.content.decode()
    assert 'data-initial="edit"' in html
    assert 'value="forty"' in html


def test_save_and_continue_comes_back_to_the_form_tab(admin_client):
    contact = ContactFactory()
    response = admin_client.post(change_url(contact), contact_form_data(contact) | {"_continue": "1"})
    assert response.status_code == 302 and response["Location"].endswith("#edit")


# ---------------------------------------------------------------- search


@pytest.mark.parametrize("term", ["dana.le", "Dana.Levi@", "dana.levi@shop.example", "DANA"])
def test_search_finds_a_contact_by_the_start_of_the_email(admin_client, term):
    dana = ContactFactory(email="dana.levi@shop.example", first_name="Noa", last_name="Cohen")
    other = ContactFactory(email="ron@shop.example", first_name="Ron", last_name="Bar")
    found = listed_ids(admin_client.get(CHANGELIST, {"q": term}))
    assert dana.pk in found and other.pk not in found


def test_search_does_not_scan_for_text_inside_an_email(admin_client):
    ContactFactory(email="dana.levi@gmail.com", first_name="Noa", last_name="Cohen")
    assert listed_ids(admin_client.get(CHANGELIST, {"q": "gmail"})) == set()


@pytest.mark.parametrize("term", ["052-123 4567", "+972521234567", "CARD-99"])
def test_search_still_finds_phones_and_cards_exactly(admin_client, term):
    member = MemberFactory(card_number="CARD-99", contact__phone="+972521234567")
    ContactFactory(phone="+972529999999")
    assert listed_ids(admin_client.get(CHANGELIST, {"q": term})) == {member.contact.pk}


@pytest.mark.parametrize("term", ["Dan", "dana.l", "dana@ex", "052-123 4567", "CARD-99"])
def test_search_never_joins_the_club_table_so_every_branch_stays_on_an_index(term):
    MemberFactory(card_number="CARD-99")
    sql = str(Contact.objects.filter(contact_search_q(term)).query)
    assert "JOIN" not in sql


@pytest.mark.postgres
def test_the_start_of_an_email_is_found_through_the_prefix_index_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("an operator-class index is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Contact.objects.filter(contact_search_q("dana.l")).explain()
    # Either email index answers the prefix: the pattern-ops one under any collation, the unique one too where
    # the collation is "C" (as in CI's server), and the planner picks between them by their sizes.
    assert "contact_email_prefix_idx" in plan or "contact_email_unique" in plan
    assert "Seq Scan" not in plan


def test_an_empty_search_explains_what_the_box_finds(admin_client):
    ContactFactory()
    html = admin_client.get(CHANGELIST, {"q": "<i>nobody</i>"}).content.decode()
    assert "No contact matches" in html
    assert "&lt;i&gt;nobody&lt;/i&gt;" in html and "<i>nobody</i>" not in html
    assert "Text in the middle of an email" in html


def test_an_empty_filter_result_offers_to_clear_the_filters(admin_client):
    ContactFactory(city="Haifa")
    html = admin_client.get(CHANGELIST, {"city": "Eilat"}).content.decode()
    assert "No contact matches these filters." in html and "Clear all filters" in html


def test_a_huge_search_term_is_answered_not_failed(admin_client):
    assert admin_client.get(CHANGELIST, {"q": "a@" * 5000}).status_code == 200


# ---------------------------------------------------------------- erase from the profile


def test_the_profile_erases_one_contact_after_confirmation(login):
    client = login("Staff")
    contact = ContactFactory(email="leaving@example.com", email_opt_in=True)
    erase = reverse("admin:contacts_contact_erase", args=[contact.pk])
    assert erase in client.get(change_url(contact)).content.decode()
    page = client.get(erase)
    assert page.status_code == 200 and "Yes, erase" in page.content.decode()
    response = client.post(erase, {"confirm": "yes", "action": "erase_contacts"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.erased_at is not None and contact.email is None
    assert ConsentEvent.objects.filter(contact=contact).count() <= 1


def test_erasing_from_the_profile_needs_the_erase_permission(login):
    client = login("Marketer")
    contact = ContactFactory()
    assert client.get(reverse("admin:contacts_contact_erase", args=[contact.pk])).status_code == 403
    assert "/erase/" not in client.get(change_url(contact)).content.decode()
