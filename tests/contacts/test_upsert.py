import pytest
from django.core.exceptions import ValidationError

from contacts import ingest, services
from contacts.models import ConsentEvent, Contact, CustomField, EmailStatus, FunnelStage, Tag
from contacts.serializers import ContactSerializer, ContactUpsertSerializer, read_input
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db


def upsert(**data):
    """Raw input read as the API reads it, then upserted."""
    return services.contact_upsert(**read_input(ContactUpsertSerializer, data))


def create(**data):
    return services.contact_create(**read_input(ContactSerializer, data))


def update(contact, **data):
    return services.contact_update(contact=contact, **read_input(ContactSerializer, data))


def test_upsert_creates_a_contact_with_normalized_fields():
    contact, created = upsert(
        email=" Dana@Example.com ", phone="050-123-4567", first_name="  Dana ", gender="Female", birth_date="17/05/1990"
    )
    assert created
    contact.refresh_from_db()
    assert (contact.email, contact.phone, contact.first_name, contact.gender) == (
        "dana@example.com",
        "+972501234567",
        "Dana",
        "female",
    )
    assert contact.birth_date.isoformat() == "1990-05-17"
    assert contact.signed_up_at is not None
    assert contact.source == "api"


def test_upsert_matches_on_email_ignoring_case():
    existing = ContactFactory(email="dana@example.com")
    contact, created = upsert(email="DANA@example.com", city="Haifa")
    assert not created
    assert contact.pk == existing.pk
    assert Contact.objects.count() == 1
    existing.refresh_from_db()
    assert existing.city == "Haifa"


def test_upsert_matches_on_phone_when_email_is_new():
    existing = ContactFactory(email=None, phone="+972501234567")
    contact, created = upsert(email="new@example.com", phone="0501234567")
    assert not created and contact.pk == existing.pk
    existing.refresh_from_db()
    assert existing.email == "new@example.com"


def test_upsert_matches_on_external_id_when_email_and_phone_are_new():
    existing = ContactFactory(email=None, external_id="crm-7")
    contact, created = upsert(email="x@example.com", phone="050-765-4321", external_id="crm-7")
    assert not created and contact.pk == existing.pk
    existing.refresh_from_db()
    assert (existing.email, existing.phone) == ("x@example.com", "+972507654321")


def test_upsert_matches_on_card_number_last():
    member = MemberFactory(card_number="900012345678", contact__email=None)
    contact, created = upsert(first_name="Noa", card_number=" 900012345678 ")
    assert not created and contact.pk == member.contact_id
    assert Contact.objects.count() == 1


def test_upsert_prefers_email_over_phone_match():
    by_email = ContactFactory(email="a@example.com", phone=None)
    ContactFactory(email="b@example.com", phone="+972501234567")
    with pytest.raises(ValidationError):
        upsert(email="a@example.com", phone="0501234567")
    contact, _ = upsert(email="a@example.com", city="Eilat")
    assert contact.pk == by_email.pk


def test_upsert_needs_at_least_one_identity():
    with pytest.raises(ValidationError) as excinfo:
        upsert(first_name="Nobody")
    assert "email" in excinfo.value.message_dict
    assert not Contact.objects.exists()


def test_upsert_with_invalid_email_names_email_and_writes_nothing():
    with pytest.raises(ValidationError) as excinfo:
        upsert(email="dana@", first_name="Dana")
    assert set(excinfo.value.message_dict) == {"email"}
    assert not Contact.objects.exists()


def test_upsert_blank_values_never_wipe_stored_ones():
    existing = ContactFactory(
        email="dana@example.com",
        phone="+972501234567",
        first_name="Dana",
        city="Haifa",
        gender="female",
        marital_status="married",
        birth_date="1990-05-17",
        email_opt_in=True,
        sms_opt_in=True,
        attributes={"shoe_size": 38, "pet": "cat"},
    )
    CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER)
    upsert(
        email="dana@example.com",
        phone="",
        first_name="  ",
        city=None,
        gender="",
        marital_status=None,
        birth_date="",
        email_opt_in="",
        sms_opt_in=None,
        attributes={"shoe_size": "", "pet": None},
    )
    existing.refresh_from_db()
    assert existing.phone == "+972501234567"
    assert (existing.first_name, existing.city) == ("Dana", "Haifa")
    assert (existing.gender, existing.marital_status) == ("female", "married")
    assert existing.birth_date.isoformat() == "1990-05-17"
    assert existing.email_opt_in and existing.sms_opt_in
    assert existing.attributes == {"shoe_size": 38, "pet": "cat"}
    assert not ConsentEvent.objects.exists()


def test_upsert_adds_tags_without_removing_existing_ones():
    contact, _ = upsert(email="dana@example.com", tags=["vip"])
    upsert(email="dana@example.com", tags=["VIP", "newsletter"])
    assert sorted(contact.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    assert Tag.objects.count() == 2


def test_upsert_merges_attributes():
    contact, _ = upsert(email="dana@example.com", attributes={"shoe_size": 38, "pet": "cat"})
    upsert(email="dana@example.com", attributes={"pet": "dog", "skin": "dry"})
    contact.refresh_from_db()
    assert contact.attributes == {"shoe_size": 38, "pet": "dog", "skin": "dry"}


def test_upsert_type_checks_attributes_naming_the_key():
    CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER)
    with pytest.raises(ValidationError) as excinfo:
        upsert(email="dana@example.com", attributes={"shoe_size": "large"})
    assert set(excinfo.value.message_dict) == {"attributes.shoe_size"}


