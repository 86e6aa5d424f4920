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


def test_a_clean_shopify_order_moves_by_itself_and_one_with_a_remark_waits(
    live_worker, client, users, warehouses, settings
):
    """审单策略 through the real worker: the approval rule (no cooling-off here, so the test does
    not wait ten minutes; the wait is tested in tests/rules/test_auto_approval.py) approves the
    clean order, a region rule allocates it, a weight rule plans the carrier; the order with a
    buyer remark is refused and stays in customer service's queue."""
    from orders.models import OrderEvent, OrderException
    from rules.defaults import APPROVAL_NAME
    from rules.models import Rule, RuleAction

    settings.SHOPIFY_WEBHOOK_SECRET = "shpss_auto"
    approval = Rule.objects.get(name=APPROVAL_NAME)
    RuleAction.objects.filter(rule=approval).update(cooling_off_minutes=0)
    approval.enabled = True
    approval.save()
    east = Rule.objects.create(name="华东 → 一号仓", trigger="approve", places=["region:east"], enabled=True)
    RuleAction.objects.create(rule=east, kind="assign_warehouse", warehouse=warehouses[0])
    light = Rule.objects.create(name="轻件走顺丰", trigger="allocate", weight_max_grams=1000, enabled=True)
    RuleAction.objects.create(rule=light, kind="choose_carrier", carrier="sf")

    buyers = {5560001: ("a@example.com", "+8613800138001"), 5560002: ("b@example.com", "+8613800138002")}
    for number, note in ((5560001, None), (5560002, "请下午送")):
        email, phone = buyers[number]
        order = shopify_order(id=number, financial_status="paid", note=note, email=email, phone=phone)
        body = shopify_body(order)
        response = client.post(
            "/webhooks/shopify/orders",
            data=body,
            content_type="application/json",
            **shopify_headers(body, "shpss_auto"),
        )
        assert response.status_code in (200, 201), response.content
    clean = Order.objects.get(channel="shopify", external_id="5560001")
    remark = Order.objects.get(channel="shopify", external_id="5560002")

    wait_for(lambda: Order.objects.get(pk=clean.pk).carrier == "sf", what="the clean order allocated, carrier planned")
    clean.refresh_from_db()
    assert (clean.state, clean.warehouse_id, clean.weight_grams) == ("allocated", warehouses[0].pk, 350)
    steps = list(OrderEvent.objects.filter(order=clean).order_by("id").values_list("action", "actor_id"))
    assert [action for action, _actor in steps][:4] == ["created", "pay", "approve", "allocate"]
    assert {actor for _action, actor in steps} == {None}, "no person touched it"

    wait_for(
        lambda: OrderEvent.objects.filter(order=remark, action="approval_refused").exists(),
        what="the approval refused for the order with a remark",
    )
    assert Order.objects.get(pk=remark.pk).state == "paid"
    assert OrderException.objects.get(order=remark, cleared_at__isnull=True).reason == "buyer_remark"
