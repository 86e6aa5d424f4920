"""The one writer of alerts: open once, touch on repeat, clear with a reason, kinds switched off
stay silent."""

from __future__ import annotations

import pytest

from alerts.alerting import alert_clear, alert_raise, alerts_clear_except
from alerts.models import Alert, AlertKind, AlertKindSettings

pytestmark = pytest.mark.django_db


def test_raising_twice_touches_the_one_active_alert(make_order):
    order = make_order("paid")
    first = alert_raise(kind=AlertKind.STALE_ORDER, order_id=order.pk, title="stale 3 h", details={"minutes": 180})
    again = alert_raise(kind=AlertKind.STALE_ORDER, order_id=order.pk, title="stale 4 h", details={"minutes": 240})
    assert first.pk == again.pk
    alert = Alert.objects.get()
    assert (alert.seen_count, alert.title, alert.details, alert.status) == (2, "stale 4 h", {"minutes": 240}, "open")
    assert alert.escalate_at is not None and alert.assigned_role == "operations"


def test_clearing_resolves_with_the_reason_and_a_new_one_can_open(make_order):
    order = make_order("paid")
    alert_raise(kind=AlertKind.STALE_ORDER, order_id=order.pk, title="stale")
    assert alert_clear(kind=AlertKind.STALE_ORDER, order_id=order.pk, reason="the order moved") == 1
    resolved = Alert.objects.get()
    assert (resolved.status, resolved.resolved_by, resolved.resolution) == ("resolved", None, "the order moved")
    assert alert_clear(kind=AlertKind.STALE_ORDER, order_id=order.pk, reason="again") == 0
    alert_raise(kind=AlertKind.STALE_ORDER, order_id=order.pk, title="stale again")
    assert Alert.objects.filter(status="open").count() == 1 and Alert.objects.count() == 2


def test_integration_alerts_and_switched_off_kinds(make_order):
    a = alert_raise(kind=AlertKind.INTEGRATION_FAILURE, integration="carrier:sf", title="SF down")
    b = alert_raise(kind=AlertKind.INTEGRATION_FAILURE, integration="carrier:sf", title="SF still down")
    assert a.pk == b.pk
    AlertKindSettings.objects.update_or_create(kind=AlertKind.RISK_HOLD_WAITING, defaults={"enabled": False})
    order = make_order("risk_hold")
    assert alert_raise(kind=AlertKind.RISK_HOLD_WAITING, order_id=order.pk, title="held") is None
    with pytest.raises(ValueError):
        alert_raise(kind=AlertKind.STALE_ORDER, title="x")


def test_sweeps_clear_what_is_no_longer_found(make_order):
    kept, cleared = make_order("paid"), make_order("paid")
    for order in (kept, cleared):
        alert_raise(kind=AlertKind.STALE_ORDER, order_id=order.pk, title="stale")
    assert alerts_clear_except(kind=AlertKind.STALE_ORDER, keep_order_ids=[kept.pk], reason="moved") == 1
    assert set(Alert.objects.filter(status="open").values_list("order_id", flat=True)) == {kept.pk}
