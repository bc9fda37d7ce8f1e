import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from contacts import normalize
from contacts.models import CustomField


def error_fields(excinfo) -> set[str]:
    return set(excinfo.value.message_dict)


def test_email_is_lowercased_and_stripped():
    assert normalize.email("  Dana.Levi@Example.COM ") == "dana.levi@example.com"


def test_blank_email_is_none():
    assert normalize.email("   ") is None
    assert normalize.email(None) is None


def test_invalid_email_is_an_error_naming_email():
    with pytest.raises(ValidationError) as excinfo:
        normalize.email("not-an-email")
    assert error_fields(excinfo) == {"email"}


@pytest.mark.parametrize("raw", ["050-123-4567", "0501234567", "+972 50 123 4567", "972501234567"])
def test_phone_is_stored_in_e164_read_in_israel_by_default(raw):
    assert normalize.phone(raw) == "+972501234567"


def test_phone_default_region_comes_from_settings(settings):
    settings.PHONE_DEFAULT_REGION = "US"
    assert normalize.phone("(201) 555-0123") == "+12015550123"


@pytest.mark.parametrize("raw", ["123", "abc", "050-123"])
def test_invalid_phone_is_an_error_naming_phone(raw):
    with pytest.raises(ValidationError) as excinfo:
        normalize.phone(raw)
    assert error_fields(excinfo) == {"phone"}


@pytest.mark.parametrize("raw", ["1990-05-17", "17/05/1990", "17.05.1990", dt.date(1990, 5, 17)])
def test_dates_are_read_in_iso_and_day_first_formats(raw):
    assert normalize.date(raw, "birth_date") == dt.date(1990, 5, 17)


@pytest.mark.parametrize("raw", ["1990-02-30", "31/02/1990", "yesterday", "05/17/1990", "1800-01-01"])
def test_invalid_date_is_an_error_naming_the_field(raw):
    with pytest.raises(ValidationError) as excinfo:
        normalize.date(raw, "wedding_date")
    assert error_fields(excinfo) == {"wedding_date"}


def test_bare_date_becomes_an_aware_datetime():
    value = normalize.datetime("2024-03-01", "signed_up_at")
    assert value.tzinfo is not None
    assert value.date() == dt.date(2024, 3, 1)


def test_invalid_datetime_is_an_error_naming_the_field():
    with pytest.raises(ValidationError) as excinfo:
        normalize.datetime("2024-13-45T10:00", "purchased_at")
    assert error_fields(excinfo) == {"purchased_at"}


def test_choices_ignore_case_and_spaces():
    cleaned = normalize.contact_fields({"gender": " Female ", "marital_status": "MARRIED", "source": "Web_Form"})
    assert cleaned == {"gender": "female", "marital_status": "married", "source": "web_form"}


def test_unknown_choice_is_an_error_naming_the_field():
    with pytest.raises(ValidationError) as excinfo:
        normalize.contact_fields({"gender": "robot"})
    assert error_fields(excinfo) == {"gender"}


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ValidationError) as excinfo:
        normalize.contact_fields({"email": "x@", "phone": "12", "birth_date": "soon", "first_name": "Dana"})
    assert error_fields(excinfo) == {"email", "phone", "birth_date"}


@pytest.mark.parametrize("raw, expected", [("yes", True), ("כן", True), ("0", False), ("", False), (True, True)])
def test_yes_no_words_are_read_as_booleans(raw, expected):
    assert normalize.boolean(raw, "email_opt_in") is expected


def test_unreadable_boolean_is_an_error_naming_the_field():
    with pytest.raises(ValidationError) as excinfo:
        normalize.boolean("maybe", "sms_opt_in")
    assert error_fields(excinfo) == {"sms_opt_in"}


def test_tags_are_split_trimmed_and_deduplicated_ignoring_case():
    assert normalize.tag_names(" vip, VIP;  new   customer ,") == ["vip", "new customer"]


@pytest.mark.django_db
class TestCustomAttributes:
    @pytest.fixture(autouse=True)
    def definitions(self):
        CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER)
        CustomField.objects.create(key="anniversary", label="Anniversary", type=CustomField.Type.DATE)
        CustomField.objects.create(key="has_pet", label="Has a pet", type=CustomField.Type.BOOLEAN)
        CustomField.objects.create(
            key="skin", label="Skin type", type=CustomField.Type.CHOICE, choices=["dry", "oily", "normal"]
        )

    def test_defined_attributes_are_converted_to_their_type(self):
        cleaned = normalize.attributes(
            {"shoe_size": "38", "anniversary": "01/02/2015", "has_pet": "yes", "skin": "oily", "note": "hi"}
        )
        assert cleaned == {"shoe_size": 38, "anniversary": "2015-02-01", "has_pet": True, "skin": "oily", "note": "hi"}

    def test_fractional_numbers_stay_fractional(self):
        assert normalize.attributes({"shoe_size": "38.5"}) == {"shoe_size": 38.5}

    @pytest.mark.parametrize(
        "key, raw",
        [
            ("shoe_size", "big"),
            ("shoe_size", "nan"),
            ("shoe_size", "inf"),
            ("anniversary", "someday"),
            ("has_pet", "perhaps"),
            ("skin", "scaly"),
        ],
    )
    def test_wrong_type_is_an_error_naming_the_attribute(self, key, raw):
        with pytest.raises(ValidationError) as excinfo:
            normalize.contact_fields({"attributes": {key: raw}})
        assert error_fields(excinfo) == {f"attributes.{key}"}

    def test_choice_attribute_ignores_case_and_keeps_the_defined_spelling(self):
        assert normalize.attributes({"skin": " Oily "}) == {"skin": "oily"}

    def test_attributes_must_be_an_object(self):
        with pytest.raises(ValidationError) as excinfo:
            normalize.attributes(["shoe_size", 38])
        assert error_fields(excinfo) == {"attributes"}


def test_date_objects_get_the_same_range_check_as_text():
    with pytest.raises(ValidationError) as excinfo:
        normalize.date(dt.date(1800, 1, 1), "birth_date")
    assert "birth_date" in excinfo.value.message_dict
    assert normalize.date(dt.date(1990, 5, 1), "birth_date") == dt.date(1990, 5, 1)


@pytest.mark.django_db
def test_tagging_with_a_blank_name_names_the_field():
    from contacts.services import contacts_add_tag

    with pytest.raises(ValidationError) as excinfo:
        contacts_add_tag(contact_ids=[1], name="  ")
    assert "name" in excinfo.value.message_dict
