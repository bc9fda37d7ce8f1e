"""The single-item serializers read a batch's plain JSON objects exactly as DRF's own field loop does."""

from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest
from rest_framework import serializers

from contacts.serializers import EventInSerializer, IdentifySerializer, PurchaseInSerializer, validate_each

LINE = {"sku": "LENS-30", "quantity": 2, "unit_price": "79.90"}
PURCHASES = [
    {"contact": 7, "total": "10", "items": [LINE]},
    {"contact": "12", "total": 10, "channel": " In_Store ", "currency": "usd", "items": None},
    {"email": " Dana@Example.com ", "total": "1.005", "items": [{"sku": " CASE-01 ", "unit_price": 3}]},
    {"card_number": 900000001234, "total": "5", "purchased_at": "2026-03-01", "source": "", "store": "  "},
    {"total": "5"},
    {"contact": None, "email": None, "card_number": None, "total": "5"},
    {"contact": True, "email": 5, "card_number": ["x"], "total": "-1", "channel": "fax"},
    {"contact": 0, "total": "1e12", "purchased_at": "soon", "external_id": "x" * 101},
    {"contact": 1, "total": None, "items": "x"},
    {"contact": 1, "total": "5", "items": [None, "x", {}, {"sku": "", "unit_price": "1"}, {"sku": "a\x00"}]},
    {"contact": 1, "total": "5", "items": [{"sku": "A", "quantity": 0, "unit_price": "1e10"}]},
    {"contact": 1, "total": "5", "items": [{"sku": "A", "quantity": "3", "unit_price": "1"}, {"quantity": 1.5}]},
    {"contact": 1, "total": "5", "currency": "EURO", "unknown": "ignored"},
    {"contact": "a\x00", "total": "5\x00"},
    [],
    "not an object",
    None,
]
EVENTS = [
    {"type": "page_view", "anonymous_id": "web-1", "url": "https://shop.example.com/", "properties": {"n": 1}},
    {"type": " PRODUCT_VIEW ", "contact": 3, "product": "LENS-30", "occurred_at": "2026-10-01"},
    {"type": "", "anonymous_id": "web-1"},
    {"anonymous_id": "web-1"},
    {"type": "page_view"},
    {"type": "nope", "url": "javascript:alert(1)", "properties": ["x"], "event_id": 10**16},
    {"type": "page_view", "email": "bad@", "properties": {"k": "bad\x00", "deep": [{"x\x00": 1}]}},
    {"type": None, "anonymous_id": None, "properties": None},
    7,
]
IDENTIFIES = [
    {"anonymous_id": "web-1", "email": "dana@example.com"},
    {"anonymous_id": "", "contact": 3},
    {"anonymous_id": "web-1"},
    {"contact": "x"},
]


def drf_loop(value: Any) -> Any:
    """The same input in a mapping that is not a plain dict: read by DRF's own field loop."""
    if isinstance(value, dict):
        return OrderedDict((key, drf_loop(item)) for key, item in value.items())
    if isinstance(value, list):
        return [drf_loop(item) for item in value]
    return value


def outcome(serializer: serializers.Serializer, data: Any) -> Any:
    """The validated data, or the errors with their codes."""
    try:
        return ("valid", serializer.run_validation(data))
    except serializers.ValidationError as exc:
        return ("invalid", exc.get_full_details())


@pytest.mark.parametrize(
    "serializer_class, items",
    [(PurchaseInSerializer, PURCHASES), (EventInSerializer, EVENTS), (IdentifySerializer, IDENTIFIES)],
)
def test_plain_objects_are_read_with_the_same_values_messages_codes_and_paths(serializer_class, items):
    serializer = serializer_class()

    for item in items:
        assert outcome(serializer, item) == outcome(serializer_class(), drf_loop(item)), item

    assert validate_each(serializer_class, items) == validate_each(serializer_class, drf_loop(items))


def test_a_batch_reports_every_bad_field_of_every_item_by_its_path():
    valid, errors = validate_each(PurchaseInSerializer, PURCHASES)

    assert sorted(valid) == [0, 1, 2, 3]
    assert valid[2]["items"] == [{"sku": "CASE-01", "quantity": 1, "unit_price": Decimal("3.00")}]
    assert errors[8] == {"total": ["This field may not be null."], "items": ["Must be a list."]}
    assert errors[9] == {
        "items.0": ["This field may not be null."],
        "items.1": ["Must be an object with sku, quantity and unit_price."],
        "items.2.sku": ["This field is required."],
        "items.2.unit_price": ["This field is required."],
        "items.3.sku": ["This field is required."],
        "items.4.sku": ["Null characters are not allowed."],
        "items.4.unit_price": ["This field is required."],
    }
    assert errors[10] == {
        "items.0.quantity": ["Ensure this value is greater than or equal to 1."],
        "items.0.unit_price": ["“1e10” is out of range."],
    }
    assert errors[12] == {"currency": ["At most 3 characters."]}
    assert errors[14] == errors[15] == {"non_field_errors": ["Must be an object."]}


@pytest.mark.parametrize("value", [["web"], {"web": 1}, 7])
def test_a_choice_given_as_a_list_an_object_or_a_number_is_refused_by_name(value):
    for _ in range(2):  # the second time after a valid spelling was kept
        serializer = EventInSerializer(data={"email": "dana@example.com", "type": value})

        assert not serializer.is_valid()
        assert "type" in serializer.errors
        assert EventInSerializer(data={"email": "dana@example.com", "type": "page_view"}).is_valid()
