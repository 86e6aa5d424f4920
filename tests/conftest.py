"""Shared fixtures. Orders are created and moved by the real services, as in production.

In CI (CI=true) a skipped test is a failed test: PostgreSQL, Redis and Chromium must be there.
Outside CI, tests that need them say why they are skipped.
"""

from __future__ import annotations

import io
import os
import random
import shutil

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


@pytest.fixture
def roles(db):
    call_command("setup_roles", stdout=io.StringIO())


@pytest.fixture
def users(roles):
    from orders.demo import demo_users_ensure

    return demo_users_ensure()


@pytest.fixture
def warehouses(db):
    from orders.demo import demo_warehouses_ensure

    return demo_warehouses_ensure()


@pytest.fixture
def make_order(users, warehouses):
    """make_order("packed", amount="88.00", ...) -> an order brought to that state by the
    service, one demo user per step, with a real timeline."""
    from orders.demo import order_move_to
    from orders.services.orders import order_create

    rng = random.Random(7)

    def make(state="submitted", *, channel="shopify", amount="199.00", cs_owner="cs1", **fields):
        order = order_create(
            actor=None,
            channel=channel,
            amount=amount,
            cs_owner=users[cs_owner] if cs_owner else None,
            buyer_email=fields.pop("buyer_email", "buyer@example.com"),
            **fields,
        )
        return order_move_to(order, state, users=users, warehouses=warehouses, rng=rng)

    return make
