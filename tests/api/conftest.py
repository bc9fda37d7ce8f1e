import pytest


@pytest.fixture
def api(make_client, db):
    return make_client()
