"""One order's whole way, on PostgreSQL, Redis and a real Celery worker: in from Shopify,
approved, allocated, packed (pickup booked at the carrier), shipped (waybill uploaded) and
delivered by the carrier's push; the timeline shows every step with its actor."""

from __future__ import annotations

import pytest

from integrations.models import CarrierAccount
from orders.models import Order, OutboxMessage, OutboxStatus
from orders.services.transition import order_transition
from tests.conftest import wait_for
from tests.fakes.cainiao import FakeCainiao
from tests.fakes.shopify import shopify_body, shopify_headers, shopify_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_shopify_to_delivered(live_worker, client, users, warehouses, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = "shpss_e2e"
    with FakeCainiao(app_key="cn-e2e", secret="cn-e2e-secret") as cainiao:
        account = CarrierAccount.objects.create(
            name="菜鸟",
            carrier="cainiao",
            endpoint=cainiao.url,
            app_key="cn-e2e",
            app_secret="cn-e2e-secret",
            extra={"cp_code": "YTO"},
        )
        account.warehouses.set(warehouses)

        body = shopify_body(shopify_order(id=5550001, financial_status="paid"))
        response = client.post(
            "/webhooks/shopify/orders",
            data=body,
            content_type="application/json",
            **shopify_headers(body, "shpss_e2e"),
        )
        assert response.status_code in (200, 201), response.content
        order = Order.objects.get(channel="shopify", external_id="5550001")
        assert order.state == "paid"

        order_transition(order.pk, "approve", actor=users["cs1"])
        order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouses[0])
        pack = order_transition(order.pk, "pack", actor=users["wh1"])
        wait_for(
            lambda: OutboxMessage.objects.filter(
                event=pack, kind="carrier_book_pickup", status=OutboxStatus.DONE
            ).exists(),
            what="the pickup booking",
        )
        assert any(r.form["msg_type"] == "GUOGUO_CREATE_SEND_ORDER" for r in cainiao.requests)
        wait_for(
            lambda: OutboxMessage.objects.filter(
                event=pack, kind="invoice_list_add", status=OutboxStatus.DONE
            ).exists(),
            what="the order on finance's to-invoice list",
        )

        ship = order_transition(
            order.pk, "ship", actor=users["wh1"], carrier="cainiao", tracking_number="LP7310000000E2E"
        )
        wait_for(
            lambda: OutboxMessage.objects.filter(
                event=ship, kind="carrier_upload_waybill", status=OutboxStatus.DONE
            ).exists(),
            what="the waybill upload",
        )
        assert any(r.form["msg_type"] == "TMS_WAYBILL_UPDATE" for r in cainiao.requests)

        form = cainiao.push_form(
            "LP7310000000E2E", [{"time": "2026-01-29 09:12:00", "action": "SIGN", "desc": "已签收"}]
        )
        response = client.post(
            "/webhooks/carriers/cainiao/push",
            data=cainiao.push_body(form),
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200

    order.refresh_from_db()
    assert order.state == "delivered"
    steps = [
        (e.action, e.actor_role, e.actor_name)
        for e in order.events.exclude(action="reaction_failed").order_by("occurred_at", "id")
    ]
    assert steps == [
        ("created", "system", ""),
        ("pay", "system", ""),
        ("approve", "customer_service", "张明"),
        ("allocate", "warehouse", "王强"),
        ("pack", "warehouse", "王强"),
        ("invoice_listed", "system", ""),
        ("ship", "warehouse", "王强"),
        ("deliver", "system", ""),
    ]
    assert order.shipments.get().tracking_number == "LP7310000000E2E"
    assert order.invoice_request.status == "pending" and order.invoice_request.amount == order.amount
