"""Carrier reactions, tracking sync and route pushes against the local Cainiao gateway."""

from __future__ import annotations

import pytest
from django.utils import timezone

from integrations.models import CarrierAccount, TrackingRecord
from integrations.tracking import tracking_sync
from orders.models import Order, OrderEvent, OutboxMessage, OutboxStatus, Shipment
from orders.outbox.services import outbox_deliver
from orders.services.transition import order_transition
from tests.fakes.cainiao import FakeCainiao

APP_KEY, SECRET = "cn-provider-1", "cn-secret-1"
PUSH_URL = "/webhooks/carriers/cainiao/push"


@pytest.fixture
def cainiao():
    with FakeCainiao(app_key=APP_KEY, secret=SECRET) as fake:
        yield fake


@pytest.fixture
def account(cainiao, warehouses):
    account = CarrierAccount.objects.create(
        name="菜鸟（杭州）",
        carrier="cainiao",
        endpoint=cainiao.url,
        app_key=APP_KEY,
        app_secret=SECRET,
        extra={"cp_code": "YTO"},
    )
    account.warehouses.set(warehouses)
    return account


def reaction(event, kind) -> OutboxMessage:
    return OutboxMessage.objects.get(event=event, kind=kind)


def make_due(message):
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def shipped(make_order, users, tracking="LP73100000000001"):
    order = make_order("packed")
    order_transition(order.pk, "ship", actor=users["wh1"], carrier="cainiao", tracking_number=tracking)
    return Order.objects.get(pk=order.pk)


@pytest.mark.django_db
def test_packed_books_the_pickup_once(account, cainiao, make_order, users):
    order = make_order("allocated")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    pickup = reaction(event, "carrier_book_pickup")
    assert outbox_deliver(pickup.pk) == OutboxStatus.DONE
    (received,) = cainiao.requests
    assert received.form["msg_type"] == "GUOGUO_CREATE_SEND_ORDER"
    assert f"{order.number}-P" in received.form["logistics_interface"]
    assert order.ship_address in received.form["logistics_interface"]


@pytest.mark.django_db
def test_shipped_uploads_the_waybill_with_our_tracking_number(account, cainiao, make_order, users):
    order = make_order("packed")
    event = order_transition(order.pk, "ship", actor=users["wh1"], carrier="cainiao", tracking_number="LP731000000009")
    upload = reaction(event, "carrier_upload_waybill")
    assert outbox_deliver(upload.pk) == OutboxStatus.DONE
    (received,) = cainiao.requests
    assert received.form["msg_type"] == "TMS_WAYBILL_UPDATE"
    payload = received.payload
    assert "LP731000000009" in str(payload) and f"{order.number}-S1" in str(payload)
    assert Shipment.objects.get(order=order).tracking_number == "LP731000000009"


@pytest.mark.django_db
def test_a_busy_carrier_is_retried_and_a_duplicate_is_success(account, cainiao, make_order, users):
    order = make_order("allocated")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    pickup = reaction(event, "carrier_book_pickup")
    cainiao.answers.extend(["busy", "duplicate"])
    assert outbox_deliver(pickup.pk) == OutboxStatus.PENDING
    make_due(pickup)
    assert outbox_deliver(pickup.pk) == OutboxStatus.DONE
    pickup.refresh_from_db()
    assert pickup.attempts == 2 and "already had" in pickup.result


@pytest.mark.django_db
def test_a_refusal_fails_at_once_and_alerts_the_tech_lead(account, cainiao, make_order, users):
    order = make_order("allocated")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    pickup = reaction(event, "carrier_book_pickup")
    cainiao.answers.append("business_error")
    assert outbox_deliver(pickup.pk) == OutboxStatus.FAILED
    failure = OrderEvent.objects.get(order=order, action="reaction_failed")
    assert failure.data["integration"] is True and "RECIPIENT_ADDRESS_ERROR" in failure.note
    assert SECRET not in failure.note
    assert OutboxMessage.objects.filter(event=failure, kind="notify").exists()


