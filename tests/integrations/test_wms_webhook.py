"""The warehouse system's events: signed, deduplicated, applied whole or refused whole."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from integrations.models import InboundDelivery
from orders.models import Order, OrderEvent, Shipment
from tests.fakes.wms import wms_body, wms_headers

SECRET = "wms-secret-1"
URL = "/webhooks/wms/events"


@pytest.fixture(autouse=True)
def wms_secret(settings):
    settings.WMS_WEBHOOK_SECRET = SECRET


def post(client, body: bytes, **headers):
    return client.post(URL, data=body, content_type="application/json", **(headers or wms_headers(body, SECRET)))


def state_of(order):
    o = Order.objects.get(pk=order.pk)
    return (o.state, o.version, o.events.count(), Shipment.objects.filter(order=o).count())


@pytest.mark.django_db
def test_url_is_the_documented_one():
    assert reverse("webhooks:wms_events") == URL


@pytest.mark.django_db
def test_events_move_the_order_as_the_warehouse_system(client, make_order, warehouses):
    order = make_order("reviewed")
    steps = [
        ("e1", {"event": "allocated", "warehouse": warehouses[1].code}, "allocated"),
        ("e2", {"event": "packing"}, "allocated"),
        ("e3", {"event": "labelled"}, "packed"),
        ("e4", {"event": "awaiting_pickup", "carrier": "zto", "tracking_number": "731000000001"}, "shipped"),
        ("e5", {"event": "picked_up"}, "picked_up"),
    ]
    for event_id, fields, expected in steps:
        response = post(client, wms_body(event_id=event_id, order_number=order.number, **fields))
        assert response.status_code == 200, response.content
        assert Order.objects.get(pk=order.pk).state == expected
    order.refresh_from_db()
    assert order.warehouse == warehouses[1]
    moved = order.events.filter(actor__username="wms").order_by("id")
    assert list(moved.values_list("action", "actor_role")) == [
        ("allocate", "warehouse"),
        ("pack", "warehouse"),
        ("ship", "warehouse"),
        ("pick_up", "warehouse"),
    ]
    assert "WMS labelled · 王强" in moved[1].note
    assert Shipment.objects.get(order=order).tracking_number == "731000000001"
    assert InboundDelivery.objects.filter(source="wms").count() == 5


@pytest.mark.django_db
def test_by_external_order_id(client, make_order, warehouses):
    order = make_order("reviewed", channel="taobao", external_id="TB-778899")
    body = wms_body(
        event_id="x1", external_order_id="TB-778899", channel="taobao", event="allocated", warehouse="hz-own"
    )
    assert post(client, body).status_code == 200
    assert Order.objects.get(pk=order.pk).state == "allocated"


@pytest.mark.django_db
def test_a_replay_is_acknowledged_and_changes_nothing(client, make_order):
    order = make_order("allocated")
    body = wms_body(event_id="same-1", order_number=order.number, event="labelled")
    assert post(client, body).status_code == 200
    before = state_of(order)
    response = post(client, body)
    assert response.status_code == 200 and response.json() == {"duplicate": True}
    assert state_of(order) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"HTTP_X_ORDERHUB_SIGNATURE": "sha256=00", "HTTP_X_ORDERHUB_TIMESTAMP": str(int(time.time()))}, "signature"),
        ({}, "signature"),
        ("old", "too old"),
        ("future", "too old"),
        ("wrong-secret", "signature"),
    ],
)
def test_bad_signatures_and_stale_requests_are_refused(client, make_order, headers, reason):
    order = make_order("allocated")
    body = wms_body(event_id="s1", order_number=order.number, event="labelled")
    if headers == "old":
        headers = wms_headers(body, SECRET, timestamp=int(time.time()) - 301)
    elif headers == "future":
        headers = wms_headers(body, SECRET, timestamp=int(time.time()) + 301)
    elif headers == "wrong-secret":
        headers = wms_headers(body, "not-the-secret")
    elif not headers:
        headers = {"HTTP_X_NOTHING": "1"}
    before = state_of(order)
    response = post(client, body, **headers)
    assert response.status_code == 401 and reason in response.json()["error"]
    assert state_of(order) == before
    assert not InboundDelivery.objects.exists()


@pytest.mark.django_db
def test_no_secret_configured_refuses_everything(client, make_order, settings):
    settings.WMS_WEBHOOK_SECRET = ""
    order = make_order("allocated")
    body = wms_body(event_id="n1", order_number=order.number, event="labelled")
    assert post(client, body, **wms_headers(body, "")).status_code == 401
    assert Order.objects.get(pk=order.pk).state == "allocated"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", ""),
        (b"[1, 2]", ""),
        (wms_body(order_number="OH1", event="labelled"), "event_id"),
        (wms_body(event_id="m1", order_number="OH1", event="teleported"), "event"),
        (wms_body(event_id="m1", event="labelled"), "order_number"),
        (wms_body(event_id="m1", order_number="OH1", event="labelled", occurred_at="yesterday"), "occurred_at"),
        (
            wms_body(event_id="m1", order_number="OH1", event="labelled", occurred_at="2026-01-28T14:05:00"),
            "occurred_at",
        ),
    ],
)
def test_malformed_events_are_400_and_change_nothing(client, make_order, body, field):
    order = make_order("allocated")
    before = state_of(order)
    response = post(client, body.replace(b"OH1", order.number.encode()))
    assert response.status_code == 400
    assert response.json().get("field", "") == field
    assert state_of(order) == before


@pytest.mark.django_db
def test_unknown_order_is_404(client, make_order):
    response = post(client, wms_body(event_id="u1", order_number="OH19990101-00001", event="labelled"))
    assert response.status_code == 404
    assert not InboundDelivery.objects.exists()


@pytest.mark.django_db
def test_unknown_warehouse_and_missing_tracking_are_400(client, make_order):
    reviewed, packed = make_order("reviewed"), make_order("packed")
    response = post(client, wms_body(event_id="w1", order_number=reviewed.number, event="allocated", warehouse="moon"))
    assert response.status_code == 400 and response.json()["field"] == "warehouse"
    response = post(client, wms_body(event_id="w2", order_number=packed.number, event="awaiting_pickup", carrier="sf"))
    assert response.status_code == 400 and response.json()["field"] == "tracking_number"
    assert Order.objects.get(pk=reviewed.pk).state == "reviewed" and Order.objects.get(pk=packed.pk).state == "packed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "fields"),
    [
        ("paid", {"event": "labelled"}),  # not yet allocated: out of order
        ("packed", {"event": "allocated", "warehouse": "hz-own"}),  # late: already past it
        ("reviewed", {"event": "packing"}),
        ("cancelled", {"event": "picked_up"}),
    ],
)
def test_out_of_order_and_illegal_events_are_refused_and_logged(client, make_order, state, fields):
    order = make_order(state)
    before = state_of(order)
    body = wms_body(event_id="o1", order_number=order.number, **fields)
    response = post(client, body)
    assert response.status_code == 409 and response.json()["error"]
    after = Order.objects.get(pk=order.pk)
    assert (after.state, after.version) == before[:2]
    refusal = OrderEvent.objects.get(order=order, action="wms_rejected")
    assert refusal.data["event_id"] == "o1" and refusal.note == response.json()["error"]
    assert not InboundDelivery.objects.exists()
    # The WMS retries the same event: refused again, logged once.
    assert post(client, body).status_code == 409
    assert OrderEvent.objects.filter(order=order, action="wms_rejected").count() == 1


@pytest.mark.django_db
def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


@pytest.mark.django_db
def test_out_of_stock_puts_the_order_in_the_warehouse_queue_once(client, make_order, users):
    from orders.models import OrderException
    from orders.services.order_exceptions import order_exception_clear

    order = make_order("allocated")
    before = Order.objects.get(pk=order.pk)
    body = wms_body(event_id="oos-1", order_number=order.number, event="out_of_stock", skus=["TEA-01"])
    response = post(client, body)
    assert response.status_code == 200 and response.json()["outcome"] == "raised: out_of_stock"
    exception = OrderException.objects.get(order=order)
    assert (exception.reason, exception.owner_role, exception.source) == ("out_of_stock", "warehouse", "webhook")
    assert exception.detail.startswith("TEA-01 · WMS out_of_stock · 王强")
    after = Order.objects.get(pk=order.pk)
    assert (after.state, after.version) == (before.state, before.version)
    again = post(client, wms_body(event_id="oos-2", order_number=order.number, event="out_of_stock"))
    assert again.json()["outcome"] == "no change: out of stock already open"
    assert post(client, body).json() == {"duplicate": True}
    order_exception_clear(exception_id=exception.pk, actor=users["wh1"], note="找到了")
    assert OrderException.objects.get(pk=exception.pk).cleared_by == users["wh1"]
    bad = post(client, wms_body(event_id="oos-3", order_number=order.number, event="out_of_stock", skus="TEA"))
    assert bad.status_code == 400 and bad.json()["field"] == "skus"
