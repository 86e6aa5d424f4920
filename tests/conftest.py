"""Shared fixtures. Orders are created and moved by the real services, as in production.

In CI (CI=true) a skipped test is a failed test: PostgreSQL, Redis and Chromium must be there.
Outside CI, tests that need them say why they are skipped.
"""

from __future__ import annotations

import io
import os
import random
import shutil
from dataclasses import dataclass

import pytest
from django.core.management import call_command

IN_CI = os.environ.get("CI") == "true"
CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI always does)"))
        if "browser" in item.keywords and not shutil.which(CHROMIUM):
            item.add_marker(pytest.mark.skip(reason=f"needs {CHROMIUM} (CI installs chromium)"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, which must run every test: {report.longrepr}"


def _groups_and_permissions() -> dict[str, set[str]]:
    from django.contrib.auth.models import Group

    through = Group.permissions.through.objects.values_list(
        "group__name", "permission__content_type__app_label", "permission__codename"
    )
    groups = {name: set() for name in Group.objects.values_list("name", flat=True)}
    for name, app_label, codename in through:
        groups[name].add(f"{app_label}.{codename}")
    return groups


def _demo_usernames() -> list[str]:
    from orders.demo import DEMO_USERS

    return [username for username, *_rest in DEMO_USERS]


def _demo_users_as_stored() -> dict[str, tuple]:
    """What demo_users_ensure sets on each demo user, as the database has it now."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    names = _demo_usernames()
    groups: dict[str, set[str]] = {name: set() for name in names}
    for username, group in User.groups.through.objects.filter(user__username__in=names).values_list(
        "user__username", "group__name"
    ):
        groups[username].add(group)
    fields = ("username", "password", "first_name", "last_name", "email", "is_staff", "is_superuser", "is_active")
    return {row[0]: (*row, groups[row[0]]) for row in User.objects.filter(username__in=names).values_list(*fields)}


@dataclass(frozen=True)
class BaseData:
    groups: dict[str, set[str]]
    demo_users: dict[str, tuple]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker) -> BaseData:
    """The roles' groups and the demo users are made once, after the migrations, and kept:
    setup_roles looks up each permission one by one (over 200 queries) and demo_users_ensure
    takes some 50 more, which for every test that needs them took longer than most tests
    themselves. What they left is remembered for `roles` and `users`."""
    from orders.demo import demo_users_ensure

    with django_db_blocker.unblock():
        call_command("setup_roles", stdout=io.StringIO())
        demo_users_ensure()
        return BaseData(groups=_groups_and_permissions(), demo_users=_demo_users_as_stored())


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete():
    """After each transactional test Django empties every table with one TRUNCATE of all 74,
    which PostgreSQL makes new files for: 1.5 to 2 s each time. The tables are nearly empty
    then, and DELETE empties them in some 50 ms, to the same end (sequences are not reset by
    either). The append-only tables' triggers refuse DELETE, so they are switched off for it,
    in the same transaction. Only the flush between tests is changed; with reset_sequences or
    cascading it is Django's own."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal"
            )
            guarded = sorted({name for (name,) in cursor.fetchall()} & set(tables))
        alter = [f"{style.SQL_KEYWORD('ALTER TABLE')} {style.SQL_FIELD(self.quote_name(t))}" for t in guarded]
        return [
            *(f"{a} {style.SQL_KEYWORD('DISABLE TRIGGER USER')};" for a in alter),
            *(f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(t))};" for t in tables),
            # The foreign keys' checks, deferred to the commit, run now (every table is empty):
            # a table with checks pending cannot have its triggers switched back on.
            f"{style.SQL_KEYWORD('SET CONSTRAINTS ALL IMMEDIATE')};",
            *(f"{a} {style.SQL_KEYWORD('ENABLE TRIGGER USER')};" for a in alter),
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


# A test in a transaction starts from what django_db_setup made, where setup_roles and
# demo_users_ensure would change nothing; after a transactional test's flush it is gone, and
# they make it again.


@pytest.fixture
def roles(django_db_setup, db):
    from alerts.defaults import alert_defaults_install
    from alerts.models import AlertKindSettings
    from rules.defaults import rules_defaults_install_if_empty

    if _groups_and_permissions() != django_db_setup.groups:
        call_command("setup_roles", stdout=io.StringIO())
    # A transactional test's flush empties the tables the data migrations filled.
    rules_defaults_install_if_empty()
    alert_defaults_install(AlertKindSettings)


@pytest.fixture
def users(django_db_setup, roles):
    from django.contrib.auth import get_user_model

    from orders.demo import demo_users_ensure

    if _demo_users_as_stored() != django_db_setup.demo_users:
        return demo_users_ensure()
    stored = get_user_model().objects.in_bulk(_demo_usernames(), field_name="username")
    return {username: stored[username] for username in _demo_usernames()}


@pytest.fixture
def warehouses(db):
    """The demo's three warehouses (tests.factories.WarehouseFactory, got by code)."""
    from tests.factories import demo_warehouses

    return demo_warehouses()


@pytest.fixture
def make_order(users, warehouses):
    """make_order("packed", amount="88.00", ...) -> an order brought to that state by the
    service, one demo user per step, with a real timeline (tests.factories.OrderFactory; the
    orders of one test share one seeded rng, so their addresses and picks are reproducible)."""
    from tests.factories import OrderFactory

    rng = random.Random(7)

    def make(state="submitted", *, cs_owner="cs1", **fields):
        return OrderFactory(
            state=state,
            users=users,
            warehouses=warehouses,
            rng=rng,
            cs_owner=users[cs_owner] if cs_owner else None,
            **fields,
        )

    return make


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll until `predicate()` is truthy: for effects that happen in another thread or process
    (a Celery worker). Fails with `what` when the deadline passes."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def redis_url() -> str:
    """The real Redis (scripts/test.sh sets REDIS_URL in CI, where a skip fails the run)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL (CI always does)")
    return url


@pytest.fixture
def live_worker(transactional_db, redis_url):
    """A real Celery worker (in a thread of this process) on the real Redis broker."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from django.db import connections

    from config.celery import app

    def close_connections(**kwargs):
        # The worker thread's own database connection must not outlive the test database.
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues:  # both lanes' (config.settings.base.task_queues)
            conn.default_channel.queue_purge(queue)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20, loglevel="WARNING"):
            yield app
    finally:
        task_postrun.disconnect(close_connections)
