"""Exactly once under fire: 1,000 duplicate refund requests for one approved return, from 40
threads with their own PostgreSQL connections released together by a barrier, make one refund,
one request event, one payment message; delivering that message (from several workers at once)
makes one gateway call, one payment and one "refund paid" transition. The 999 others are told
"already refunded" and recorded for operations."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from aftersales.models import DuplicateRefundAttempt, Refund, RefundStatus, ReturnRequest
from aftersales.services.refunds import AlreadyRefunded, refund_request
from orders.models import Order, OrderEvent, OutboxMessage, OutboxStatus
from orders.outbox.services import outbox_deliver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REQUESTS = 1000
THREADS = 40  # PostgreSQL allows 100 connections here; each thread holds one
DELIVERERS = 8
TIMEOUT = 120


def run_together(count: int, work):
    """Run work(i) in `count` threads released by one barrier; each thread closes its own
    database connection at the end. Returns the results in order."""
    barrier = threading.Barrier(count)

    def thread(i):
        released = False
        try:
            connection.ensure_connection()
            barrier.wait(timeout=TIMEOUT)
            released = True
            return work(i)
        finally:
            if not released:
                barrier.abort()  # a thread that failed early must not leave the others waiting
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(thread, i) for i in range(count)]
        return [future.result(timeout=TIMEOUT) for future in futures]


def test_a_thousand_duplicate_refund_requests_pay_once(approved_return, users, alipay, gateway_account):
    order = approved_return.order
    alipay.trade(order.number, total="88.00")
    finance_id = users["fin1"].pk
    per_thread = REQUESTS // THREADS

    def ask(_i):
        actor = get_user_model().objects.get(pk=finance_id)
        actor.has_perm("aftersales.add_refund")  # load the permission cache before the race
        answers = []
        for _n in range(per_thread):
            try:
                refund = refund_request(
                    order_id=order.pk,
                    actor=actor,
                    amount="88.00",
                    reason="商品破损，退货退款",
                    return_id=approved_return.pk,
                )
                answers.append(("refunded", refund.pk, ""))
            except AlreadyRefunded as exc:
                answers.append(("already", exc.refund.pk, exc.message))
            except Exception as exc:  # anything else is a failure of the test, reported below
                answers.append(("error", None, repr(exc)))
        return answers

    started = time.monotonic()
    answers = [a for thread_answers in run_together(THREADS, ask) for a in thread_answers]
    requests_took = time.monotonic() - started

    assert len(answers) == REQUESTS
    errors = [a for a in answers if a[0] == "error"]
    assert not errors, errors[:3]
    (winner,) = [a for a in answers if a[0] == "refunded"]
    already = [a for a in answers if a[0] == "already"]
    assert len(already) == REQUESTS - 1
    assert {a[1] for a in already} == {winner[1]}, "every duplicate names the one refund"
    assert all(a[2].startswith("Already refunded: 88.00 CNY on ") and "陈静 (Finance)" in a[2] for a in already)

    refund = Refund.objects.get(order=order)
    assert refund.pk == winner[1] and refund.status == RefundStatus.PENDING
    assert OrderEvent.objects.filter(order=order, action="refund_requested").count() == 1
    assert DuplicateRefundAttempt.objects.filter(existing_refund=refund).count() == REQUESTS - 1
    (message,) = OutboxMessage.objects.filter(kind="refund_pay")

    # Several workers pick the message up at once (a re-dispatch racing the first dispatch).
    started = time.monotonic()
    statuses = run_together(DELIVERERS, lambda _i: outbox_deliver(message.pk))
    deliver_took = time.monotonic() - started
    assert OutboxStatus.DONE in statuses
    assert set(statuses) <= {OutboxStatus.DONE, None}, statuses

    assert len(alipay.requests) == 1, "one gateway call"
    assert alipay.money_moves == [(order.number, refund.idempotency_key, refund.amount)]
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PAID
    assert OrderEvent.objects.filter(order=order, action="refund").count() == 1, 'one "refund paid" event'
    assert Order.objects.get(pk=order.pk).state == "refunded"
    assert ReturnRequest.objects.get(pk=approved_return.pk).status == "refunded"
    print(f"\n{REQUESTS} requests from {THREADS} threads: {requests_took:.1f} s; delivery: {deliver_took:.2f} s")


def test_without_the_row_lock_the_constraint_still_makes_one_refund(
    approved_return, users, alipay, gateway_account, monkeypatch
):
    """The last line on its own: with the order lock and the "already refunded?" look both
    switched off, 200 requests from 40 threads at once still make one refund; the database refuses the
    others, and they are answered and recorded like any duplicate."""
    from aftersales.services import refunds as refunds_module

    order = approved_return.order
    finance_id = users["fin1"].pk
    real_existing = refunds_module._existing_refund
    local = threading.local()

    def blind_first_look(order, *, return_request, key):
        if getattr(local, "first_look", False):
            local.first_look = False
            return None
        return real_existing(order, return_request=return_request, key=key)

    monkeypatch.setattr(refunds_module, "order_lock", lambda order_id: Order.objects.get(pk=order_id))
    monkeypatch.setattr(refunds_module, "_existing_refund", blind_first_look)

    def ask(_i):
        actor = get_user_model().objects.get(pk=finance_id)
        actor.has_perm("aftersales.add_refund")
        answers = []
        for _n in range(5):
            local.first_look = True
            try:
                # A small part of the amount: the amount check passes too, only the constraint is left.
                refund_request(
                    order_id=order.pk, actor=actor, amount="1.00", reason="退货退款", return_id=approved_return.pk
                )
                answers.append("refunded")
            except AlreadyRefunded:
                answers.append("already")
        return answers

    answers = [a for thread_answers in run_together(THREADS, ask) for a in thread_answers]
    assert answers.count("refunded") == 1 and answers.count("already") == THREADS * 5 - 1
    assert Refund.objects.filter(order=order).count() == 1
    assert DuplicateRefundAttempt.objects.count() == THREADS * 5 - 1
    assert OrderEvent.objects.filter(order=order, action="refund_requested").count() == 1
