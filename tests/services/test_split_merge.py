"""拆单/合单: a split moves lines and their money to a new order, a merge moves a buyer's orders
into the first one; each is recorded on every order involved, and a bad request changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from orders.exceptions import ActionNotPermitted, InvalidActionData, OrderNotFound, StaleOrderError
from orders.models import Order, OrderEvent, OrderException, OrderLine
from orders.selectors import order_promise_start
from orders.services.intake import order_intake
from orders.services.order_exceptions import order_exception_raise
from orders.services.split_merge import order_merge, order_split
from orders.services.transition import order_transition
from orders.states import State
from tests.factories import channel_order

pytestmark = pytest.mark.django_db

LINES = [
    {
        "sku": "TEA-1",
        "name": "龙井 250g",
        "quantity": 3,
        "unit_price": "40.00",
        "discount": "6.00",
        "weight_grams": 250,
    },
    {"sku": "CUP-2", "name": "茶杯", "quantity": 1, "unit_price": "34.00", "weight_grams": 300},
]
# 3 × 40 − 6 + 34 = 148, and 10 of shipping.
AMOUNT = "158.00"


def _order(external_id="S1", **fields):
    return channel_order(external_id, lines=LINES, amount=AMOUNT, shipping_fee="10.00", **fields)


def _snapshot():
    return (
        list(Order.objects.order_by("pk").values_list("pk", "version", "amount", "state")),
        list(OrderLine.objects.order_by("pk").values_list("pk", "order_id", "quantity", "discount", "position")),
        OrderEvent.objects.count(),
    )


def test_a_split_moves_units_and_their_money_to_a_new_order(users):
    order = _order()
    tea, cup = order.lines.order_by("position")
    part = order_split(
        order_id=order.pk,
        actor=users["cs1"],
        lines={tea.pk: 1, cup.pk: 1},
        expected_version=order.version,
        note="茶杯缺货，先发茶叶",
    )
    order.refresh_from_db()
    # One tea of three (its discount pro rata: 2.00) and the whole cup went.
    assert [(line.sku, line.quantity, line.discount) for line in part.lines.order_by("position")] == [
        ("TEA-1", 1, Decimal("2.00")),
        ("CUP-2", 1, Decimal("0.00")),
    ]
    assert [(line.sku, line.quantity, line.discount, line.position) for line in order.lines.all()] == [
        ("TEA-1", 2, Decimal("4.00"), 1)
    ]
    assert part.amount == Decimal("72.00") and order.amount == Decimal("86.00")
    assert part.amount + order.amount == Decimal(AMOUNT)
    assert order.shipping_fee == Decimal("10.00") and part.shipping_fee == 0
    assert (order.weight_grams, part.weight_grams) == (500, 550)
    # Same buyer, shop, address and place in the lifecycle; the platform id stays with the original.
    assert part.state == order.state == State.PAID
    assert (part.shop_id, part.recipient_name, part.ship_address) == (order.shop_id, "王伟", order.ship_address)
    assert part.external_id == "" and order.external_id == "S1" and part.split_from == order
    assert set(part.lines.values_list("origin_order_id", flat=True)) == {order.pk}
    # Both timelines say it, each naming the other.
    split = order.events.get(action="split")
    assert split.data["part"] == part.number and split.data["items"] == 2 and split.note == "茶杯缺货，先发茶叶"
    assert split.actor == users["cs1"] and split.order_version == order.version == 3
    assert list(part.events.values_list("action", flat=True)) == ["split_off"]
    assert part.events.get().data["from"] == order.number
    # The promise to ship keeps running from the original's payment.
    pay = order.events.get(action="pay")
    assert part.promise_from == pay.occurred_at
    assert Order.objects.annotate(p=order_promise_start()).get(pk=part.pk).p == pay.occurred_at


def test_a_split_part_carries_the_open_exceptions(users):
    order = _order(buyer_remark="周五前送到")
    assert OrderException.objects.filter(order=order, cleared_at__isnull=True).count() == 1
    tea = order.lines.get(sku="TEA-1")
    part = order_split(order_id=order.pk, actor=users["cs1"], lines={tea.pk: 3}, expected_version=order.version)
    carried = OrderException.objects.get(order=part)
    assert carried.is_open and carried.reason == "buyer_remark" and carried.data["carried_from"] == order.number
    assert OrderException.objects.get(order=order).is_open


def test_bad_splits_change_nothing(users, make_order):
    order = _order()
    tea, cup = order.lines.order_by("position")
    other = _order("S2")
    packed = make_order("packed")
    before = _snapshot()
    cases = [
        ({"lines": {}}, InvalidActionData, "at least one unit"),
        ({"lines": {tea.pk: 0}}, InvalidActionData, "at least one unit"),
        ({"lines": {tea.pk: -1}}, InvalidActionData, "negative"),
        ({"lines": {tea.pk: "x"}}, InvalidActionData, "whole numbers"),
        ({"lines": {tea.pk: 4}}, InvalidActionData, "has 3 units"),
        ({"lines": {tea.pk: 3, cup.pk: 1}}, InvalidActionData, "empty"),
        ({"lines": {other.lines.first().pk: 1}}, InvalidActionData, "not a line of order"),
        ({"lines": {tea.pk: 1}, "expected_version": order.version - 1}, StaleOrderError, None),
        ({"lines": {tea.pk: 1}, "actor": users["wh1"]}, ActionNotPermitted, None),
        (
            {"lines": {tea.pk: 1}, "order_id": packed.pk, "expected_version": packed.version},
            InvalidActionData,
            "not packed yet",
        ),
    ]
    for kwargs, error, message in cases:
        call = {"order_id": order.pk, "actor": users["cs1"], "expected_version": order.version, **kwargs}
        with pytest.raises(error, match=message):
            order_split(**call)
    assert _snapshot() == before


def _buyer_orders(count=3, **fields):
    base = timezone.now() - timedelta(hours=5)
    orders = []
    for i in range(count):
        orders.append(
            channel_order(
                f"M{i}",
                lines=[{"sku": f"SKU-{i}", "quantity": i + 1, "unit_price": "10.00", "platform_line_id": f"L{i}"}],
                amount=str(10 * (i + 1) + 5),
                shipping_fee="5.00",
                buyer_email="Li@Example.com",
                buyer_phone="13900000000",
                ordered_at=base + timedelta(hours=i),
                **fields,
            )
        )
    return orders


def test_a_merge_moves_the_buyers_orders_into_the_first(users):
    first, second, third = _buyer_orders()
    OrderException.objects.all().delete()
    kept = order_merge(
        order_ids=[third.pk, first.pk, second.pk],
        actor=users["cs1"],
        expected_versions={o.pk: o.version for o in (first, second, third)},
        note="同一买家，一个包裹",
    )
    assert kept == first
    kept.refresh_from_db()
    second.refresh_from_db()
    third.refresh_from_db()
    assert [(line.sku, line.position, line.origin_order_id) for line in kept.lines.all()] == [
        ("SKU-0", 1, None),
        ("SKU-1", 2, second.pk),
        ("SKU-2", 3, third.pk),
    ]
    # The money went with the lines: the total the buyer paid is unchanged.
    assert (kept.amount, kept.shipping_fee) == (Decimal("75.00"), Decimal("15.00"))
    for part in (second, third):
        assert part.state == State.MERGED and part.merged_into == kept
        assert (part.amount, part.shipping_fee, part.lines.count()) == (0, 0, 0)
        assert part.external_id.startswith("M")  # a webhook about it still finds it
        merge = part.events.get(action="merge")
        assert merge.data["into"] == kept.number and merge.actor == users["cs1"] and merge.to_state == "merged"
    merged_in = kept.events.get(action="merged_in")
    assert [p["number"] for p in merged_in.data["parts"]] == [second.number, third.number]
    assert merged_in.note == "同一买家，一个包裹"
    # The promise runs from the earliest payment of the parts: the first order's.
    assert kept.promise_from == first.events.get(action="pay").occurred_at
    # A merged part is closed: nothing more can be done with it.
    assert second.available_transitions_for(users["ops1"]) == []


def test_a_merge_moves_the_open_exceptions_to_the_order_kept(users):
    first, second = _buyer_orders(2)
    OrderException.objects.all().delete()
    second = Order.objects.get(pk=second.pk)
    with transaction.atomic():
        order_exception_raise(order=second, reason="buyer_remark", source="person", detail="要发票", actor=users["cs1"])
    kept = order_merge(order_ids=[first.pk, second.pk], actor=users["cs1"])
    moved = OrderException.objects.get(order=kept)
    assert moved.is_open and moved.reason == "buyer_remark"
    assert not OrderException.objects.get(order=second).is_open


def test_bad_merges_change_nothing(users, warehouses):
    first, second = _buyer_orders(2)
    other_shop = channel_order(
        "X1",
        channel="amazon",
        amount="10.00",
        buyer_email="li@example.com",
        buyer_phone="13900000000",
    )
    other_buyer = channel_order("X2", amount="10.00", buyer_email="wang@example.com", buyer_phone="13700000000")
    elsewhere = channel_order(
        "X3", amount="10.00", buyer_email="li@example.com", buyer_phone="13900000000", ship_address="文一西路 99 号"
    )
    long_ago = channel_order(
        "X4",
        amount="10.00",
        buyer_email="li@example.com",
        buyer_phone="13900000000",
        ordered_at=timezone.now() - timedelta(days=5),
    )
    shipped_one = channel_order("X5", amount="10.00", buyer_email="li@example.com", buyer_phone="13900000000")
    order_transition(shipped_one.pk, "approve", actor=users["cs1"])
    order_transition(shipped_one.pk, "allocate", actor=users["wh1"], warehouse=warehouses[0])
    before = _snapshot()
    cases = [
        ([first.pk], InvalidActionData, "at least two"),
        ([first.pk, other_shop.pk], InvalidActionData, "different shops"),
        ([first.pk, other_buyer.pk], InvalidActionData, "different buyers"),
        ([first.pk, elsewhere.pk], InvalidActionData, "different addresses"),
        ([first.pk, long_ago.pk], InvalidActionData, "hours apart"),
        ([first.pk, shipped_one.pk], InvalidActionData, "Allocated"),
        ([first.pk, 99999999], OrderNotFound, None),
    ]
    for ids, error, message in cases:
        with pytest.raises(error, match=message):
            order_merge(order_ids=ids, actor=users["cs1"])
    with pytest.raises(ActionNotPermitted):
        order_merge(order_ids=[first.pk, second.pk], actor=users["wh1"])
    with pytest.raises(StaleOrderError):
        order_merge(order_ids=[first.pk, second.pk], actor=users["cs1"], expected_versions={second.pk: 1})
    # The merge transition is the merge service's alone: the bare transition is refused.
    with pytest.raises(InvalidActionData, match="own page"):
        order_transition(second.pk, "merge", actor=users["cs1"])
    assert _snapshot() == before


def test_a_merged_order_can_be_split_again_and_keeps_the_platform_orders(users):
    first, second = _buyer_orders(2)
    OrderException.objects.all().delete()
    kept = order_merge(order_ids=[first.pk, second.pk], actor=users["cs1"])
    line = kept.lines.get(sku="SKU-1")
    part = order_split(order_id=kept.pk, actor=users["cs1"], lines={line.pk: 2}, expected_version=kept.version)
    # The line still knows it was bought on the second order, not on the one it was split from.
    assert part.lines.get().origin_order_id == second.pk
    kept.refresh_from_db()
    assert kept.amount + part.amount == Decimal("40.00")


def test_a_cancel_on_the_channel_for_a_merged_order_goes_to_the_order_kept(users):
    first, second = _buyer_orders(2)
    OrderException.objects.all().delete()
    kept = order_merge(order_ids=[first.pk, second.pk], actor=users["cs1"])
    result = order_intake(
        channel="shopify",
        external_id=second.external_id,
        fields={},
        paid=True,
        cancelled=True,
        source_note="Shopify",
    )
    assert result.order.pk == second.pk and Order.objects.get(pk=second.pk).state == State.MERGED
    exception = OrderException.objects.get(order=kept)
    assert exception.reason == "channel_refund" and second.number in exception.detail
    # The same word again raises nothing more.
    order_intake(
        channel="shopify", external_id=second.external_id, fields={}, paid=True, cancelled=True, source_note=""
    )
    assert OrderException.objects.filter(order=kept).count() == 1


def test_merging_two_suspected_duplicates_answers_the_question(users):
    same = {"lines": [{"sku": "TEA-1", "quantity": 1, "unit_price": "50.00"}], "amount": "50.00"}
    buyer = {"buyer_email": "li@example.com", "buyer_phone": "13900000000"}
    first = channel_order("D1", **same, **buyer, ordered_at=timezone.now() - timedelta(hours=2))
    second = channel_order("D2", **same, **buyer)
    duplicate = OrderException.objects.get(order=second)
    assert duplicate.reason == "suspected_duplicate" and duplicate.data["twin"] == first.pk
    kept = order_merge(order_ids=[first.pk, second.pk], actor=users["cs1"])
    # Both are wanted, in one parcel: nothing is left for anyone to look at.
    assert not OrderException.objects.filter(cleared_at__isnull=True).exists()
    assert not OrderException.objects.filter(order=kept).exists()
    assert Order.objects.get(pk=second.pk).events.filter(action="exception_cleared").count() == 1


def test_splitting_off_the_lines_out_of_stock_lets_the_rest_go(users):
    order = _order()
    with transaction.atomic():
        order_exception_raise(
            order=order, reason="out_of_stock", source="webhook", detail="CUP-2", data={"skus": ["CUP-2"]}
        )
    cup = order.lines.get(sku="CUP-2")
    part = order_split(order_id=order.pk, actor=users["cs1"], lines={cup.pk: 1}, expected_version=order.version)
    # The cup waits for stock on its own order; the tea no longer waits for it.
    assert OrderException.objects.get(order=part, reason="out_of_stock").is_open
    assert not OrderException.objects.get(order=order, reason="out_of_stock").is_open
    # Splitting off the tea instead would have left the cup's exception where the cup is.
    other = _order("S9")
    with transaction.atomic():
        order_exception_raise(
            order=other, reason="out_of_stock", source="webhook", detail="CUP-2", data={"skus": ["CUP-2"]}
        )
    tea = other.lines.get(sku="TEA-1")
    tea_part = order_split(order_id=other.pk, actor=users["cs1"], lines={tea.pk: 3}, expected_version=other.version)
    assert not OrderException.objects.filter(order=tea_part, reason="out_of_stock").exists()
    assert OrderException.objects.get(order=other, reason="out_of_stock").is_open
