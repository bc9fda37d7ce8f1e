import re

import pytest
from rest_framework.test import APIClient

from crm.api import NOT_BLANK_PATTERN

pytestmark = pytest.mark.django_db


def test_the_schema_is_openapi_3_with_every_resource_and_the_bearer_scheme():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/v1/contacts/",
        "/api/v1/contacts/upsert/",
        "/api/v1/contacts/{id}/erase/",
        "/api/v1/club-members/{id}/points/",
        "/api/v1/products/",
        "/api/v1/stores/",
        "/api/v1/purchases/",
        "/api/v1/purchases/bulk/",
        "/api/v1/events/bulk/",
        "/api/v1/identify/",
    ]:
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_every_operation_has_a_summary_or_description_and_documents_errors():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") or operation.get("description"), (method, path)
            if operation.get("security"):  # public operations (the health check) have no 401/403
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)


def test_only_the_health_check_is_public():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    public = [
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if not operation.get("security")
    ]
    assert public == [("get", "/api/v1/health/")]


def test_write_operations_carry_request_examples():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and not path.endswith("/erase/"):
                assert body.get("examples"), (method, path)


def test_the_docs_page_loads_only_local_assets():
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    assert "cdn" not in html.lower()
    assert any("/static/drf_spectacular_sidecar/" in a for a in assets)


@pytest.mark.django_db
@pytest.mark.parametrize("blank", ["", " ", "\x1d", "\x1e\x85", "\u2003\n"])
def test_text_that_must_not_be_blank_says_so_in_the_schema_and_white_space_alone_is_blank(make_client, blank):
    """The validator strips white space before its blank check; the schema's pattern says the same, so a
    client (or a property-based test) never sends a "valid" subject that is refused."""
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    subject = schema["components"]["schemas"]["EmailTemplateRequest"]["properties"]["subject"]
    assert subject["pattern"] == NOT_BLANK_PATTERN
    assert re.search(subject["pattern"], blank) is None
    assert all(re.search(subject["pattern"], c) is None for c in map(chr, range(0x3001)) if c.isspace())
    assert re.search(subject["pattern"], "\ufeff")  # not white space to Python: kept, so not blank

    response = make_client("campaigns:write").post(
        "/api/v1/templates/", {"name": "Sale", "subject": blank, "html": "<p>Hi</p>"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error_codes"]["subject"] == ["blank"]


def test_integer_filters_publish_the_range_the_api_holds_them_to(api):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    contact = next(p for p in schema["paths"]["/api/v1/club-members/"]["get"]["parameters"] if p["name"] == "contact")
    assert contact["schema"] == {"type": "integer", "format": "int64", "minimum": -(2**63), "maximum": 2**63 - 1}
    response = api.get("/api/v1/club-members/", {"contact": 2**64 + 1})
    assert response.status_code == 400 and response.json()["error_codes"] == {"contact": ["out_of_range"]}
