"""Roles on every API door: a staff session gets exactly the rights its role has in the admin.

The operations come from the OpenAPI schema, so a new endpoint is in the matrix the day it is added, and
the matrix fails until EXPECTED says which roles it opens to.
"""

import pytest
from django.contrib.auth.models import Group
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from campaigns.flows.models import Flow
from campaigns.reports.services import spend_set
from campaigns.services import campaign_create, template_create
from segments.models import Segment
from segments.services import segment_create
from tests.factories import (
    ActivityFactory,
    ContactFactory,
    MemberFactory,
    ProductFactory,
    PurchaseFactory,
    StoreFactory,
)

pytestmark = pytest.mark.django_db

EVERYONE = {"Staff", "Marketer", "Analyst"}
EDITORS = {"Staff", "Marketer"}
MARKETER = {"Marketer"}
MARKETING_VIEWERS = {"Marketer", "Analyst"}  # staff look after people, not campaigns
STAFF = {"Staff"}
NOBODY: set[str] = set()
PUBLIC = "public"  # answers without any login

EXPECTED = {
    ("GET", "/api/v1/contacts/"): EVERYONE,
    ("POST", "/api/v1/contacts/"): EDITORS,
    ("GET", "/api/v1/contacts/{id}/"): EVERYONE,
    ("PATCH", "/api/v1/contacts/{id}/"): EDITORS,
    ("DELETE", "/api/v1/contacts/{id}/"): NOBODY,  # people leave through erase, which keeps revenue figures
    ("POST", "/api/v1/contacts/upsert/"): EDITORS,
    ("POST", "/api/v1/contacts/{id}/erase/"): STAFF,
    ("POST", "/api/v1/contacts/{id}/merge/"): STAFF,
    ("GET", "/api/v1/contacts/{id}/consent/"): EVERYONE,
    ("GET", "/api/v1/club-members/"): EVERYONE,
    ("POST", "/api/v1/club-members/"): EDITORS,
    ("GET", "/api/v1/club-members/{id}/"): EVERYONE,
    ("PATCH", "/api/v1/club-members/{id}/"): EDITORS,
    ("GET", "/api/v1/club-members/{id}/points/"): EVERYONE,
    ("POST", "/api/v1/club-members/{id}/points/"): EDITORS,
    ("GET", "/api/v1/products/"): EVERYONE,
    ("POST", "/api/v1/products/"): EDITORS,
    ("GET", "/api/v1/products/{id}/"): EVERYONE,
    ("PATCH", "/api/v1/products/{id}/"): EDITORS,
    ("GET", "/api/v1/stores/"): EVERYONE,
    ("POST", "/api/v1/stores/"): EDITORS,
    ("GET", "/api/v1/stores/{id}/"): EVERYONE,
    ("PATCH", "/api/v1/stores/{id}/"): EDITORS,
    ("GET", "/api/v1/purchases/"): EVERYONE,
    ("POST", "/api/v1/purchases/"): EDITORS,
    ("GET", "/api/v1/purchases/{id}/"): EVERYONE,
    ("POST", "/api/v1/purchases/bulk/"): EDITORS,
    ("GET", "/api/v1/events/"): EVERYONE,
    ("POST", "/api/v1/events/"): EDITORS,
    ("GET", "/api/v1/events/{id}/"): EVERYONE,
    ("POST", "/api/v1/events/bulk/"): EDITORS,
    ("POST", "/api/v1/identify/"): EDITORS,
    ("GET", "/api/v1/segments/"): MARKETING_VIEWERS,
    ("POST", "/api/v1/segments/"): MARKETER,
    ("GET", "/api/v1/segments/{id}/"): MARKETING_VIEWERS,
    ("PATCH", "/api/v1/segments/{id}/"): MARKETER,
    ("DELETE", "/api/v1/segments/{id}/"): MARKETER,
    ("GET", "/api/v1/segments/{id}/count/"): MARKETING_VIEWERS,
    ("GET", "/api/v1/segments/{id}/members/"): MARKETING_VIEWERS,
    ("POST", "/api/v1/segments/{id}/members/"): MARKETER,
    ("DELETE", "/api/v1/segments/{id}/members/"): MARKETER,
    ("GET", "/api/v1/segments/{id}/export/"): MARKETER,
    ("GET", "/api/v1/segments/conditions/"): MARKETING_VIEWERS,
    ("GET", "/api/v1/templates/"): MARKETING_VIEWERS,
    ("POST", "/api/v1/templates/"): MARKETER,
    ("GET", "/api/v1/templates/{id}/"): MARKETING_VIEWERS,
    ("PATCH", "/api/v1/templates/{id}/"): MARKETER,
    ("GET", "/api/v1/campaigns/"): MARKETING_VIEWERS,
    ("POST", "/api/v1/campaigns/"): MARKETER,
    ("GET", "/api/v1/campaigns/{id}/"): MARKETING_VIEWERS,
    ("PATCH", "/api/v1/campaigns/{id}/"): MARKETER,
    ("POST", "/api/v1/campaigns/{id}/send/"): MARKETER,
    ("POST", "/api/v1/campaigns/{id}/reschedule/"): MARKETER,
    ("POST", "/api/v1/campaigns/{id}/unschedule/"): MARKETER,
    ("POST", "/api/v1/campaigns/{id}/duplicate/"): MARKETER,
    ("GET", "/api/v1/campaigns/{id}/stats/"): MARKETING_VIEWERS,
    ("GET", "/api/v1/campaigns/{id}/recipient-count/"): MARKETING_VIEWERS,
    ("GET", "/api/v1/flows/"): MARKETING_VIEWERS,
    ("POST", "/api/v1/flows/"): MARKETER,
    ("GET", "/api/v1/flows/{id}/"): MARKETING_VIEWERS,
    ("PATCH", "/api/v1/flows/{id}/"): MARKETER,
    ("DELETE", "/api/v1/flows/{id}/"): MARKETER,
    ("POST", "/api/v1/flows/{id}/activate/"): MARKETER,
    ("POST", "/api/v1/flows/{id}/pause/"): MARKETER,
    ("GET", "/api/v1/flows/{id}/stats/"): MARKETING_VIEWERS,
    ("GET", "/api/v1/flows/{id}/enrollments/"): MARKETING_VIEWERS,
    ("GET", "/api/v1/flows/presets/"): MARKETING_VIEWERS,
    ("POST", "/api/v1/flows/from-preset/"): MARKETER,
    ("GET", "/api/v1/reports/kpis/"): MARKETING_VIEWERS,
    ("GET", "/api/v1/spend/"): MARKETING_VIEWERS,
    ("POST", "/api/v1/spend/"): MARKETER,
    ("GET", "/api/v1/spend/{id}/"): MARKETING_VIEWERS,
    ("PATCH", "/api/v1/spend/{id}/"): MARKETER,
    ("DELETE", "/api/v1/spend/{id}/"): MARKETER,
    ("GET", "/api/v1/spend/romi/"): MARKETING_VIEWERS,
    ("GET", "/api/v1/health/"): PUBLIC,
}