def test_upsert_consent_grant_writes_a_consent_event():
    contact, _ = upsert(email="dana@example.com", email_opt_in="yes")
    contact.refresh_from_db()
    assert contact.email_opt_in
    event = ConsentEvent.objects.get()
    assert (event.contact_id, event.channel, event.granted, event.source) == (contact.pk, "email", True, "api")


def test_upsert_consent_change_on_existing_contact_is_logged_once():
    contact = ContactFactory(email="dana@example.com", email_opt_in=True, sms_opt_in=False)
    upsert(email="dana@example.com", email_opt_in=True, sms_opt_in=True)
    upsert(email="dana@example.com", email_opt_in=False, sms_opt_in=True)
    contact.refresh_from_db()
    assert (contact.email_opt_in, contact.sms_opt_in) == (False, True)
    log = list(ConsentEvent.objects.order_by("id").values_list("channel", "granted"))
    assert log == [("sms", True), ("email", False)]


def test_upsert_with_phone_of_another_contact_names_phone_and_writes_nothing():
    dana = ContactFactory(email="dana@example.com", phone=None, first_name="Dana", email_opt_in=False)
    ContactFactory(email="noa@example.com", phone="+972501234567")
    with pytest.raises(ValidationError) as excinfo:
        upsert(email="dana@example.com", phone="050-123-4567", first_name="Changed", email_opt_in=True, tags=["vip"])
    assert set(excinfo.value.message_dict) == {"phone"}
    dana.refresh_from_db()
    assert (dana.phone, dana.first_name, dana.email_opt_in) == (None, "Dana", False)
    assert not ConsentEvent.objects.exists()
    assert not Tag.objects.exists()


def test_upsert_with_external_id_of_another_contact_names_external_id():
    ContactFactory(email="dana@example.com")
    ContactFactory(email="noa@example.com", external_id="crm-1")
    with pytest.raises(ValidationError) as excinfo:
        upsert(email="dana@example.com", external_id="crm-1")
    assert set(excinfo.value.message_dict) == {"external_id"}


def test_upsert_keeps_derived_fields():
    contact = ContactFactory(email="dana@example.com", funnel_stage=FunnelStage.CART)
    upsert(email="dana@example.com", city="Haifa")
    contact.refresh_from_db()
    assert contact.funnel_stage == FunnelStage.CART


def test_contact_create_makes_a_new_contact():
    contact = create(email="Dana@Example.com", tags=["vip"], source="in_store")
    assert contact.email == "dana@example.com"
    assert contact.source == "in_store"
    assert list(contact.tags.values_list("name", flat=True)) == ["vip"]


def test_contact_create_with_an_email_in_use_names_email():
    ContactFactory(email="dana@example.com")
    with pytest.raises(ValidationError) as excinfo:
        create(email="DANA@example.com")
    assert set(excinfo.value.message_dict) == {"email"}
    assert Contact.objects.count() == 1


def test_contact_update_replaces_given_fields_and_tag_set():
    contact = create(email="dana@example.com", city="Haifa", tags=["a", "b"], attributes={"x": 1, "y": 2})
    update(contact, city="", tags=["c"], attributes={"y": 3})
    contact.refresh_from_db()
    assert contact.city == ""
    assert contact.attributes == {"y": 3}
    assert list(contact.tags.values_list("name", flat=True)) == ["c"]


def test_contact_update_with_a_phone_in_use_names_phone_and_saves_nothing():
    ContactFactory(phone="+972501234567")
    contact = ContactFactory(email="dana@example.com", city="Haifa")
    with pytest.raises(ValidationError) as excinfo:
        update(contact, phone="0501234567", city="Eilat")
    assert set(excinfo.value.message_dict) == {"phone"}
    contact.refresh_from_db()
    assert (contact.phone, contact.city) == (None, "Haifa")


def test_contact_update_does_not_overwrite_derived_fields_with_stale_values():
    contact = ContactFactory(email="dana@example.com")
    stale = Contact.objects.get(pk=contact.pk)
    ingest.purchase_ingest(data={"contact": contact.pk, "external_id": "o-1", "total": "80"})
    services.contact_update(contact=stale, city="Eilat")
    contact.refresh_from_db()
    assert contact.city == "Eilat"
    assert contact.purchase_count == 1
    assert contact.funnel_stage == FunnelStage.PURCHASER


def test_contact_update_consent_change_writes_a_consent_event():
    contact = ContactFactory(email_opt_in=True)
    services.contact_update(contact=contact, email_opt_in=False, origin="admin")
    event = ConsentEvent.objects.get()
    assert (event.granted, event.source) == (False, "admin")
    contact.refresh_from_db()
    assert not contact.email_opt_in
    assert contact.email_status == EmailStatus.ACTIVE


def test_bulk_tagging_counts_only_contacts_tagged_newly():
    tagged, _ = upsert(email="a@example.com", tags=["VIP"])
    others = ContactFactory.create_batch(2)
    ids = (c.pk for c in [tagged, *others])
    assert services.contacts_add_tag(contact_ids=ids, name="vip") == 2
    assert Contact.objects.filter(tags__name="VIP").count() == 3
