"""Acknowledging and resolving by hand: permission, stale versions, a note to resolve."""

from __future__ import annotations

import pytest

from alerts.alerting import (
    AlertNoteRequired,
    AlertNotPermitted,
    AlertStale,
    alert_acknowledge,
    alert_clear,
    alert_raise,
    alert_resolve,
)
from alerts.models import Alert, AlertKind
from orders.exceptions import OrderError
from orders.permissions import user_display_name

pytestmark = pytest.mark.django_db


def snapshot(alert_id):
    return Alert.objects.filter(pk=alert_id).values().get()


@pytest.fixture
def alert(make_order):
    order = make_order("paid")
    return alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=order.pk, title="refund asked twice")


def test_operations_acknowledge_then_resolve_with_a_note(alert, users):
    acked = alert_acknowledge(alert_id=alert.pk, actor=users["ops1"], expected_version=1)
    assert (acked.status, acked.acknowledged_by, acked.version) == ("acknowledged", users["ops1"], 2)
    assert acked.acknowledged_at is not None
    resolved = alert_resolve(alert_id=alert.pk, actor=users["ops1"], note="paid once, fine", expected_version=2)
    assert (resolved.status, resolved.resolved_by, resolved.resolution, resolved.version) == (
        "resolved",
        users["ops1"],
        "paid once, fine",
        3,
    )


@pytest.mark.parametrize("who", ["cs1", "wh1", "fin1"])
def test_roles_without_the_permission_are_refused_and_nothing_changes(alert, users, who):
    before = snapshot(alert.pk)
    with pytest.raises(AlertNotPermitted):
        alert_acknowledge(alert_id=alert.pk, actor=users[who], expected_version=1)
    with pytest.raises(AlertNotPermitted):
        alert_resolve(alert_id=alert.pk, actor=users[who], note="x", expected_version=1)
    assert snapshot(alert.pk) == before


def test_resolving_by_hand_needs_a_note(alert, users):
    before = snapshot(alert.pk)
    with pytest.raises(AlertNoteRequired):
        alert_resolve(alert_id=alert.pk, actor=users["ops1"], note="  ", expected_version=1)
    assert snapshot(alert.pk) == before


def test_a_stale_version_is_refused_naming_who_changed_it(alert, users):
    alert_acknowledge(alert_id=alert.pk, actor=users["ops1"], expected_version=1)
    before = snapshot(alert.pk)
    with pytest.raises(AlertStale) as info:
        alert_resolve(alert_id=alert.pk, actor=users["ops1"], note="done", expected_version=1)
    assert "your version 1, now 2" in info.value.message
    assert user_display_name(users["ops1"]) in info.value.message
    assert snapshot(alert.pk) == before


def test_an_alert_the_system_resolved_is_not_acknowledged_on_a_stale_tap(alert, users):
    alert_clear(kind=AlertKind.DUPLICATE_REFUND, order_id=alert.order_id, reason="gone")
    with pytest.raises(AlertStale, match="the system"):
        alert_acknowledge(alert_id=alert.pk, actor=users["ops1"], expected_version=1)
    with pytest.raises(OrderError, match="already resolved"):
        alert_acknowledge(alert_id=alert.pk, actor=users["ops1"], expected_version=None)
    assert Alert.objects.get().status == "resolved"


def test_acknowledging_twice_is_refused(alert, users):
    alert_acknowledge(alert_id=alert.pk, actor=users["ops1"], expected_version=None)
    with pytest.raises(OrderError, match="already acknowledged"):
        alert_acknowledge(alert_id=alert.pk, actor=users["ops1"], expected_version=None)
