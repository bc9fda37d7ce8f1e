from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar
from unittest import mock

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model
from django.db.models.signals import post_migrate
from django.utils import translation
from rest_framework.test import APIClient

T = TypeVar("T")

# Per database alias, the rows the migrations leave (content types, permissions, the staff roles and
# their grants, the periodic jobs), read once when the test database has been built.
MIGRATED_ROWS: dict[str, dict[type[Model], list[Model]]] = {}


def _migrated_rows(using: str) -> dict[type[Model], list[Model]]:
    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]
    return {model: rows for model in models if (rows := list(model._base_manager.using(using).order_by("pk")))}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        for alias in connections:
            MIGRATED_ROWS[alias] = _migrated_rows(alias)


def _restore_migrated_rows(sender, using="default", **kwargs):
    """A transactional test ends by flushing the database, the migrations' rows included; Django then
    sends post_migrate. This writes those rows back as the migrations left them, same keys included,
    so no later test depends on the order tests ran in (pytest-xdist hands tests to workers in any
    order). Copying the rows costs a few inserts where re-running the data migrations and the
    permission set-up cost most of a transactional test's time.

    It runs at the signal for the first app, after Django's own receivers made that app's content
    types and permissions afresh (those are replaced); the receivers for the later apps then find
    everything in place and add nothing."""
    saved = MIGRATED_ROWS.get(using)
    if not saved or sender is not next(a for a in apps.get_app_configs() if a.models_module is not None):
        return
    connection = connections[using]
    with transaction.atomic(using=using):  # foreign keys are checked at commit, once all rows are back
        with connection.cursor() as cursor:
            for model in saved:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
        for model, rows in saved.items():
            model._base_manager.using(using).bulk_create(rows)
    ContentType.objects.clear_cache()


post_migrate.connect(_restore_migrated_rows, dispatch_uid="tests-restore-migrated-rows")


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


@pytest.fixture(autouse=True)
def _no_segment_plans_cached():
    """Segment evaluation plans are cached per process by (day, segment id, updated_at). On stopped
    clocks, with ids reused after each test's rollback, another test's segment can match that key (and
    answer with its own rules), so each test starts and ends with none."""
    from segments import evaluation

    evaluation.forget()
    yield
    evaluation.forget()


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware activates the language a request asks for (Accept-Language: he) and nothing
    switches it back, so it would stay on in this worker's thread and a later test, in any file, would
    read Hebrew messages where it expects English. Each test ends back on LANGUAGE_CODE."""
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def shared_rows(django_db_setup, django_db_blocker) -> Callable[[Callable[[], T]], AbstractContextManager[T]]:
    """Rows that many `django_db` tests only read, written once instead of before each of them: a
    module- or class-scoped fixture does `with shared_rows(build) as built: yield built`.

    The rows live in a transaction held open around those tests and rolled back at the end, so no test
    elsewhere sees them (pytest tears a scope's fixtures down before it runs a test outside the scope;
    a test that needs a database of its own stays outside). Each test's own transaction nests inside,
    so what a test writes is still undone after it. Django's TestCase closes the connection after each
    test, which on PostgreSQL would end the held transaction: closing waits until the rows are gone."""

    @contextmanager
    def written_once(build: Callable[[], T]) -> Iterator[T]:
        with django_db_blocker.unblock():
            held = transaction.atomic()
            held.__enter__()
        try:
            with mock.patch.object(connections[DEFAULT_DB_ALIAS], "close", lambda: None):
                with django_db_blocker.unblock():
                    built = build()
                yield built
        finally:
            with django_db_blocker.unblock():
                transaction.set_rollback(True)
                held.__exit__(None, None, None)

    return written_once


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")


@pytest.fixture
def login(client, django_user_model):
    """`login("Marketer")` (a role's name, or a Group): the test client as a staff user of that group."""
    from django.contrib.auth.models import Group

    def as_member_of(group):
        group = group if isinstance(group, Group) else Group.objects.get(name=group)
        user = django_user_model.objects.create_user(
            f"user-{group.name}", email="me@example.com", password="pw-123-long", is_staff=True
        )
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
