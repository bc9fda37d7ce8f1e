import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connections
from django.db.models.signals import post_migrate
from rest_framework.test import APIClient

# The data migrations that create the staff roles and their permissions, with their forward function.
ROLE_MIGRATIONS = (("contacts.migrations.0002_roles", "create_roles"), ("segments.migrations.0002_roles", "grant"),
                   ("campaigns.migrations.0002_roles", "grant"),
                   ("crm.migrations.0002_special_permissions", "create_and_grant"))


def _restore_roles(sender, using="default", **kwargs):
    """A transactional test ends by flushing the database, data migrations' rows included; Django then
    sends post_migrate, and this puts the roles back, so no later test depends on the order tests ran in
    (pytest-xdist hands each worker files in any order)."""
    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    editor = SimpleNamespace(connection=connections[using])
    for module, function in ROLE_MIGRATIONS:
        getattr(importlib.import_module(module), function)(apps, editor)


post_migrate.connect(_restore_roles, dispatch_uid="tests-restore-roles")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Hashing test passwords with PBKDF2 costs seconds across the suite; what is tested is who may sign in."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")


@pytest.fixture
def login(client, django_user_model):
    """`login("Marketer")` (a role's name, or a Group): the test client as a staff user of that group."""
    from django.contrib.auth.models import Group

    def as_member_of(group):
        group = group if isinstance(group, Group) else Group.objects.get(name=group)
        user = django_user_model.objects.create_user(f"user-{group.name}", email="me@example.com",
                                                     password="pw-123-long", is_staff=True)
        user.groups.add(group)
        client.force_login(user)
        return client
    return as_member_of


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def make_client():
    """An API client holding a fresh key with the given scopes (all by default)."""
    from crm.models import SCOPES
    from crm.services import api_key_create

    def make(*scopes: str) -> APIClient:
        key, raw = api_key_create(name="partner", scopes=list(scopes or SCOPES))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.key = key
        client.raw_key = raw
        return client

    return make
