"""Shopify's returns/request topic: signed like every Shopify webhook, one case per Shopify return,
a return the hub cannot open recorded as a refused delivery with its reason (never a 500)."""

from __future__ import annotations

import pytest

from aftersales.models import ReturnRequest
from integrations.models import InboundDelivery
from orders.models import Order, OrderEvent, OutboxMessage
from tests.fakes.shopify import shopify_body, shopify_headers

pytestmark = pytest.mark.django_db

SECRET = "shpss_returns_secret"
URL = "/webhooks/shopify/orders"
TOPIC = "returns/request"
SHOPIFY_ORDER_ID = 820982911946154508


@pytest.fixture(autouse=True)
def shopify_secret(settings):
    settings.SHOPIFY_WEBHOOK_SECRET = SECRET


def shopify_return(**overrides) -> dict:
    """A Return as Shopify's returns/request webhook carries it."""
    payload = {
        "id": 246,
        "admin_graphql_api_id": "gid://shopify/Return/246",
        "name": "#1001-R1",
        "status": "requested",
        "order": {"id": SHOPIFY_ORDER_ID, "admin_graphql_api_id": f"gid://shopify/Order/{SHOPIFY_ORDER_ID}"},
        "total_return_line_items": 1,
        "return_line_items": [
            {
                "id": 9001,
                "admin_graphql_api_id": "gid://shopify/ReturnLineItem/9001",
                "quantity": 1,
                "return_reason": "defective",
                "return_reason_note": "杯盖裂了",
                "customer_note": "收到时就坏了",
                "fulfillment_line_item": {
                    "id": 7001,
                    "line_item": {"id": 5001, "sku": "CUP-01", "title": "保温杯", "quantity": 1},
                },
            }
        ],
        "created_at": "2026-02-03T10:00:00+08:00",
    }
    payload.update(overrides)
    return payload


def post(client, payload=None, *, webhook_id=None, signature=None, topic=TOPIC):
    body = shopify_body(payload if payload is not None else shopify_return())
    headers = shopify_headers(body, SECRET, topic=topic, webhook_id=webhook_id, signature=signature)
    return client.post(URL, data=body, content_type="application/json", **headers)


@pytest.fixture
def shopify_order(make_order):
    def make(state="delivered"):
        return make_order(
            state, channel="shopify", external_id=str(SHOPIFY_ORDER_ID), buyer_email="shopify-buyer@example.com"
        )

    return make


def state() -> dict:
    return {
        "orders": sorted(Order.objects.values_list("pk", "state", "version")),
        "returns": ReturnRequest.objects.count(),
        "events": OrderEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "deliveries": InboundDelivery.objects.count(),
    }


def test_a_signed_return_request_opens_a_return_as_the_system(client, shopify_order):
    order = shopify_order()
    response = post(client, webhook_id="ret-delivery-1")
    assert response.status_code == 200, response.content
    case = ReturnRequest.objects.get()
    assert response.json() == {"order": order.number, "return": case.pk, "outcome": "created", "status": "requested"}
    assert (case.source, case.channel_reference, case.requested_by) == ("channel", "246", None)
    assert case.items == [{"sku": "CUP-01", "name": "保温杯", "quantity": 1}]
    assert case.reason == "Shopify return #1001-R1: 保温杯 ×1: defective — 杯盖裂了 — 收到时就坏了"
    order.refresh_from_db()
    assert order.state == "return_requested"
    event = case.request_event
    assert (event.action, event.actor_role, event.note) == ("request_return", "system", case.reason)
    delivery = InboundDelivery.objects.get(delivery_id="ret-delivery-1")
    assert (delivery.source, delivery.topic, delivery.order) == ("shopify", TOPIC, order)
    assert delivery.outcome == f"return 246: opened as #{case.pk} (requested)"


def test_a_replayed_delivery_and_a_second_delivery_of_the_same_return_change_nothing(client, shopify_order):
    shopify_order()
    post(client, webhook_id="ret-delivery-1")
    before = state()
    replay = post(client, webhook_id="ret-delivery-1")
    assert replay.status_code == 200 and replay.json() == {"duplicate": True}
    assert state() == before

    # Shopify sends the same return again under another delivery id: the same case.
    again = post(client, webhook_id="ret-delivery-2")
    assert again.status_code == 200 and again.json()["outcome"] == "existing"
    assert ReturnRequest.objects.count() == 1
    assert state()["events"] == before["events"] and state()["deliveries"] == before["deliveries"] + 1


