"""Order lines: checked, written with the order on every intake path, and adding up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from orders.exceptions import InvalidActionData
from orders.models import Order, OrderEvent, OrderLine
from orders.services.intake import IntakeItem, order_intake, order_intake_batch_in_transaction
from orders.services.lines import order_lines_clean, order_totals_mismatch
from orders.services.orders import order_create

TEA = {"sku": "TEA-01", "name": "龙井 250g", "quantity": 2, "unit_price": "88.00", "discount": "6.00"}
CUP = {"sku": "CUP-02", "name": "Glass cup", "quantity": 1, "unit_price": "30.00", "platform_line_id": "L2"}
GIFT = {"sku": "SAMPLE", "name": "试用装", "quantity": 1, "unit_price": "0"}


@pytest.mark.django_db
def test_an_order_is_created_with_its_lines_and_the_created_event_records_them(users):
    order = order_create(
        actor=None,
        channel="taobao",
        amount="210.00",
        shipping_fee="10.00",
        lines=[TEA, CUP, GIFT],
        buyer_remark=" 请尽快发货 ",
    )
    lines = list(order.lines.all())
    assert [(line.position, line.sku, line.quantity, line.net_amount) for line in lines] == [
        (1, "TEA-01", 2, Decimal("170.00")),
        (2, "CUP-02", 1, Decimal("30.00")),
        (3, "SAMPLE", 1, Decimal("0.00")),
    ]
    assert [line.is_gift for line in lines] == [False, False, True]
    assert lines[2].revenue == 0 and lines[0].currency == "CNY"
    assert order.buyer_remark == "请尽快发货" and order.shipping_fee == Decimal("10.00")
    created = order.events.get(action="created")
    assert created.data["line_count"] == 3 and created.data["items"] == 4
    assert created.data["lines"][0] == {"sku": "TEA-01", "name": "龙井 250g", "quantity": 2}
    assert "totals_mismatch" not in created.data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({**TEA, "quantity": -1}, "Line 1, quantity: The quantity must be a whole number of at least 1"),
        ({**TEA, "quantity": "1.5"}, "whole number"),
        ({**TEA, "unit_price": "-3"}, "zero or more"),
        ({**TEA, "currency": "XYZ"}, "“XYZ” is not a currency code"),
        ({**TEA, "currency": "USD"}, "The line is in USD, the order in CNY"),
        ({**TEA, "discount": "200.00"}, "more than the line's 176.00"),
        ({"quantity": 1, "unit_price": "1.00"}, "needs a SKU or an item name"),
    ],
)
def test_a_bad_line_is_refused_by_name_and_nothing_is_written(line, message, users):
    with pytest.raises(InvalidActionData, match=message):
        order_create(actor=None, channel="taobao", amount="170.00", lines=[line])
    assert (Order.objects.count(), OrderLine.objects.count(), OrderEvent.objects.count()) == (0, 0, 0)


@pytest.mark.django_db
def test_an_unknown_order_currency_is_refused(users):
    with pytest.raises(InvalidActionData, match="“ABC” is not a currency code"):
        order_create(actor=None, channel="amazon", amount="1.00", currency="ABC")


def test_every_bad_line_is_listed_and_a_line_id_twice_is_one():
    clean, errors = order_lines_clean([CUP, {**TEA, "quantity": 0}, CUP], currency="CNY")
    assert sorted(errors) == [1, 2]
    assert "quantity" in errors[1] and "appears twice" in errors[2]["platform_line_id"]
    assert len(clean) == 3


def test_totals_name_what_does_not_add_up():
    clean, _errors = order_lines_clean([TEA, CUP], currency="CNY")
    assert order_totals_mismatch(amount=Decimal("200.00"), lines=clean) == ""
    assert order_totals_mismatch(amount=Decimal("210.00"), lines=clean, shipping_fee=Decimal("10.00")) == ""
    said = order_totals_mismatch(amount=Decimal("199.00"), lines=clean)
    assert "200.00" in said and "199.00" in said
    assert order_totals_mismatch(amount=Decimal("5"), lines=[]) == ""


@pytest.mark.django_db
def test_lines_that_do_not_add_up_refuse_a_file_row_but_a_webhook_keeps_the_order(users):
    kwargs = {"channel": "shopify", "paid": True, "cancelled": False, "source_note": "test"}
    with pytest.raises(InvalidActionData, match=r"but the order's amount is 150\.00"):
        order_intake(external_id="1", fields={"amount": "150.00", "currency": "CNY"}, lines=[TEA, CUP], **kwargs)
    assert Order.objects.count() == 0
    result = order_intake(
        external_id="2",
        fields={"amount": "150.00", "currency": "CNY"},
        lines=[TEA, CUP],
        lines_must_add_up=False,
        **kwargs,
    )
    assert result.order.state == "paid" and result.order.lines.count() == 2
    assert "but the order's amount is 150.00" in result.order.events.get(action="created").data["totals_mismatch"]


@pytest.mark.django_db
def test_the_batch_intake_writes_the_same_lines_as_one_order_at_a_time(users):
    fields = {"amount": "200.00", "currency": "CNY", "recipient_name": "王伟"}
    order_intake(
        channel="manual", external_id="A", fields=fields, paid=True, cancelled=False, source_note="", lines=[TEA, CUP]
    )
    with transaction.atomic():
        order_intake_batch_in_transaction(
            channel="taobao", items=[IntakeItem("A", fields, True, lines=[TEA, CUP]), IntakeItem("B", fields, False)]
        )

    def lines_of(channel, external_id):
        return [
            (line.position, line.sku, line.name, line.quantity, line.unit_price, line.discount, line.is_gift)
            for line in OrderLine.objects.filter(order__channel=channel, order__external_id=external_id)
        ]

    assert lines_of("taobao", "A") == lines_of("manual", "A") != []
    assert lines_of("taobao", "B") == []
    single = Order.objects.get(channel="manual").events.get(action="created").data
    batch = Order.objects.get(channel="taobao", external_id="A").events.get(action="created").data
    assert {**single, "channel": ""} == {**batch, "channel": ""}


@pytest.mark.django_db
def test_a_bad_line_in_a_batch_names_the_order_and_writes_nothing(users):
    fields = {"amount": "176.00", "currency": "CNY"}
    items = [IntakeItem("A", fields, True, lines=[TEA | {"discount": "0"}]), IntakeItem("B", fields, True, lines=[])]
    items.append(IntakeItem("C", fields, True, lines=[{**TEA, "quantity": -2}]))
    with pytest.raises(InvalidActionData, match="quantity") as caught, transaction.atomic():
        order_intake_batch_in_transaction(channel="taobao", items=items)
    assert caught.value.external_id == "C"
    assert (Order.objects.count(), OrderLine.objects.count()) == (0, 0)
