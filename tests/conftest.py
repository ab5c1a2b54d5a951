import os

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from tests.factories import Tree, make_user  # noqa: E402


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The default PBKDF2 work factor costs ~0.7 s a user; tests need no such strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


REFERENCE_DATA_MIGRATIONS = (
    ("accounts.migrations.0002_roles", "create_roles"),
    ("personnel.migrations.0002_reference_data", "create_reference_data"),
)


def restore_reference_data():
    """Put back the rows that data migrations create (role groups, personnel roles, post
    types, team templates); each function only creates what is missing."""
    import importlib

    from django.apps import apps

    for module, function in REFERENCE_DATA_MIGRATIONS:
        getattr(importlib.import_module(module), function)(apps, None)


@pytest.fixture(autouse=True)
def reference_data(request):
    # A transactional test flushes the database when it ends, data migrations' rows
    # included. pytest-django runs transactional tests after all others, so restoring the
    # rows at the start of each transactional test keeps every test's starting point equal.
    marker = request.node.get_closest_marker("django_db")
    by_marker = marker is not None and bool(
        marker.kwargs.get("transaction") or (marker.args and marker.args[0])
    )
    if by_marker or {"transactional_db", "live_server"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db")
        restore_reference_data()


@pytest.fixture(autouse=True)
def tasks_run_in_process(request, settings):
    """Celery tasks run in the test's own process, as in the embedded default, even when
    REDIS_URL names a broker (no worker of this run consumes it). The tests marked
    celery_worker start a real worker and keep the broker."""
    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    from gridcmd.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def tree(db):
    return Tree()


@pytest.fixture
def api_client_for():
    """An API client authenticated by token as the given user."""

    def build(user):
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return build


@pytest.fixture
def county_commander(tree):
    return make_user(roles=["commander"], jurisdiction=tree.debao, username="debao_commander")


@pytest.fixture
def superuser(db):
    return make_user(roles=[], username="root", is_superuser=True)
