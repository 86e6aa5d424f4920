"""截单: asking whoever holds the parcel to stop it, after the warehouse had the order, and the
result — against the local SF, ZTO and WMS servers, which check the hub's signatures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from aftersales.models import Refund, RefundStatus
from aftersales.services.refunds import refund_request
from integrations.models import CarrierAccount
from orders.exceptions import ActionNotPermitted, IllegalTransition, InvalidActionData
from orders.models import Interception, Order, OrderEvent, OutboxMessage, OutboxStatus
from orders.outbox.services import outbox_deliver
from orders.services.interception import order_intercept_request
from orders.services.transition import order_transition
from tests.fakes.sf import FakeSF
from tests.fakes.wms import FakeWMS, wms_body, wms_headers
from tests.fakes.zto import FakeZTO

pytestmark = pytest.mark.django_db

WMS_SECRET = "wms-secret-7"


@pytest.fixture(autouse=True)
def wms_secret(settings):
    settings.WMS_WEBHOOK_SECRET = WMS_SECRET


def call_of(event) -> OutboxMessage:
    return OutboxMessage.objects.get(event=event, kind="interception_call")


def snapshot(order_id):
    order = Order.objects.get(pk=order_id)
    return (order.state, order.version, order.events.count(), Interception.objects.filter(order=order).count())


def account_for(carrier, fake, warehouses, **fields):
    credentials = (
        {"app_key": fake.partner_id, "app_secret": fake.check_word}
        if carrier == "sf"
        else {"app_key": fake.app_key, "app_secret": fake.app_secret}
    )
    endpoint = fake.url if carrier == "sf" else fake.base_url
    account = CarrierAccount.objects.create(name=carrier, carrier=carrier, endpoint=endpoint, **credentials, **fields)
    account.warehouses.set(warehouses)
    return account


def shipped_with(make_order, users, carrier, tracking):
    order = make_order("packed")
    order_transition(order.pk, "ship", actor=users["wh1"], carrier=carrier, tracking_number=tracking)
    return Order.objects.get(pk=order.pk)


# -- asking -------------------------------------------------------------------------------------


def test_packed_order_goes_on_top_of_the_warehouse_board_and_the_warehouse_pulls_it(client, make_order, users):
    order = make_order("packed")
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消：不想要了")
    assert event.action == "request_intercept" and (event.from_state, event.to_state) == (
        "packed",
        "intercept_requested",
    )
    order.refresh_from_db()
    assert (order.main_status, order.warehouse_stage) == ("intercepting", "intercept")
    interception = Interception.objects.get(order=order)
    assert (interception.route, interception.status, interception.from_state) == ("warehouse", "requested", "packed")
    assert interception.requested_by == users["cs1"] and interception.reason == "买家取消：不想要了"

    client.force_login(users["wh1"])
    page = client.get(reverse("orders:board_warehouse")).content.decode()
    # First on the board, with the reason and the one-tap answer.
    assert page.index('data-stage="intercept"') < page.index('data-stage="packing"')
    assert "买家取消：不想要了" in page
    confirm = reverse("orders:board_transition", args=[order.number, "confirm_intercept"])
    assert confirm in page and reverse("orders:board_transition", args=[order.number, "fail_intercept"]) in page
    response = client.post(confirm, {"expected_version": order.version})
    assert response.status_code in (200, 302)

    order.refresh_from_db()
    assert order.state == "intercepted" and order.main_status == "intercepting"
    interception.refresh_from_db()
    assert interception.status == "intercepted" and interception.resolved_event.actor == users["wh1"]
    assert interception.resolved_at is not None
    # No WMS URL: the board was the request, nothing was sent anywhere.
    assert outbox_deliver(call_of(event).pk) == OutboxStatus.DONE


def test_a_stopped_order_is_cancelled_or_sent_again(make_order, users):
    cancelled, again = make_order("allocated"), make_order("packed")
    for order in (cancelled, again):
        order_intercept_request(order.pk, actor=users["cs1"], reason="买家改地址")
        order_transition(order.pk, "confirm_intercept", actor=users["wh1"])
    order_transition(cancelled.pk, "cancel", actor=users["cs1"], note="买家确认取消")
    order_transition(again.pk, "resume_after_intercept", actor=users["cs1"], note="地址已改，重新发货")
    assert Order.objects.get(pk=cancelled.pk).state == "cancelled"
    assert Order.objects.get(pk=again.pk).state == "reviewed"
    # Sent again, it can be intercepted again: one open at a time, all kept.
    order_transition(again.pk, "allocate", actor=users["wh1"], warehouse=again.warehouse)
    order_intercept_request(again.pk, actor=users["cs1"], reason="又改地址")
    assert list(Interception.objects.filter(order=again).order_by("id").values_list("status", flat=True)) == [
        "intercepted",
        "requested",
    ]


def test_before_the_warehouse_has_it_stopping_is_a_cancel(make_order, users):
    order = make_order("reviewed")
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    assert event.action == "cancel" and Order.objects.get(pk=order.pk).state == "cancelled"
    assert not Interception.objects.exists()


@pytest.mark.parametrize("state", ["delivered", "cancelled", "intercept_requested", "intercepted"])
def test_too_late_or_already_asked_is_refused_and_changes_nothing(make_order, users, state):
    order = make_order(state)
    before = snapshot(order.pk)
    with pytest.raises(IllegalTransition):
        order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    assert snapshot(order.pk) == before


def test_bad_requests_change_nothing(make_order, users):
    order = make_order("packed")
    before = snapshot(order.pk)
    with pytest.raises(InvalidActionData):
        order_intercept_request(order.pk, actor=users["cs1"], reason="  ")
    with pytest.raises(ActionNotPermitted):
        order_intercept_request(order.pk, actor=users["fin1"], reason="财务想拦截")
    with pytest.raises(ActionNotPermitted):
        order_transition(order.pk, "request_intercept", actor=users["wh1"], note="仓库不能发起")
    assert snapshot(order.pk) == before


def test_after_a_failed_interception_the_parcel_goes_on(make_order, users):
    order = make_order("packed")
    order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    order_transition(order.pk, "fail_intercept", actor=users["wh1"], note="已交给快递")
    with pytest.raises(InvalidActionData, match="no tracking number"):
        order_transition(order.pk, "deliver", actor=users["cs1"])
    order_transition(order.pk, "ship", actor=users["wh1"], carrier="zto", tracking_number="73100077700001")
    order_transition(order.pk, "deliver", actor=None)
    assert Order.objects.get(pk=order.pk).state == "delivered"
    assert Interception.objects.get(order=order).status == "failed"


# -- the warehouse system -----------------------------------------------------------------------


@pytest.fixture
def wms():
    with FakeWMS(secret=WMS_SECRET) as fake:
        yield fake


def test_the_wms_is_sent_the_signed_request_and_answers_later_by_webhook(client, wms, make_order, users):
    order = make_order("allocated")
    order.warehouse.wms_url = wms.url
    order.warehouse.save(update_fields=["wms_url"])
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    message = call_of(event)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    (received,) = wms.requests
    body = received["json"]
    assert body["type"] == "intercept" and body["order_number"] == order.number and body["reason"] == "买家取消"
    assert body["request_id"] == f"{order.number}-I{Interception.objects.get(order=order).pk}"
    # Accepted without a result: still waiting, the answer on record.
    interception = Interception.objects.get(order=order)
    assert interception.is_open and "已通知仓库拦截" in interception.answer
    # Its result comes over the WMS webhook.
    payload = wms_body(event_id="wms-9", order_number=order.number, event="intercepted")
    response = client.post(
        "/webhooks/wms/events", payload, content_type="application/json", **wms_headers(payload, WMS_SECRET)
    )
    assert response.status_code == 200, response.content
    order.refresh_from_db()
    assert order.state == "intercepted"
    assert order.events.get(action="confirm_intercept").actor.username == "wms"


@pytest.mark.parametrize(("answer", "state"), [("intercepted", "intercepted"), ("too_late", "intercept_failed")])
def test_a_wms_answering_at_once_closes_the_interception(wms, make_order, users, answer, state):
    order = make_order("packed")
    order.warehouse.wms_url = wms.url
    order.warehouse.save(update_fields=["wms_url"])
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    wms.answers.append(answer)
    assert outbox_deliver(call_of(event).pk) == OutboxStatus.DONE
    order.refresh_from_db()
    assert order.state == state
    closing = order.events.latest("id")
    assert closing.actor is None and closing.note.startswith("WMS ")


def test_a_wms_down_is_retried_and_a_wrong_secret_fails_with_an_alert(wms, make_order, users, settings):
    from alerts.models import Alert

    order = make_order("packed")
    order.warehouse.wms_url = wms.url
    order.warehouse.save(update_fields=["wms_url"])
    message = call_of(order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消"))
    wms.answers.append("server_error")
    assert outbox_deliver(message.pk) == OutboxStatus.PENDING
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
    settings.WMS_WEBHOOK_SECRET = "not-the-shared-one"
    assert outbox_deliver(message.pk) == OutboxStatus.FAILED
    assert Alert.objects.filter(order=order, kind="integration_failure").exists()
    # The interception stays open for the warehouse board.
    assert Order.objects.get(pk=order.pk).state == "intercept_requested"


# -- the carrier --------------------------------------------------------------------------------


@pytest.fixture
def sf():
    with FakeSF() as fake:
        yield fake


@pytest.fixture
def zto():
    with FakeZTO() as fake:
        yield fake


def test_sf_takes_the_interception_of_a_shipped_parcel(sf, make_order, users, warehouses):
    account_for("sf", sf, warehouses)
    order = shipped_with(make_order, users, "sf", "SF1234567890123")
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家拒收")
    interception = Interception.objects.get(order=order)
    assert (interception.route, interception.carrier, interception.tracking_number) == (
        "carrier",
        "sf",
        "SF1234567890123",
    )
    assert outbox_deliver(call_of(event).pk) == OutboxStatus.DONE
    assert sf.intercepts["SF1234567890123"]["serviceCode"] == "2"  # back to the sender
    order.refresh_from_db()
    assert order.state == "intercepted"
    assert "accepted" in order.events.latest("id").note


def test_sf_refusing_because_it_was_signed_for_is_a_failed_interception(sf, make_order, users, warehouses):
    account_for("sf", sf, warehouses)
    order = shipped_with(make_order, users, "sf", "SF1234567890124")
    sf.delivered.add("SF1234567890124")
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家拒收")
    assert outbox_deliver(call_of(event).pk) == OutboxStatus.DONE
    order.refresh_from_db()
    assert order.state == "intercept_failed"
    assert "8252" in order.events.latest("id").note
    # The parcel goes on: its scans apply.
    order_transition(order.pk, "deliver", actor=None)
    assert Order.objects.get(pk=order.pk).state == "delivered"


def test_zto_interception_names_the_bill_and_our_request(zto, make_order, users, warehouses):
    account_for("zto", zto, warehouses)
    order = shipped_with(make_order, users, "zto", "73100196611386")
    order_transition(order.pk, "pick_up", actor=None)
    event = order_intercept_request(order.pk, actor=users["ops1"], reason="地址错误，退回")
    assert outbox_deliver(call_of(event).pk) == OutboxStatus.DONE
    taken = zto.intercepts["73100196611386"]
    assert taken["requestId"].startswith(order.number + "-I") and taken["receiveType"] == "1"
    assert Order.objects.get(pk=order.pk).state == "intercepted"


def test_a_carrier_without_an_interception_api_is_a_task_for_a_person(make_order, users):
    order = shipped_with(make_order, users, "cainiao", "LP00077700001")
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    assert outbox_deliver(call_of(event).pk) == OutboxStatus.DONE
    interception = Interception.objects.get(order=order)
    assert interception.route == "manual" and interception.is_open
    assert "call the carrier" in interception.answer
    # Customer service called the carrier and records what it said.
    order_transition(order.pk, "confirm_intercept", actor=users["cs1"])
    interception.refresh_from_db()
    assert interception.status == "intercepted"


def test_no_carrier_account_is_a_task_for_a_person_too(make_order, users):
    order = shipped_with(make_order, users, "sf", "SF1234567890125")
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    assert outbox_deliver(call_of(event).pk) == OutboxStatus.DONE
    interception = Interception.objects.get(order=order)
    assert interception.route == "manual" and "No SF Express account" in interception.answer


def test_the_warehouse_answered_first_and_the_carrier_call_changes_nothing(sf, make_order, users, warehouses):
    account_for("sf", sf, warehouses)
    order = shipped_with(make_order, users, "sf", "SF1234567890126")
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    order_transition(order.pk, "confirm_intercept", actor=users["wh1"], note="包裹已退回仓库")
    events = OrderEvent.objects.filter(order=order).count()
    assert outbox_deliver(call_of(event).pk) == OutboxStatus.DONE
    assert not sf.requests and OrderEvent.objects.filter(order=order).count() == events


# -- refunds wait for the result ----------------------------------------------------------------


def test_a_refund_asked_during_an_interception_waits_for_its_result(make_order, users):
    stopped, lost = make_order("packed"), make_order("packed")
    refunds = {}
    for order in (stopped, lost):
        order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
        refunds[order.pk] = refund_request(
            order_id=order.pk, actor=users["fin1"], amount=order.amount, reason="取消退款"
        )
        assert refunds[order.pk].status == RefundStatus.HELD
        assert not OutboxMessage.objects.filter(kind="refund_pay", event__order=order).exists()
        # Held money counts: nobody can ask for it a second time meanwhile.
        with pytest.raises(InvalidActionData, match="more than is left"):
            refund_request(order_id=order.pk, actor=users["fin1"], amount=Decimal("0.01"), reason="again")

    order_transition(stopped.pk, "confirm_intercept", actor=users["wh1"])
    refund = Refund.objects.get(pk=refunds[stopped.pk].pk)
    assert refund.status == RefundStatus.PENDING
    payment = OutboxMessage.objects.get(kind="refund_pay", event__order=stopped)
    assert payment.params == {"refund_id": refund.pk} and payment.event.action == "confirm_intercept"

    order_transition(lost.pk, "fail_intercept", actor=users["wh1"], note="已出库")
    refund = Refund.objects.get(pk=refunds[lost.pk].pk)
    assert refund.status == RefundStatus.FAILED and "could not be stopped" in refund.failure_reason
    assert not OutboxMessage.objects.filter(kind="refund_pay", event__order=lost).exists()
    assert OrderEvent.objects.filter(order=lost, action="refund_failed").count() == 1


def test_the_timeline_page_lists_the_interceptions_with_their_answers(client, make_order, users):
    order = shipped_with(make_order, users, "cainiao", "LP00077700002")
    event = order_intercept_request(order.pk, actor=users["cs1"], reason="买家拒收，退回")
    outbox_deliver(call_of(event).pk)
    client.force_login(users["cs1"])
    page = client.get(reverse("orders:timeline", args=[order.number])).content.decode()
    assert 'data-route="manual"' in page and "买家拒收，退回" in page and "LP00077700002" in page
    assert "call the carrier" in page


def test_a_stopped_parcel_leaves_the_logistics_watch_until_it_is_sent_again(make_order, users):
    from alerts.models import OrderWatch, WatchPhase

    order = make_order("packed")
    assert OrderWatch.objects.get(order=order).phase == WatchPhase.AWAITING_SHIPMENT
    order_intercept_request(order.pk, actor=users["cs1"], reason="买家改地址")
    order_transition(order.pk, "confirm_intercept", actor=users["wh1"])
    assert OrderWatch.objects.get(order=order).phase == WatchPhase.DONE
    order_transition(order.pk, "resume_after_intercept", actor=users["cs1"], note="地址已改")
    assert OrderWatch.objects.get(order=order).phase == WatchPhase.AWAITING_SHIPMENT
