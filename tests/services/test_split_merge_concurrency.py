"""拆单/合单 under real concurrency (PostgreSQL, threads with their own connections meeting on a
barrier): whichever way the race falls out, no line and no money is lost or doubled, no order is
merged twice, and nobody waits forever (the orders are locked in primary-key order)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from orders.exceptions import OrderError
from orders.models import Order, OrderLine
from orders.services.split_merge import order_merge, order_split
from orders.states import State
from tests.factories import channel_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREAD_TIMEOUT = 30


def _buyer_orders(count):
    start = timezone.now() - timedelta(hours=6)
    return [
        channel_order(
            f"C{i}",
            lines=[
                {"sku": f"A-{i}", "quantity": 2, "unit_price": "10.00"},
                {"sku": f"B-{i}", "quantity": 1, "unit_price": "5.00"},
            ],
            amount="25.00",
            buyer_email="zhao@example.com",
            ordered_at=start + timedelta(minutes=i),
        )
        for i in range(count)
    ]


def _race(*calls):
    """Run each call in its own thread and connection, all released at once; returns what each
    returned or raised."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except OrderError as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
        assert not thread.is_alive(), "a split or merge hung"
    return results


def _books():
    return (
        Order.objects.aggregate(total=Sum("amount"))["total"],
        OrderLine.objects.aggregate(units=Sum("quantity"))["units"],
        OrderLine.objects.count() >= 6,
    )


@pytest.mark.parametrize("round_", range(3))
def test_overlapping_merges_lose_and_double_nothing(users, round_):
    a, b, c = _buyer_orders(3)
    before = _books()
    results = _race(
        lambda: order_merge(order_ids=[a.pk, b.pk], actor=users["cs1"]),
        lambda: order_merge(order_ids=[b.pk, c.pk], actor=users["cs2"]),
    )
    assert _books() == before == (Decimal("75.00"), 9, True)
    merged = Order.objects.filter(state=State.MERGED)
    # Either both went through (b took c, then a took b) or the second found b merged already.
    assert merged.count() in (1, 2)
    refused = [r for r in results if isinstance(r, OrderError)]
    assert len(refused) == 2 - merged.count()
    for part in merged:
        assert part.amount == 0 and not part.lines.exists() and part.merged_into_id is not None
        assert part.events.filter(action="merge").count() == 1
    # The money sits on orders still open, in lines that add up to it.
    for order in Order.objects.exclude(state=State.MERGED):
        lines = sum((line.net_amount for line in order.lines.all()), Decimal("0"))
        assert lines == order.amount


def test_a_split_racing_a_merge_of_the_same_order_keeps_every_unit(users):
    a, b = _buyer_orders(2)
    line = b.lines.get(sku="A-1")
    before = _books()
    results = _race(
        lambda: order_merge(order_ids=[a.pk, b.pk], actor=users["cs1"]),
        lambda: order_split(order_id=b.pk, actor=users["cs2"], lines={line.pk: 1}),
    )
    assert _books() == before
    assert sum(isinstance(r, OrderError) for r in results) <= 1
    for order in Order.objects.exclude(state=State.MERGED):
        assert sum((x.net_amount for x in order.lines.all()), Decimal("0")) == order.amount
