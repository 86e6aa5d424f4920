"""Returns under real concurrency (PostgreSQL, a connection per thread, a barrier): two people
requesting or reviewing the same return at once end with one decision, never two cases."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from aftersales.models import ReturnRequest
from aftersales.services.returns import ReturnAlreadyDecided, ReturnAlreadyOpen, return_request_create, return_review
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent, OutboxMessage

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(calls) -> list:
    """Run each call in its own thread (own connection) released together; their results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a request hung (deadlock?)"
    return results


def test_two_people_requesting_at_once_open_one_return(make_order, users):
    order = make_order("delivered", buyer_email="race1@example.com")
    results = race(
        [
            lambda who=who: return_request_create(order_id=order.pk, actor=users[who], reason=f"{who} 登记退货")
            for who in ("cs1", "cs2")
        ]
    )
    cases = [r for r in results if isinstance(r, ReturnRequest)]
    refused = [r for r in results if isinstance(r, OrderError)]
    assert len(cases) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], ReturnAlreadyOpen)
    assert ReturnRequest.objects.count() == 1
    assert OrderEvent.objects.filter(order=order, action="request_return").count() == 1


def test_the_same_channel_return_delivered_twice_at_once_is_one_case(make_order):
    order = make_order("delivered", buyer_email="race2@example.com")
    results = race(
        [
            lambda: return_request_create(
                order_id=order.pk, actor=None, reason="Shopify return", source="channel", channel_reference="246"
            )
            for _ in range(3)
        ]
    )
    assert all(isinstance(r, ReturnRequest) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert ReturnRequest.objects.count() == 1


def test_two_reviewers_at_once_make_one_decision(make_order, users):
    order = make_order("delivered", buyer_email="race3@example.com")
    case = return_request_create(order_id=order.pk, actor=users["cs1"], reason="破损")
    results = race(
        [
            lambda: return_review(return_id=case.pk, actor=users["cs2"], approve=True),
            lambda: return_review(return_id=case.pk, actor=users["ops1"], approve=False, note="不符合退货条件"),
        ]
    )
    decided = [r for r in results if isinstance(r, ReturnRequest)]
    refused = [r for r in results if isinstance(r, OrderError)]
    assert len(decided) == 1 and isinstance(refused[0], ReturnAlreadyDecided), results
    case.refresh_from_db()
    assert case.status == decided[0].status and case.version == 2
    order = Order.objects.get(pk=order.pk)
    assert order.state == ("return_approved" if case.status == "approved" else "delivered")
    decisions = OrderEvent.objects.filter(order=order, action__in=["approve_return", "reject_return"])
    assert decisions.count() == 1
    assert OutboxMessage.objects.filter(kind="return_label_issue").count() == (1 if case.status == "approved" else 0)
