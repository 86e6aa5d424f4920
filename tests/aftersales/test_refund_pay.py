"""The refund_pay reaction against the local Alipay gateway: signatures checked both ways, the
refund's key sent as out_request_no, money moved once however often the reaction runs, and
the failure and retry paths."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from aftersales.models import Refund, RefundStatus, ReturnRequest
from aftersales.services import refunds as refunds_module
from aftersales.services.refunds import refund_pay, refund_request
from integrations.models import PaymentGatewayAccount
from orders.models import Order, OrderEvent, OutboxMessage, OutboxStatus
from orders.outbox.services import outbox_deliver, outbox_retry
from tests.fakes.alipay import rsa_key_pair

pytestmark = pytest.mark.django_db


def pay_message(refund: Refund) -> OutboxMessage:
    return OutboxMessage.objects.get(kind="refund_pay", params__refund_id=refund.pk)


def deliver(message: OutboxMessage) -> str:
    """Run the message now (as the worker would once its back-off has passed)."""
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    return outbox_deliver(message.pk)


def return_refund(approved_return, users) -> Refund:
    return refund_request(
        order_id=approved_return.order_id,
        actor=users["fin1"],
        amount="88.00",
        reason="商品破损，退货退款",
        return_id=approved_return.pk,
    )


def test_a_return_refund_is_paid_through_alipay_and_closes_the_return(approved_return, users, alipay, gateway_account):
    order = approved_return.order
    trade = alipay.trade(order.number, total="88.00")
    refund = return_refund(approved_return, users)

    assert deliver(pay_message(refund)) == OutboxStatus.DONE

    (received,) = alipay.requests
    form = received.form
    assert form["app_id"] == alipay.app_id and form["method"] == "alipay.trade.refund"
    assert (form["format"], form["charset"], form["sign_type"], form["version"]) == ("JSON", "utf-8", "RSA2", "1.0")
    sent_at = datetime.strptime(form["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    assert abs(sent_at - timezone.now()) < timedelta(minutes=1), "Beijing time"
    assert received.biz == {
        "out_trade_no": order.number,
        "refund_amount": "88.00",
        "out_request_no": refund.idempotency_key,
        "refund_reason": "商品破损，退货退款",
    }
    assert alipay.money_moves == [(order.number, refund.idempotency_key, Decimal("88.00"))]

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PAID and refund.gateway == "alipay"
    assert refund.gateway_reference == trade.trade_no and refund.paid_at is not None
    event = refund.paid_event
    assert (event.action, event.from_state, event.to_state, event.actor_display) == (
        "refund",
        "return_approved",
        "refunded",
        "System",
    )
    assert "88.00 CNY" in event.note and trade.trade_no in event.note
    order.refresh_from_db()
    assert order.state == "refunded" and order.payment_status == "refunded"
    assert ReturnRequest.objects.get(pk=approved_return.pk).status == "refunded"
    assert "money moved" in pay_message(refund).result


def test_a_partial_refund_without_a_return_leaves_the_state(make_order, users, alipay, gateway_account):
    order = make_order("delivered", amount="199.00")
    alipay.trade(order.number, total="199.00")
    version = order.version
    first = refund_request(order_id=order.pk, actor=users["fin1"], amount="20.00", reason="价保补差")
    second = refund_request(order_id=order.pk, actor=users["fin1"], amount="30.00", reason="运费补偿")
    for refund in (first, second):
        assert deliver(pay_message(refund)) == OutboxStatus.DONE

    assert [m[1:] for m in alipay.money_moves] == [
        (first.idempotency_key, Decimal("20.00")),
        (second.idempotency_key, Decimal("30.00")),
    ]
    paid = OrderEvent.objects.filter(order=order, action="refund_paid").order_by("id")
    assert [e.note.split(" paid")[0] for e in paid] == ["Refund of 20.00 CNY", "Refund of 30.00 CNY"]
    assert "paid a refund" in paid[0].timeline_text()
    order.refresh_from_db()
    assert order.state == "delivered" and order.version == version


def test_our_signature_is_checked_by_the_gateway(approved_return, users, alipay, gateway_account):
    """Signed with a key Alipay does not know: refused (isv.invalid-signature), no money moves,
    the refund stays pending and the tech lead is alerted through reaction_failed."""
    alipay.trade(approved_return.order.number, total="88.00")
    PaymentGatewayAccount.objects.filter(pk=gateway_account.pk).update(private_key=rsa_key_pair()[0])
    refund = return_refund(approved_return, users)
    message = pay_message(refund)

    assert deliver(message) == OutboxStatus.FAILED
    message.refresh_from_db()
    assert "isv.invalid-signature" in message.last_error and "private key" in message.last_error
    assert alipay.money_moves == []
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    failure = OrderEvent.objects.get(order=approved_return.order, action="reaction_failed")
    assert failure.data["reaction"] == "refund_pay" and failure.data["integration"] is True
    assert OutboxMessage.objects.filter(event=failure, kind="notify").exists(), "the tech lead's alert"


def test_the_gateways_signature_is_checked_by_us(approved_return, users, alipay, gateway_account):
    """A success we cannot verify is not taken for one: the refund stays pending. Retried once the
    answer verifies, Alipay replays the same out_request_no and no second payment is made."""
    order = approved_return.order
    alipay.trade(order.number, total="88.00")
    alipay.answers.append("forged")
    refund = return_refund(approved_return, users)
    message = pay_message(refund)

    assert deliver(message) == OutboxStatus.FAILED
    message.refresh_from_db()
    assert "signature does not match the Alipay public key" in message.last_error
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    assert len(alipay.money_moves) == 1, "Alipay did pay; we could not trust its answer"

    outbox_retry(message_id=message.pk, actor=users["tech1"])
    assert deliver(message) == OutboxStatus.DONE
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PAID
    assert alipay.calls_for(refund.idempotency_key) == 2 and len(alipay.money_moves) == 1
    assert "earlier attempt" in OutboxMessage.objects.get(pk=message.pk).result


def test_a_crash_between_the_gateway_call_and_our_commit_pays_once(
    approved_return, users, alipay, gateway_account, monkeypatch
):
    order = approved_return.order
    alipay.trade(order.number, total="88.00")
    refund = return_refund(approved_return, users)
    message = pay_message(refund)
    real = refunds_module.refund_mark_paid
    crashes = []

    def crash_once(**kwargs):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker killed before commit")
        return real(**kwargs)

    monkeypatch.setattr(refunds_module, "refund_mark_paid", crash_once)

    assert deliver(message) == OutboxStatus.PENDING, "retried"
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING and len(alipay.money_moves) == 1

    assert deliver(message) == OutboxStatus.DONE
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PAID
    assert alipay.calls_for(refund.idempotency_key) == 2, "the same out_request_no, twice"
    assert len(alipay.money_moves) == 1, "money moved once"
    assert OrderEvent.objects.filter(order=order, action="refund").count() == 1


def test_a_lost_answer_is_retried_and_pays_once(approved_return, users, alipay, gateway_account):
    alipay.trade(approved_return.order.number, total="88.00")
    alipay.answers.append("lost_answer")
    refund = return_refund(approved_return, users)
    message = pay_message(refund)

    assert deliver(message) == OutboxStatus.PENDING
    message.refresh_from_db()
    assert "no answer within" in message.last_error
    assert deliver(message) == OutboxStatus.DONE
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PAID and len(alipay.money_moves) == 1


def test_running_the_reaction_again_after_success_calls_nobody(approved_return, users, alipay, gateway_account):
    alipay.trade(approved_return.order.number, total="88.00")
    refund = return_refund(approved_return, users)
    assert deliver(pay_message(refund)) == OutboxStatus.DONE
    assert "paid already" in refund_pay(refund_id=refund.pk)
    assert len(alipay.requests) == 1
    assert OrderEvent.objects.filter(order=approved_return.order, action="refund").count() == 1


def test_passing_trouble_is_retried_with_the_same_key(approved_return, users, alipay, gateway_account):
    alipay.trade(approved_return.order.number, total="88.00")
    alipay.answers.extend(["server_error", "system_error"])
    refund = return_refund(approved_return, users)
    message = pay_message(refund)

    assert deliver(message) == OutboxStatus.PENDING
    assert "HTTP 502" in OutboxMessage.objects.get(pk=message.pk).last_error
    assert deliver(message) == OutboxStatus.PENDING
    assert "ACQ.SYSTEM_ERROR" in OutboxMessage.objects.get(pk=message.pk).last_error
    assert deliver(message) == OutboxStatus.DONE
    keys = {r.biz["out_request_no"] for r in alipay.requests}
    assert keys == {refund.idempotency_key} and len(alipay.requests) == 3
    assert len(alipay.money_moves) == 1


def test_retries_run_out_the_refund_stays_pending_and_a_retry_pays_it(approved_return, users, alipay, gateway_account):
    alipay.trade(approved_return.order.number, total="88.00")
    alipay.answers.extend(["balance", "timeout", "system_error"])  # the test settings allow 3 attempts
    refund = return_refund(approved_return, users)
    message = pay_message(refund)
    statuses = [deliver(message) for _ in range(3)]

    assert statuses == [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.FAILED]
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING and alipay.money_moves == []
    assert OrderEvent.objects.filter(order=approved_return.order, action="reaction_failed").count() == 1

    outbox_retry(message_id=message.pk, actor=users["tech1"])
    assert deliver(message) == OutboxStatus.DONE
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PAID and len(alipay.money_moves) == 1


def test_a_refusal_fails_the_refund_and_tells_finance(approved_return, users, alipay, gateway_account):
    order = approved_return.order
    alipay.trade(order.number, total="88.00")
    alipay.answers.append("trade_finished")
    refund = return_refund(approved_return, users)
    message = pay_message(refund)

    assert deliver(message) == OutboxStatus.DONE, "the reaction did its job: the gateway said no"
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED and "ACQ.TRADE_HAS_FINISHED" in refund.failure_reason
    assert "can no longer be refunded through Alipay" in refund.failure_reason
    failed = OrderEvent.objects.get(order=order, action="refund_failed")
    assert failed.note == refund.failure_reason
    assert OutboxMessage.objects.filter(event=failed, kind="notify").exists(), "finance is told (default rule)"
    assert Order.objects.get(pk=order.pk).state == "return_approved"
    assert ReturnRequest.objects.get(pk=approved_return.pk).status == "approved"
    # The return can be refunded again, under a new key.
    again = return_refund(approved_return, users)
    assert again.idempotency_key != refund.idempotency_key
    assert deliver(pay_message(again)) == OutboxStatus.DONE
    assert Refund.objects.get(pk=again.pk).status == RefundStatus.PAID


def test_the_gateway_refuses_more_than_the_trade(make_order, users, alipay, gateway_account):
    order = make_order("delivered", amount="199.00")
    alipay.trade(order.number, total="99.00")  # the channel took part of it elsewhere
    refund = refund_request(order_id=order.pk, actor=users["fin1"], amount="150.00", reason="退款")
    assert deliver(pay_message(refund)) == OutboxStatus.DONE
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED and "ACQ.REASON_TRADE_REFUND_FEE_ERR" in refund.failure_reason
    assert alipay.money_moves == []


def test_no_gateway_configured_fails_loudly_and_keeps_the_refund(approved_return, users, alipay):
    refund = return_refund(approved_return, users)
    message = pay_message(refund)
    assert deliver(message) == OutboxStatus.FAILED
    assert "No payment gateway is configured" in OutboxMessage.objects.get(pk=message.pk).last_error
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING
    failure = OrderEvent.objects.get(order=approved_return.order, action="reaction_failed")
    assert OutboxMessage.objects.filter(event=failure, kind="notify").exists()
    assert alipay.requests == []


def test_messages_never_contain_the_keys(approved_return, users, alipay, gateway_account, merchant_keys):
    alipay.trade(approved_return.order.number, total="88.00")
    PaymentGatewayAccount.objects.filter(pk=gateway_account.pk).update(private_key="not a key")
    refund = return_refund(approved_return, users)
    message = pay_message(refund)
    assert deliver(message) == OutboxStatus.FAILED
    error = OutboxMessage.objects.get(pk=message.pk).last_error
    assert "private key cannot be read" in error and "not a key" not in error
    body = re.sub(r"-----[A-Z ]+-----|\s", "", merchant_keys[0])
    assert body[:40] not in error and body[-40:] not in error
    shown = repr(PaymentGatewayAccount.objects.get(pk=gateway_account.pk).credentials())
    assert "not a key" not in shown and "BEGIN" not in shown