@pytest.mark.django_db
def test_no_carrier_account_is_a_clear_failure(cainiao, make_order, users):
    order = make_order("allocated")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    pickup = reaction(event, "carrier_book_pickup")
    assert outbox_deliver(pickup.pk) == OutboxStatus.FAILED
    assert "No carrier account" in OutboxMessage.objects.get(pk=pickup.pk).last_error
    assert cainiao.requests == []


@pytest.mark.django_db
def test_sync_records_steps_and_moves_the_order_as_the_system(account, cainiao, make_order, users):
    order = shipped(make_order, users)
    cainiao.routes["LP73100000000001"] = [
        {"time": "2026-01-28 14:05:00", "action": "GOT", "desc": "快件已揽收", "city": "杭州市"},
    ]
    assert tracking_sync(pause=0)["moves"] == 1
    assert Order.objects.get(pk=order.pk).state == "picked_up"
    cainiao.routes["LP73100000000001"].append(
        {"time": "2026-01-29 09:12:00", "action": "SIGN", "desc": "已签收", "city": "上海市"}
    )
    tracking_sync(pause=0)
    order.refresh_from_db()
    assert order.state == "delivered"
    deliver = order.events.get(action="deliver")
    assert deliver.actor is None and deliver.actor_role == "system" and "Cainiao" in deliver.note
    assert TrackingRecord.objects.filter(shipment__order=order).count() == 2
    tracking_sync(pause=0)  # nothing new: nothing recorded twice, nothing moved
    assert TrackingRecord.objects.filter(shipment__order=order).count() == 2
    assert Shipment.objects.get(order=order).tracking_number == "LP73100000000001"


@pytest.mark.django_db
def test_sync_failure_is_logged_and_tried_next_run(account, cainiao, make_order, users):
    order = shipped(make_order, users)
    cainiao.answers.append("server_error")
    assert tracking_sync(pause=0)["errors"] == 1
    assert Order.objects.get(pk=order.pk).state == "shipped"


@pytest.mark.django_db
def test_signed_push_delivers_the_order(client, account, cainiao, make_order, users):
    order = shipped(make_order, users)
    form = cainiao.push_form("LP73100000000001", [{"time": "2026-01-29 09:12:00", "action": "SIGN", "desc": "已签收"}])
    response = client.post(
        "/webhooks/carriers/cainiao/push",
        data=cainiao.push_body(form),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and b'"success": "true"' in response.content
    assert Order.objects.get(pk=order.pk).state == "delivered"


@pytest.mark.django_db
def test_badly_signed_push_changes_nothing(client, account, cainiao, make_order, users):
    order = shipped(make_order, users)
    form = cainiao.push_form("LP73100000000001", [{"time": "2026-01-29 09:12:00", "action": "SIGN"}], secret="wrong")
    response = client.post(
        "/webhooks/carriers/cainiao/push",
        data=cainiao.push_body(form),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 401
    assert Order.objects.get(pk=order.pk).state == "shipped"
    assert not TrackingRecord.objects.exists()


@pytest.mark.django_db
def test_push_for_an_earlier_parcel_is_recorded_but_moves_nothing(client, account, cainiao, make_order, users):
    order = shipped(make_order, users)
    order_transition(
        order.pk, "reship", actor=users["cs1"], carrier="cainiao", tracking_number="LP73100000000002", note="lost"
    )
    form = cainiao.push_form("LP73100000000001", [{"time": "2026-01-30 10:00:00", "action": "SIGN"}])
    client.post(
        "/webhooks/carriers/cainiao/push",
        data=cainiao.push_body(form),
        content_type="application/x-www-form-urlencoded",
    )
    assert Order.objects.get(pk=order.pk).state == "shipped"
    assert TrackingRecord.objects.filter(shipment__tracking_number="LP73100000000001", kind="delivered").exists()


@pytest.mark.django_db
def test_push_to_an_unknown_carrier_is_404(client):
    assert client.post("/webhooks/carriers/pigeon/push", data=b"x", content_type="text/plain").status_code == 404