def schema_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


OPERATIONS = schema_operations()
ROLES = ("Staff", "Marketer", "Analyst", "superuser", "no role")


@pytest.fixture
def objects():
    """One of everything, keyed by the first path segment after /api/v1/."""
    member = MemberFactory(contact=ContactFactory(city="Haifa"))
    purchase = PurchaseFactory(contact=member.contact)
    template = template_create(name="Sale", subject="Sale", html="<p>Hi</p>", language="en")
    segment = segment_create(name="List", kind=Segment.Kind.STATIC)
    campaign = campaign_create(
        name="Spring",
        template=template,
        segments=[segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})],
    )
    return {
        "contacts": member.contact,
        "club-members": member,
        "products": ProductFactory(),
        "stores": StoreFactory(),
        "purchases": purchase,
        "events": ActivityFactory(contact=member.contact),
        "segments": segment,
        "templates": template,
        "campaigns": campaign,
        "flows": Flow.objects.create(name="Welcome", trigger={"type": "event", "event": "signup"}),
        "spend": spend_set(channel="facebook", month="2026-03", amount="100")[0],
    }


@pytest.fixture
def session(django_user_model):
    def login(role: str) -> APIClient:
        if role == "superuser":
            user = django_user_model.objects.create_superuser("root", "root@example.com", None)
        else:
            user = django_user_model.objects.create_user("someone", password=None, is_staff=True)
            if role != "no role":
                user.groups.add(Group.objects.get(name=role))
        client = APIClient()
        client.force_authenticate(user)
        return client

    return login


def test_every_operation_in_the_schema_says_which_roles_it_opens_to():
    assert set(OPERATIONS) - set(EXPECTED) == set(), "add the new endpoints to EXPECTED"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_a_staff_session_opens_exactly_the_doors_of_its_role(session, objects, role, method, path):
    if (method, path) not in EXPECTED:
        pytest.fail(f"{method} {path} is not in EXPECTED")
    resource = path.removeprefix("/api/v1/").split("/")[0]
    url = path.replace("{id}", str(objects[resource].pk)) if "{id}" in path else path
    expected = EXPECTED[method, path]

    status = getattr(session(role), method.lower())(url, {}, format="json").status_code

    opens = expected == PUBLIC or role == "superuser" or role in expected
    if opens:
        assert status not in (401, 403), (role, method, path, status)
    else:
        assert status == 403, (role, method, path, status)


def test_a_logged_in_user_who_is_not_staff_gets_nothing(django_user_model):
    user = django_user_model.objects.create_user("customer", password=None)
    user.groups.add(Group.objects.get(name="Marketer"))
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/v1/contacts/").status_code == 403
