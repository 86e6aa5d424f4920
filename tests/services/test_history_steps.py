"""orders/services/sql/history_steps.py: the history rows of new orders copied from their rows by
the database, on each dialect (the portable twin everywhere, PostgreSQL's under `postgres`)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services.shops import shop_default_for_channel
from orders.services.sql import history_steps
from orders.services.sql.common import TRACKED, HistoricalOrder
from orders.states import State

DIALECTS = [
    pytest.param(history_steps.portable_steps_insert, id="portable"),
    pytest.param(history_steps.postgresql_steps_insert, id="postgresql", marks=pytest.mark.postgres),
]


def written_orders(count: int) -> list[Order]:
    shop = shop_default_for_channel("taobao")
    now = timezone.now()
    orders = [
        Order(
            number=f"OHSTEP{now:%H%M%S%f}-{n}",
            channel="taobao",
            shop=shop,
            external_id=f"step-{now.timestamp()}-{n}",
            recipient_name="刘芳",
            ship_province="浙江省",
            ordered_at=now - timedelta(minutes=n),
            amount=Decimal("88.90") + n,
            currency="CNY",
            state=State.PAID,
            version=2,
            updated_at=now,
            state_changed_at=now,
        )
        for n in range(count)
    ]
    Order.objects.bulk_create(orders)  # bulk: no history rows of its own
    return orders


@pytest.mark.django_db
@pytest.mark.parametrize("insert", DIALECTS)
def test_each_step_is_the_row_as_written_with_its_state_and_version_in_order(insert, users):
    first, second = written_orders(2)
    at = timezone.now()
    steps = [
        (first.pk, "+", State.SUBMITTED, 1),
        (first.pk, "~", State.PAID, 2),
        (second.pk, "+", State.SUBMITTED, 1),
        (second.pk, "~", State.PAID, 2),
    ]
    insert(steps, at=at, user_id=users["cs1"].pk)
    rows = list(HistoricalOrder.objects.filter(id__in=[first.pk, second.pk]).order_by("history_id"))
    # Numbered by version, then in the order given: each order's "+" before its "~".
    assert [(r.id, r.history_type, r.state, r.version) for r in rows] == [steps[0], steps[2], steps[1], steps[3]]
    for row in rows:
        order = first if row.id == first.pk else second
        assert {name: getattr(row, name) for name in TRACKED if name not in ("state", "version")} == {
            name: getattr(order, name) for name in TRACKED if name not in ("state", "version")
        }
        assert (row.history_date, row.history_user_id, row.history_change_reason) == (at, users["cs1"].pk, None)
    # simple-history's "latest" is the last step: the "~" after the "+" of the same time.
    assert first.history.latest().history_type == "~"


@pytest.mark.django_db
@pytest.mark.parametrize("insert", DIALECTS)
def test_one_step_by_the_system(insert):
    (order,) = written_orders(1)
    insert([(order.pk, "+", State.SUBMITTED, 1)], at=order.updated_at, user_id=None)
    row = HistoricalOrder.objects.get(id=order.pk)
    assert (row.history_type, row.state, row.version, row.history_user_id) == ("+", State.SUBMITTED, 1, None)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_step_of_no_order_is_refused_on_postgresql():
    with pytest.raises(RuntimeError, match="found no order"):
        history_steps.order_history_steps_insert(
            [(-1, "+", State.SUBMITTED, 1), (-2, "~", State.PAID, 2)], at=timezone.now()
        )


@pytest.mark.django_db
def test_order_create_records_its_creator_in_the_history(users):
    from orders.services.orders import order_create

    order = order_create(actor=users["cs1"], channel="manual", amount="10.00")
    (row,) = order.history.all()
    assert (row.history_type, row.state, row.version, row.history_user) == ("+", State.SUBMITTED, 1, users["cs1"])
    assert row.number == order.number and row.amount == order.amount
