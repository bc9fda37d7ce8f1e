"""Property-based run over the whole OpenAPI schema: no input may make any endpoint answer 500, and the
schema tells the truth about the input: data it allows is accepted, data it forbids is refused (400)."""

import datetime as dt
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection, positive_data_acceptance

from crm.models import SCOPES
from crm.services import api_key_create
from crm.wsgi import application
from tests.factories import ContactFactory, MemberFactory, ProductFactory, PurchaseItemFactory, StoreFactory

# Fuzzed examples per operation, on top of the examples and coverage phases (which send most of the
# requests: ~280 for POST /contacts/, ~30 for an operation that takes only an id). The same for every
# operation: those without input cost ~0.3 s each, so fewer would save little; the file runs in about a
# minute with -n 2.
MAX_EXAMPLES = 20

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

# A schema can say what a value looks like, not whether the contact, card, SKU, template or segment it
# names exists or is free, nor whether a cursor is one the API issued; nor (in the OpenAPI 3.0 we publish)
# "one of contact, email, card_number given and not blank", "attribute names are non-blank" (no
# propertyNames before 3.1), or "no NUL character in any string" (no database column takes one). A 400
# whose every code is one of these refuses schema-valid input for a reason the schema cannot carry.
UNSPOKEN_CODES = {
    "does_not_exist",
    "unique",
    "conflict",
    "insufficient_points",
    "identity_required",
    "invalid_key",
    "null_characters_not_allowed",
    "invalid_cursor",
    "too_many_steps",  # an automation's steps counted over all its branches: no per-list maxItems says it
    "invalid_period",  # a report's `from` and `to`: both or neither, in order, at most 366 days apart
    "same_contact",  # a merge's duplicate is another contact than the one in the path
}
# A segment's rules are checked against the condition catalogue, which the schema points to
# (GET /segments/conditions/) but cannot carry: field, operator and value types depend on each other.
# The same rule trees are an automation's exit rules and the rules of its branch steps (steps.N.rules).
UNSPOKEN_FIELD_CODES = {("rules", "invalid"), ("exit_rules", "invalid")}
RULE_TREE_PATH = re.compile(r"^steps\.\d+(\.(yes|no)\.\d+)*\.rules$")
# A model-choice filter (`?template=ID`) refuses an id that names no row with invalid_choice, the code an
# enum filter gives a value off its list. An enum parameter is typed string, so invalid_choice on one
# typed integer is the unknown row.
UNKNOWN_ROW_CODE = "invalid_choice"
# A date-time has no bounds in OpenAPI: an instant written in year 1 or 9999 with an offset that moves it out of
# the years 1 to 9999 in UTC (which the database stores) is refused with out_of_range.
DATE_TIME_BOUNDS_CODE = "out_of_range"
# The test sends its own key (and no session), so a spoiled header or cookie never reaches the API.
REPLACED_LOCATIONS = (ParameterLocation.HEADER, ParameterLocation.COOKIE)


def _id_parameters(case) -> set[str]:
    return {
        parameter.name
        for parameter in case.operation.query
        if parameter.definition.get("schema", {}).get("type") == "integer"
    }


def _date_times(case) -> set[str]:
    """The names of the query parameters and body fields the case gives as a date-time string."""
    given = {**(case.query or {}), **(case.body if isinstance(case.body, dict) else {})}
    found = set()
    for name, value in given.items():
        try:
            if isinstance(value, str) and "T" in value:
                dt.datetime.fromisoformat(value)
                found.add(name)
        except ValueError:
            continue
    return found


def _refused_for_unspoken_reasons(response, case) -> bool:
    if response.status_code != 400:
        return False
    codes = response.json().get("error_codes") or {}
    ids = _id_parameters(case)
    date_times = _date_times(case)
    return bool(codes) and all(
        code in UNSPOKEN_CODES
        or (field, code) in UNSPOKEN_FIELD_CODES
        or (code == "invalid" and RULE_TREE_PATH.match(field))
        or (code == UNKNOWN_ROW_CODE and field in ids)
        or (code == DATE_TIME_BOUNDS_CODE and field in date_times)
        for field, found in codes.items()
        for code in found
    )


def schema_valid_input_is_accepted(ctx, response, case):
    if _refused_for_unspoken_reasons(response, case):
        return None
    return positive_data_acceptance(ctx, response, case)


def _spoils_what_the_test_replaces(case) -> bool:
    meta = case.meta
    if meta is None:
        return False
    mutations = getattr(meta.phase.data, "mutations", ())
    return any(meta.is_negative_at(location) for location in REPLACED_LOCATIONS) or any(
        mutation.parameter_location in REPLACED_LOCATIONS for mutation in mutations
    )


def schema_invalid_input_is_refused(ctx, response, case):
    if _spoils_what_the_test_replaces(case):
        return None
    return negative_data_rejection(ctx, response, case)


@pytest.fixture
def bearer(db):
    # Requests go straight to the WSGI app; like Django's test client, keep the test's connection open
    # (and its transaction) instead of closing it at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    for _ in range(3):
        MemberFactory(contact=ContactFactory())
    StoreFactory(code="S1")
    PurchaseItemFactory(product=ProductFactory(sku="P1"))
    _key, raw = api_key_create(name="fuzz", scopes=SCOPES)
    yield {"Authorization": f"Bearer {raw}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case, bearer):
    """Server errors, undocumented status codes or content types, responses off their schema, schema-valid
    requests refused and schema-invalid requests accepted all fail."""
    with transaction.atomic():
        # Each generated request runs in its own savepoint, rolled back afterwards: what one case writes
        # (or a database error inside it) never leaks into the next case's view of the data.
        try:
            case.call_and_validate(
                headers=bearer,
                # ignored_auth would send every case again without its key: tests/api/test_auth.py
                # calls every operation with no key, an unknown one and another scheme instead.
                excluded_checks=[positive_data_acceptance, negative_data_rejection, ignored_auth],
                additional_checks=[schema_valid_input_is_accepted, schema_invalid_input_is_refused],
            )
        finally:
            transaction.set_rollback(True)
