"""The logistics watch end to end, against the local Cainiao gateway: a signed route push and a
poll reach the watch through the tracking listeners; a return opens its alert for customer
service; a delivery exception polled clears when the parcel is delivered."""

from __future__ import annotations

import pytest

from alerts.models import Alert, AlertKind, OrderWatch, WatchPhase
from integrations.tracking import tracking_sync
from orders.models import Order
from tests.integrations.test_carrier_flow import PUSH_URL, account, cainiao, shipped  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
NUMBER = "LP73100000000001"


def _active(kind):
    return Alert.objects.filter(kind=kind, status__in=["open", "acknowledged"])


def test_a_signed_return_push_opens_the_return_alert(client, account, cainiao, make_order, users):  # noqa: F811
    order = shipped(make_order, users)
    form = cainiao.push_form(
        NUMBER,
        [
            {"time": "2026-01-28 14:05:00", "action": "GOT", "desc": "快件已揽收"},
            {"time": "2026-01-30 10:00:00", "action": "TMS_RETURN", "desc": "收件人拒收，快件退回"},
        ],
    )
    response = client.post(PUSH_URL, data=cainiao.push_body(form), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    row = OrderWatch.objects.get(order_id=order.pk)
    assert (row.phase, row.carrier_status, row.carrier_code) == (WatchPhase.IN_TRANSIT, "returned", "TMS_RETURN")
    assert Order.objects.get(pk=order.pk).state == "picked_up"
    alert = _active(AlertKind.RETURNED_TO_SENDER).get()
    assert alert.order_id == order.pk and alert.assigned_role == "customer_service" and "退回" in alert.title


def test_a_polled_exception_clears_when_delivered(account, cainiao, make_order, users):  # noqa: F811
    order = shipped(make_order, users)
    cainiao.routes[NUMBER] = [
        {"time": "2026-01-28 14:05:00", "action": "GOT", "desc": "快件已揽收"},
        {"time": "2026-01-29 18:00:00", "action": "SIGN_FAILED", "desc": "派送不成功：电话无人接听"},
    ]
    tracking_sync(pause=0)
    alert = _active(AlertKind.DELIVERY_EXCEPTION).get()
    assert alert.order_id == order.pk and alert.details["tracking_number"] == NUMBER

    cainiao.routes[NUMBER].append({"time": "2026-01-30 11:00:00", "action": "SIGN", "desc": "已签收"})
    tracking_sync(pause=0)
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by is None
    assert Order.objects.get(pk=order.pk).state == "delivered"
    assert OrderWatch.objects.get(order_id=order.pk).phase == WatchPhase.DONE
