"""The exception queue, alerts and returns through the API: the role's queues, the client's
brands, and clearing an exception through its service."""

from __future__ import annotations

import pytest

from alerts.alerting import alert_raise
from orders.models import OrderEvent, OrderException
from orders.services.order_exceptions import order_exception_raise
from orders.states import Role
from tests.factories import ReturnRequestFactory

pytestmark = pytest.mark.django_db


def _remark(order):
    return order_exception_raise(order=order, reason="buyer_remark", source=OrderException.Source.INTAKE, detail="?")


def test_the_queue_lists_the_roles_open_exceptions_of_its_brands_and_clears_one(make_caller, make_order, brands):
    mine = _remark(make_order("paid", shop=brands["alpha"]))
    theirs = _remark(make_order("paid", shop=brands["beta"]))
    caller = make_caller(Role.CUSTOMER_SERVICE, brands=[brands["alpha"].brand])
    listed = caller.get("/api/v1/exceptions").json()["items"]
    assert [e["id"] for e in listed] == [mine.pk]
    # Finance owns other reasons: its queue has none of these.
    assert make_caller(Role.FINANCE).get("/api/v1/exceptions").json()["items"] == []

    response = caller.post(f"/api/v1/exceptions/{mine.pk}/clear", {"note": "called the buyer"})
    assert response.status_code == 200, response.content
    assert response.json()["cleared_at"] and response.json()["cleared_note"] == "called the buyer"
    cleared = OrderEvent.objects.get(order=mine.order, action="exception_cleared")
    assert cleared.actor == caller.api_client.service_user
    again = caller.post(f"/api/v1/exceptions/{mine.pk}/clear", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    # Another brand's exception is as missing as one that does not exist.
    assert caller.post(f"/api/v1/exceptions/{theirs.pk}/clear", {}).status_code == 404
    assert caller.post("/api/v1/exceptions/999999/clear", {}).status_code == 404
    assert OrderException.objects.get(pk=theirs.pk).cleared_at is None


def test_a_role_that_does_not_own_the_reason_may_not_clear_it(make_caller, make_order):
    exception = _remark(make_order("paid"))
    response = make_caller(Role.FINANCE).post(f"/api/v1/exceptions/{exception.pk}/clear", {})
    assert response.status_code == 403
    assert OrderException.objects.get(pk=exception.pk).cleared_at is None


def test_alerts_and_returns_follow_the_brands(make_caller, make_order, brands):
    alpha, beta = make_order("paid", shop=brands["alpha"]), make_order("paid", shop=brands["beta"])
    for order in (alpha, beta):
        alert_raise(kind="stale_order", title=f"{order.number} waits", order_id=order.pk)
    alert_raise(kind="integration_failure", title="SF down", integration="sf")
    caller = make_caller(Role.CUSTOMER_SERVICE, brands=[brands["alpha"].brand])
    alerts = caller.get("/api/v1/alerts").json()["items"]
    assert sorted((a["order"] or a["integration"]) for a in alerts) == sorted([alpha.number, "sf"])
    assert len(make_caller(Role.OPERATIONS).get("/api/v1/alerts").json()["items"]) == 3

    delivered_alpha = make_order("delivered", shop=brands["alpha"])
    delivered_beta = make_order("delivered", shop=brands["beta"])
    ReturnRequestFactory(order=delivered_alpha)
    ReturnRequestFactory(order=delivered_beta)
    returns = caller.get("/api/v1/returns").json()["items"]
    assert [r["order"] for r in returns] == [delivered_alpha.number]
    assert caller.get("/api/v1/returns", status="approved").json()["items"][0]["status"] == "approved"
    assert caller.get("/api/v1/returns", status="refunded").json()["items"] == []
