"""shopify_order_receive: one Shopify order delivery applied once, with its record, or refused
whole; the IntegrityError of a concurrent twin is sorted out here, not in the view."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from integrations.channels.shopify import ShopifyPayloadError
from integrations.models import InboundDelivery
from integrations.services import shopify as service
from integrations.services.shopify import shopify_order_receive
from orders.exceptions import IllegalTransition
from orders.models import Order, OrderEvent
from tests.fakes.shopify import shopify_body, shopify_order

pytestmark = pytest.mark.django_db

SHOPIFY_ID = "820982911946154508"


def _state():
    return (
        sorted(Order.objects.values_list("pk", "state", "version")),
        OrderEvent.objects.count(),
        sorted(InboundDelivery.objects.values_list("delivery_id", "outcome")),
    )


def test_a_delivery_is_applied_and_recorded_once():
    body = shopify_body(shopify_order(financial_status="paid"))
    receipt = shopify_order_receive(body=body, topic="orders/paid", delivery_id="d-1", shop=None)
    assert not receipt.duplicate
    order = Order.objects.get(external_id=SHOPIFY_ID)
    assert (receipt.result.order.pk, receipt.result.outcome, receipt.result.actions) == (order.pk, "created", ("pay",))
    delivery = InboundDelivery.objects.get()
    assert (delivery.source, delivery.delivery_id, delivery.topic, delivery.order_id) == (
        "shopify",
        "d-1",
        "orders/paid",
        order.pk,
    )
    assert delivery.outcome == "created: pay"
    before = _state()
    again = shopify_order_receive(body=body, topic="orders/paid", delivery_id="d-1", shop=None)
    assert again.duplicate and again.result is None
    assert _state() == before


def test_a_body_that_is_not_an_order_writes_nothing():
    before = _state()
    with pytest.raises(ShopifyPayloadError):
        shopify_order_receive(body=b"{not json", topic="orders/create", delivery_id="d-2", shop=None)
    assert _state() == before


def test_a_refused_change_writes_nothing_and_records_no_delivery(make_order):
    make_order("delivered", channel="shopify", external_id=SHOPIFY_ID)
    body = shopify_body(shopify_order(financial_status="paid", cancelled_at="2026-01-29T09:00:00+08:00"))
    before = _state()
    with pytest.raises(IllegalTransition):
        shopify_order_receive(body=body, topic="orders/cancelled", delivery_id="d-3", shop=None)
    assert _state() == before


def test_a_twin_delivery_committed_meanwhile_is_a_duplicate(monkeypatch):
    """The same delivery committed by another request between the first look and the insert:
    the insert's IntegrityError rolls this attempt back whole and ends as a duplicate."""
    looks = iter([False, True])  # not seen before; seen after the refused insert
    monkeypatch.setattr(service, "shopify_delivery_seen", lambda *, delivery_id: next(looks))
    real = service.order_intake_in_transaction

    def then_refused(**kwargs):
        real(**kwargs)
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(service, "order_intake_in_transaction", then_refused)
    receipt = shopify_order_receive(
        body=shopify_body(shopify_order()), topic="orders/create", delivery_id="d-4", shop=None
    )
    assert receipt.duplicate
    assert not Order.objects.exists() and not InboundDelivery.objects.exists()


def test_a_second_integrity_error_is_raised(monkeypatch):
    def always_taken(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(service, "order_intake_in_transaction", always_taken)
    with pytest.raises(IntegrityError):
        shopify_order_receive(body=shopify_body(shopify_order()), topic="orders/create", delivery_id="d-5", shop=None)
    assert not InboundDelivery.objects.exists()
