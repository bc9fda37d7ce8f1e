"""Which scope opens which door (CONTRACT.md §4): every endpoint, with and without its scope."""

import pytest

from crm.models import SCOPES
from tests.factories import ContactFactory, MemberFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/v1/contacts/", ["contacts:read"]),
    ("post", "/api/v1/contacts/", ["contacts:write"]),
    ("get", "/api/v1/contacts/{contact}/", ["contacts:read"]),
    ("patch", "/api/v1/contacts/{contact}/", ["contacts:write"]),
    ("delete", "/api/v1/contacts/{contact}/", ["contacts:write"]),
    ("post", "/api/v1/contacts/upsert/", ["contacts:write"]),
    ("post", "/api/v1/contacts/{contact}/erase/", ["contacts:write"]),
    ("get", "/api/v1/club-members/", ["contacts:read"]),
    ("post", "/api/v1/club-members/", ["contacts:write"]),
    ("get", "/api/v1/club-members/{member}/", ["contacts:read"]),
    ("patch", "/api/v1/club-members/{member}/", ["contacts:write"]),
    ("get", "/api/v1/club-members/{member}/points/", ["contacts:read"]),
    ("post", "/api/v1/club-members/{member}/points/", ["contacts:write"]),
    ("get", "/api/v1/products/", ["contacts:read", "purchases:write", "events:write"]),
    ("post", "/api/v1/products/", ["purchases:write"]),
    ("get", "/api/v1/stores/", ["contacts:read", "purchases:write", "events:write"]),
    ("post", "/api/v1/stores/", ["purchases:write"]),
    ("get", "/api/v1/purchases/", ["contacts:read"]),
    ("post", "/api/v1/purchases/", ["purchases:write"]),
    ("post", "/api/v1/purchases/bulk/", ["purchases:write"]),
    ("get", "/api/v1/events/", ["contacts:read"]),
    ("post", "/api/v1/events/", ["events:write"]),
    ("post", "/api/v1/events/bulk/", ["events:write"]),
    ("post", "/api/v1/identify/", ["events:write"]),
]


@pytest.mark.parametrize("method, path, allowed", ENDPOINTS)
def test_each_endpoint_opens_only_to_its_scopes(make_client, method, path, allowed):
    member = MemberFactory(contact=ContactFactory())
    url = path.format(contact=member.contact_id, member=member.pk)
    for scope in SCOPES:
        client = make_client(scope)

        status = getattr(client, method)(url, {}, format="json").status_code

        if scope in allowed:
            assert status not in (401, 403), (scope, status)
        else:
            assert status == 403, (scope, status)
