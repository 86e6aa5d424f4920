"""Contested orders ("changed by many roles"): kept by every save of a change, read from
Order.contested_until by the operations board and the sweep, and worked out again when
operations change the thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from orders.conflicts import contested_until
from orders.models import Order
from orders.selectors import BoardClock, hub_settings_get, order_contested_q
from orders.services.conflicts import orders_contested_refresh
from orders.services.hub_settings import hub_settings_save
from orders.services.orders import order_update_details
from orders.services.transition import order_transition

pytestmark = pytest.mark.django_db


def _at(hour: int) -> str:
    return datetime(2026, 12, 1, hour, tzinfo=UTC).isoformat()


def test_contested_until_is_the_nth_latest_role_change_plus_the_window():
    changes = {"customer_service": _at(9), "warehouse": _at(11), "operations": _at(10), "finance": _at(8)}
    assert contested_until(changes, role_count=3, window_hours=24) == datetime(2026, 12, 2, 9, tzinfo=UTC)
    assert contested_until(changes, role_count=4, window_hours=2) == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert contested_until(changes, role_count=5, window_hours=24) is None
    assert contested_until({}, role_count=2, window_hours=24) is None


def _contested_now(order) -> bool:
    return Order.objects.filter(order_contested_q(BoardClock.read()), pk=order.pk).exists()


def test_three_roles_of_people_make_an_order_contested(make_order, users, warehouses):
    order = make_order("risk_hold")  # cs1 approved nothing yet; the system paid it, cs1 held it
    order_transition(order.pk, "release", actor=users["ops1"])
    assert not _contested_now(order)  # customer service and operations: two roles
    order_transition(order.pk, "approve", actor=users["cs1"])
    assert not _contested_now(order)  # the same two roles again
    order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouses[0])
    order.refresh_from_db()
    assert _contested_now(order)
    assert set(order.role_changed_at) == {"customer_service", "operations", "warehouse"}
    held_at = datetime.fromisoformat(order.role_changed_at["customer_service"])
    # The oldest of the three (customer service's hold was re-stamped by its approval).
    oldest = min(datetime.fromisoformat(value) for value in order.role_changed_at.values())
    assert order.contested_until == oldest + timedelta(hours=24)
    assert held_at >= oldest
    # A day later, with no more changes, it no longer counts.
    assert not Order.objects.filter(
        order_contested_q(BoardClock.read(now=order.contested_until + timedelta(seconds=1))), pk=order.pk
    ).exists()


def test_the_system_does_not_count_and_edited_details_do(make_order, users):
    order = make_order("paid")  # created and paid by the system
    order_transition(order.pk, "approve", actor=users["cs1"])
    order_transition(order.pk, "flag_risk", actor=None, note="rule: amount over the limit")
    order.refresh_from_db()
    assert set(order.role_changed_at) == {"customer_service"}
    order_transition(order.pk, "release", actor=users["ops1"])
    assert not _contested_now(order)
    order = Order.objects.get(pk=order.pk)
    order_update_details(order_id=order.pk, actor=users["admin"], expected_version=order.version, priority=1)
    order.refresh_from_db()
    assert set(order.role_changed_at) == {"customer_service", "operations", "admin"}
    assert _contested_now(order)


def test_new_thresholds_apply_to_every_order_at_once(make_order, users, warehouses, django_capture_on_commit_callbacks):
    order = make_order("risk_hold")
    order_transition(order.pk, "release", actor=users["ops1"])
    order_transition(order.pk, "approve", actor=users["cs1"])
    order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouses[0])
    two_roles = make_order("allocated")
    assert _contested_now(order) and not _contested_now(two_roles)

    settings_row = hub_settings_get()
    settings_row.conflict_role_count = 2
    with django_capture_on_commit_callbacks(execute=True):
        hub_settings_save(settings_row, changed=["conflict_role_count"])
    assert _contested_now(order) and _contested_now(two_roles)

    settings_row.conflict_role_count = 4
    with django_capture_on_commit_callbacks(execute=True):
        hub_settings_save(settings_row, changed=["conflict_role_count"])
    assert not _contested_now(order) and not _contested_now(two_roles)

    # A change of anything else leaves the flags alone (no refresh is queued).
    settings_row.stale_after_minutes = 30
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hub_settings_save(settings_row, changed=["stale_after_minutes"])
    assert callbacks == []


def test_refresh_clears_flags_that_no_longer_hold(make_order):
    two_roles = make_order("reviewed")
    long_ago = make_order("reviewed")
    old_time = (timezone.now() - timedelta(days=3)).isoformat()
    Order.objects.filter(pk=long_ago.pk).update(
        role_changed_at={"customer_service": old_time, "warehouse": old_time, "operations": old_time}
    )
    # A flag left by thresholds that have changed since: two roles do not make it contested.
    Order.objects.filter(pk=two_roles.pk).update(contested_until=timezone.now() + timedelta(hours=5))
    assert _contested_now(two_roles)
    orders_contested_refresh()
    two_roles.refresh_from_db()
    assert two_roles.contested_until is None
    # Three roles, but days ago: its flag lies in the past.
    assert not _contested_now(long_ago)
    assert orders_contested_refresh() == 0  # nothing left to change
