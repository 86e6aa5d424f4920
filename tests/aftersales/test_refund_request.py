"""refund_request: what is recorded, what is refused, and that a refusal changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from aftersales.models import DuplicateRefundAttempt, Refund, RefundStatus, ReturnRequest
from aftersales.services import refunds as refunds_module
from aftersales.services.refunds import AlreadyRefunded, RefundRefused, refund_fail, refund_request
from orders.exceptions import ActionNotPermitted
from orders.models import Order, OrderEvent, OutboxMessage

pytestmark = pytest.mark.django_db


def snapshot(order_id: int) -> dict:
    order = Order.objects.get(pk=order_id)
    return {
        "state": order.state,
        "version": order.version,
        "refunds": Refund.objects.count(),
        "events": OrderEvent.objects.filter(order_id=order_id).count(),
        "outbox": OutboxMessage.objects.count(),
        "duplicates": DuplicateRefundAttempt.objects.count(),
    }


def refused(order_id: int, exc_type, call, match: str):
    before = snapshot(order_id)
    with pytest.raises(exc_type, match=match) as info:
        call()
    assert snapshot(order_id) == before, "a refused refund must change nothing"
    return info.value


def test_a_refund_is_recorded_with_its_event_and_payment_message(make_order, users):
    order = make_order("delivered", amount="199.00")
    version = order.version

    refund = refund_request(order_id=order.pk, actor=users["fin1"], amount="30.5", reason="少发一件赠品，补偿")

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    assert refund.amount == Decimal("30.50") and refund.currency == "CNY"
    assert refund.requested_by == users["fin1"] and refund.return_request is None
    assert refund.idempotency_key.startswith(f"{order.number}-")
    event = refund.request_event
    assert event.action == "refund_requested" and event.from_state == event.to_state == "delivered"
    assert event.note == "少发一件赠品，补偿" and event.actor_display == "陈静 (Finance)"
    assert event.data == {
        "refund": refund.pk,
        "amount": "30.50",
        "currency": "CNY",
        "return": None,
        "idempotency_key": refund.idempotency_key,
    }
    (message,) = OutboxMessage.objects.filter(event=event)
    assert message.kind == "refund_pay" and message.params == {"refund_id": refund.pk}
    assert message.idempotency_key == f"event:{event.pk}:kind:refund_pay" and message.rule_id is None
    # A note on the timeline, not a change of the order.
    assert Order.objects.get(pk=order.pk).version == version
    assert "requested a refund" in event.timeline_text()


def test_partial_refunds_add_up_and_over_refunding_is_refused(make_order, users):
    order = make_order("delivered", amount="199.00")
    fin = users["fin1"]
    refund_request(order_id=order.pk, actor=fin, amount="50.00", reason="价保")
    refund_request(order_id=order.pk, actor=fin, amount="100.00", reason="部分退货")

    error = refused(
        order.pk,
        RefundRefused,
        lambda: refund_request(order_id=order.pk, actor=fin, amount="49.01", reason="再退"),
        "more than is left",
    )
    assert "49.01 CNY" in error.message and "199.00 CNY" in error.message
    assert "150.00 CNY is refunded or being refunded" in error.message and "49.00 CNY is left" in error.message

    refund_request(order_id=order.pk, actor=fin, amount="49.00", reason="余款")
    assert sum(r.amount for r in Refund.objects.filter(order=order)) == Decimal("199.00")
    refused(
        order.pk,
        RefundRefused,
        lambda: refund_request(order_id=order.pk, actor=fin, amount="0.01", reason="再退"),
        "0.00 CNY is left",
    )


def test_a_failed_refund_does_not_count(make_order, users):
    order = make_order("delivered", amount="100.00")
    first = refund_request(order_id=order.pk, actor=users["fin1"], amount="100.00", reason="退全款")
    refund_fail(refund_id=first.pk, reason="Alipay: trade finished", gateway="alipay")
    again = refund_request(order_id=order.pk, actor=users["fin1"], amount="100.00", reason="退全款")
    assert again.status == RefundStatus.PENDING


def test_a_gift_order_is_never_refunded_with_money(make_order, users):
    main = make_order("delivered", amount="299.00")
    gift = make_order("paid", amount="0.00", main_order=main)
    error = refused(
        gift.pk,
        RefundRefused,
        lambda: refund_request(order_id=gift.pk, actor=users["fin1"], amount="10.00", reason="赠品破损"),
        "gift order",
    )
    assert main.number in error.message and gift.number in error.message


@pytest.mark.parametrize("state", ["submitted", "payment_failed"])
def test_an_order_never_paid_is_refused(make_order, users, state):
    order = make_order(state, amount="99.00")
    refused(
        order.pk,
        RefundRefused,
        lambda: refund_request(order_id=order.pk, actor=users["fin1"], amount="10.00", reason="退款"),
        "never paid",
    )


def test_an_order_paid_then_cancelled_can_be_refunded(make_order, users):
    order = make_order("cancelled", amount="99.00")
    refund = refund_request(order_id=order.pk, actor=None, amount="99.00", reason="买家取消，原路退回")
    assert refund.requested_by is None and refund.request_event.actor_display == "System"


@pytest.mark.parametrize("who", ["cs1", "wh1"])
def test_a_role_without_the_permission_is_refused(make_order, users, who):
    order = make_order("delivered")
    refused(
        order.pk,
        ActionNotPermitted,
        lambda: refund_request(order_id=order.pk, actor=users[who], amount="10.00", reason="退款"),
        "may not take the action “Request a refund”",
    )


@pytest.mark.parametrize("amount", ["0", "-5", "1.234", "abc", "NaN", "1e20"])
def test_amounts_that_are_not_refunds(make_order, users, amount):
    order = make_order("delivered")
    refused(
        order.pk,
        RefundRefused,
        lambda: refund_request(order_id=order.pk, actor=users["fin1"], amount=amount, reason="退款"),
        "amount|more than zero",
    )


def test_a_reason_is_required(make_order, users):
    order = make_order("delivered")
    refused(
        order.pk,
        RefundRefused,
        lambda: refund_request(order_id=order.pk, actor=users["fin1"], amount="1.00", reason="  "),
        "needs a reason",
    )


def test_the_return_must_be_the_orders_and_approved(approved_return, make_order, users):
    other = make_order("delivered")
    refused(
        other.pk,
        RefundRefused,
        lambda: refund_request(
            order_id=other.pk, actor=users["fin1"], amount="10.00", reason="退货", return_id=approved_return.pk
        ),
        f"Return #{approved_return.pk} is not a return of order {other.number}",
    )
    order = make_order("return_requested")
    pending = ReturnRequest.objects.create(order=order, status="requested", reason="尺码不合适", source="hub")
    refused(
        order.pk,
        RefundRefused,
        lambda: refund_request(
            order_id=order.pk, actor=users["fin1"], amount="10.00", reason="退货", return_id=pending.pk
        ),
        "only an approved return is refunded",
    )


def test_refunding_a_return_twice_is_answered_already_refunded_and_recorded(approved_return, users):
    order = approved_return.order
    first = refund_request(
        order_id=order.pk, actor=users["fin1"], amount="88.00", reason="退货退款", return_id=approved_return.pk
    )
    assert first.idempotency_key == f"{order.number}-R{approved_return.pk}-1"

    before = snapshot(order.pk)
    with pytest.raises(AlreadyRefunded) as info:
        refund_request(order_id=order.pk, actor=None, amount="88.00", reason="重复", return_id=approved_return.pk)
    after = snapshot(order.pk)
    assert info.value.refund == first
    assert info.value.message.startswith("Already refunded: 88.00 CNY on ")
    assert "by 陈静 (Finance)" in info.value.message and "Being paid" in info.value.message
    # Only the attempt is recorded.
    assert after == {**before, "duplicates": before["duplicates"] + 1}
    (attempt,) = DuplicateRefundAttempt.objects.all()
    assert attempt.existing_refund == first and attempt.return_request == approved_return
    assert attempt.order == order and attempt.attempted_by is None


def test_the_same_request_key_twice_is_one_refund(make_order, users):
    order = make_order("delivered", amount="199.00")
    refund_request(order_id=order.pk, actor=users["fin1"], amount="20.00", reason="补偿", idempotency_key="form-abc123")
    with pytest.raises(AlreadyRefunded, match=r"Already refunded: 20\.00 CNY"):
        refund_request(
            order_id=order.pk, actor=users["fin1"], amount="20.00", reason="补偿", idempotency_key="form-abc123"
        )
    assert Refund.objects.filter(order=order).count() == 1
    assert DuplicateRefundAttempt.objects.get().idempotency_key == "form-abc123"

    other = make_order("delivered")
    refused(
        other.pk,
        RefundRefused,
        lambda: refund_request(
            order_id=other.pk, actor=users["fin1"], amount="1.00", reason="x", idempotency_key="form-abc123"
        ),
        "belongs to another order",
    )
    refused(
        other.pk,
        RefundRefused,
        lambda: refund_request(
            order_id=other.pk, actor=users["fin1"], amount="1.00", reason="x", idempotency_key="a b"
        ),
        "request key",
    )


def test_the_database_refuses_a_second_live_refund_of_a_return(approved_return):
    order = approved_return.order
    fields = {"order": order, "return_request": approved_return, "amount": "88.00", "currency": "CNY"}
    Refund.objects.create(idempotency_key="k-1", **fields)
    # PostgreSQL names the constraint; SQLite names the column of its partial unique index.
    with pytest.raises(IntegrityError, match=r"refund_once_per_return|return_request_id"), transaction.atomic():
        Refund.objects.create(idempotency_key="k-2", **fields)
    # A failed one does not count.
    Refund.objects.filter(idempotency_key="k-1").update(status="failed")
    Refund.objects.create(idempotency_key="k-3", **fields)


def test_the_constraint_is_the_last_line_when_the_check_is_skipped(approved_return, users, monkeypatch):
    """A writer that does not see the existing refund (no lock, a bug) still cannot make a second
    one: the constraint's IntegrityError becomes AlreadyRefunded, and the attempt is recorded."""
    order = approved_return.order
    # Part of the amount, so that the second request passes the amount check and reaches the insert.
    first = refund_request(
        order_id=order.pk, actor=users["fin1"], amount="40.00", reason="退货退款", return_id=approved_return.pk
    )
    real = refunds_module._existing_refund
    calls = []

    def blind_once(order, *, return_request, key):
        calls.append(key)
        return None if len(calls) == 1 else real(order, return_request=return_request, key=key)

    monkeypatch.setattr(refunds_module, "_existing_refund", blind_once)
    before = snapshot(order.pk)
    with pytest.raises(AlreadyRefunded) as info:
        refund_request(
            order_id=order.pk, actor=users["fin1"], amount="40.00", reason="重复", return_id=approved_return.pk
        )
    assert len(calls) == 2, "the second look happens after the constraint refused the insert"
    assert info.value.refund == first
    assert snapshot(order.pk) == {**before, "duplicates": before["duplicates"] + 1}


def test_after_a_failed_return_refund_a_new_one_gets_a_new_key(approved_return, users):
    order = approved_return.order
    first = refund_request(
        order_id=order.pk, actor=users["fin1"], amount="88.00", reason="退货退款", return_id=approved_return.pk
    )
    refund_fail(refund_id=first.pk, reason="Alipay: refused", gateway="alipay")
    second = refund_request(
        order_id=order.pk, actor=users["fin1"], amount="88.00", reason="重新退款", return_id=approved_return.pk
    )
    assert second.idempotency_key == f"{order.number}-R{approved_return.pk}-2"
    event = OrderEvent.objects.get(order=order, action="refund_failed")
    assert event.note == "Alipay: refused" and "recorded a refused refund" in event.timeline_text()
