import pytest
from rest_framework.test import APIClient

from crm.models import SCOPES
from crm.services import api_key_create


@pytest.fixture
def make_client(db):
    """An API client holding a fresh key with the given scopes (all by default)."""

    def make(*scopes: str) -> APIClient:
        key, raw = api_key_create(name="partner", scopes=scopes or SCOPES)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.key = key
        client.raw_key = raw
        return client

    return make


@pytest.fixture
def api(make_client):
    return make_client()