def test_the_return_id_may_come_as_a_global_id(client, shopify_order):
    shopify_order()
    payload = shopify_return(id=None, order={"admin_graphql_api_id": f"gid://shopify/Order/{SHOPIFY_ORDER_ID}"})
    assert post(client, payload).status_code == 200
    assert ReturnRequest.objects.get().channel_reference == "246"


@pytest.mark.parametrize("signature", ["", "bm90IHRoZSBzaWduYXR1cmU=", None])
def test_a_bad_signature_is_refused_and_writes_nothing(client, shopify_order, signature, settings):
    shopify_order()
    before = state()
    if signature is None:
        settings.SHOPIFY_WEBHOOK_SECRET = "another-secret"
    response = post(client, signature=signature)
    assert response.status_code == 401
    assert state() == before


def test_an_unknown_order_is_recorded_as_refused(client, shopify_order):
    before = state()
    response = post(client, webhook_id="ret-unknown-1")
    assert response.status_code == 200
    assert response.json() == {"refused": f"order {SHOPIFY_ORDER_ID} is not in the hub (Shopify id)", "order": None}
    delivery = InboundDelivery.objects.get(delivery_id="ret-unknown-1")
    assert delivery.order is None and delivery.outcome.startswith("refused: order")
    assert {**state(), "deliveries": before["deliveries"]} == before
    # Shopify's retry of that delivery is a duplicate.
    assert post(client, webhook_id="ret-unknown-1").json() == {"duplicate": True}


def test_an_order_not_delivered_is_refused_and_customer_service_sees_why(client, shopify_order):
    order = shopify_order("shipped")
    before = state()
    response = post(client, webhook_id="ret-shipped-1")
    assert response.status_code == 200
    reason = response.json()["refused"]
    assert order.number in reason and "Shipped" in reason
    assert ReturnRequest.objects.count() == 0
    assert state()["orders"] == before["orders"]
    note = OrderEvent.objects.get(order=order, action="return_request_refused")
    assert note.actor_role == "system" and reason in note.note and "defective" in note.note
    assert InboundDelivery.objects.get(delivery_id="ret-shipped-1").outcome == f"refused: {reason}"[:200]
    # Another delivery of the same return is recorded, but not written on the timeline twice.
    post(client, webhook_id="ret-shipped-2")
    assert OrderEvent.objects.filter(order=order, action="return_request_refused").count() == 1


def test_a_return_already_open_in_the_hub_is_refused(client, shopify_order, users):
    from aftersales.services.returns import return_request_create

    order = shopify_order()
    return_request_create(order_id=order.pk, actor=users["cs1"], reason="买家电话申请")
    response = post(client, webhook_id="ret-open-1")
    assert response.status_code == 200 and "already has an open return" in response.json()["refused"]
    assert ReturnRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (shopify_return(order=None), "order.id"),
        (shopify_return(id="abc", admin_graphql_api_id=None), "id"),
        (shopify_return(return_line_items=[{"quantity": 0}]), "return_line_items[0].quantity"),
        (shopify_return(return_line_items="all"), "return_line_items"),
    ],
)
def test_a_malformed_return_is_a_400_naming_the_field(client, shopify_order, payload, field):
    shopify_order()
    before = state()
    response = post(client, payload)
    assert response.status_code == 400 and response.json()["field"] == field
    assert state() == before


def test_the_body_must_be_json(client):
    body = b"not json"
    headers = shopify_headers(body, SECRET, topic=TOPIC)
    response = client.post(URL, data=body, content_type="application/json", **headers)
    assert response.status_code == 400


def test_a_repeat_customer_on_shopify_is_approved_by_the_rule(client, shopify_order, make_order):
    for _ in range(3):
        make_order("delivered", buyer_email="shopify-buyer@example.com")
    shopify_order()
    response = post(client)
    assert response.json()["status"] == "approved"
    case = ReturnRequest.objects.get()
    assert case.decided_by_rule and case.label_prepaid
