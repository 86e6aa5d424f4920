"""异常订单: intake raises the reasons a person must look at, each owned by a role, recorded on
the timeline, cleared by its owner; a risk hold is one until released."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from orders.exceptions import ActionNotPermitted, InvalidActionData
from orders.models import Order, OrderEvent, OrderException
from orders.services.intake import IntakeItem, order_intake, order_intake_batch_in_transaction
from orders.services.order_exceptions import ExceptionNotOpen, order_exception_clear, order_exception_raise
from orders.services.orders import order_update_details
from orders.services.transition import order_transition
from orders.states import ExceptionReason, Role
from tests.factories import CLEAN_ADDRESS, channel_order

pytestmark = pytest.mark.django_db


def intake(external_id, **kwargs):
    return channel_order(external_id, **kwargs)


def open_reasons(order) -> list[str]:
    return sorted(OrderException.objects.filter(order=order, cleared_at__isnull=True).values_list("reason", flat=True))


def test_a_clean_order_raises_nothing(users):
    order = intake("1", buyer_email="a@example.com")
    assert open_reasons(order) == []
    assert list(order.events.values_list("action", flat=True)) == ["created", "pay"]


def test_each_reason_is_raised_with_its_owner_and_a_timeline_line(users):
    lines = [{"sku": "A", "quantity": 1, "unit_price": "90.00"}]
    order = intake("2", buyer_remark="请周末送", recipient_phone="12", ship_city="", amount="100.00", lines=lines)
    assert open_reasons(order) == ["address_incomplete", "buyer_remark", "totals_mismatch"]
    owners = dict(OrderException.objects.filter(order=order).values_list("reason", "owner_role"))
    assert owners == {
        "buyer_remark": Role.CUSTOMER_SERVICE,
        "address_incomplete": Role.CUSTOMER_SERVICE,
        "totals_mismatch": Role.FINANCE,
    }
    address = OrderException.objects.get(order=order, reason="address_incomplete")
    assert "city" in address.detail and "dialled" in address.detail
    event = address.raised_event
    assert (event.action, event.order_version, event.data["owner_role"]) == ("exception_raised", 2, "customer_service")
    assert event.note.startswith("地址不全 / Address incomplete: ")


def test_an_amount_of_zero_and_one_far_above_the_shops_usual(users):
    assert open_reasons(intake("z", amount="0.00", channel="manual")) == ["amount_anomaly"]
    for number in range(20):
        intake(f"u{number}", amount="100.00")
    assert open_reasons(intake("big", amount="499.00")) == []
    # The usual is now (20 × 100 + 499) / 21 = 119.00: five times that is 595.00.
    big = intake("bigger", amount="700.00")
    assert open_reasons(big) == ["amount_anomaly"]
    assert "700.00 > 5 × 119.00" in OrderException.objects.get(order=big).detail


def test_a_process_keeps_an_established_shops_usual_amount_for_a_while(users, settings):
    """The mean is read once per ORDERHUB_USUAL_AMOUNT_CACHE_SECONDS once a shop has enough
    orders; before that every order reads it, so a new shop is watched from its twentieth."""
    from orders.services.order_exceptions import usual_amounts_cache_clear

    settings.ORDERHUB_USUAL_AMOUNT_CACHE_SECONDS = 300
    usual_amounts_cache_clear()
    try:
        for number in range(19):
            intake(f"u{number}", amount="100.00")
        assert open_reasons(intake("early", amount="900.00")) == []  # 19 before it: not enough yet
        for number in range(19, 40):
            intake(f"u{number}", amount="100.00")
        # Read at the shop's twentieth order (19 × 100.00 and 900.00: mean 140.00) and kept since:
        # 800.00 is more than five times that.
        assert open_reasons(intake("big", amount="800.00")) == ["amount_anomaly"]
        for number in range(40, 60):
            intake(f"v{number}", amount="1000.00")
        # The kept mean (140.00), not today's (about 480): still an anomaly until it is read again.
        assert open_reasons(intake("bigger", amount="1000.00")) == ["amount_anomaly"]
        usual_amounts_cache_clear()
        assert open_reasons(intake("after", amount="1000.00")) == []
    finally:
        usual_amounts_cache_clear()


def test_a_suspected_duplicate_names_its_twin_within_the_window(users):
    lines = [{"sku": "A", "quantity": 2, "unit_price": "50.00"}]
    first = intake("d1", buyer_phone="13900000000", lines=lines)
    twin = intake("d2", buyer_phone="13900000000", lines=lines)
    other_items = intake("d3", buyer_phone="13900000000", lines=[{"sku": "B", "quantity": 2, "unit_price": "50.00"}])
    later = intake("d4", buyer_phone="13900000000", lines=lines, ordered_at=timezone.now() + timedelta(hours=7))
    assert open_reasons(first) == [] and open_reasons(other_items) == [] and open_reasons(later) == []
    duplicate = OrderException.objects.get(order=twin)
    assert (duplicate.reason, duplicate.data["twin_number"]) == ("suspected_duplicate", first.number)


def test_the_batch_raises_what_one_at_a_time_raises_and_twins_inside_it(users):
    fields = {"amount": "100.00", "currency": "CNY", **CLEAN_ADDRESS, "buyer_phone": "137", "buyer_remark": "快"}
    with transaction.atomic():
        orders = [
            r.order
            for r in order_intake_batch_in_transaction(
                channel="taobao", items=[IntakeItem("b1", fields, True), IntakeItem("b2", fields, True)]
            )
        ]
    assert open_reasons(orders[0]) == ["buyer_remark"]
    assert open_reasons(orders[1]) == ["buyer_remark", "suspected_duplicate"]
    single = intake("s1", channel="manual", **{k: v for k, v in fields.items() if k not in ("amount", "currency")})
    assert open_reasons(single) == ["buyer_remark"]
    batch_event = OrderException.objects.get(order=orders[0]).raised_event
    single_event = OrderException.objects.get(order=single).raised_event
    assert (batch_event.note, batch_event.data) == (single_event.note, single_event.data)


def test_a_cancelled_or_gift_order_raises_nothing(users):
    result = order_intake(
        channel="shopify",
        external_id="c1",
        fields={"amount": "0.00", "currency": "CNY", "buyer_remark": "取消"},
        paid=True,
        cancelled=True,
        source_note="",
    )
    assert result.order.state == "cancelled" and open_reasons(result.order) == []


def test_the_owner_clears_with_a_note_others_may_not(users):
    order = intake("r1", buyer_remark="发顺丰")
    remark = OrderException.objects.get(order=order)
    with pytest.raises(ActionNotPermitted):
        order_exception_clear(exception_id=remark.pk, actor=users["wh1"], note="")
    cleared = order_exception_clear(exception_id=remark.pk, actor=users["cs1"], note="已备注顺丰")
    assert cleared.cleared_by == users["cs1"] and cleared.cleared_note == "已备注顺丰"
    assert cleared.cleared_event.action == "exception_cleared" and "已备注顺丰" in cleared.cleared_event.note
    assert open_reasons(order) == []
    with pytest.raises(ExceptionNotOpen):
        order_exception_clear(exception_id=remark.pk, actor=users["cs1"])
    # Raised again later (another remark), it is a new exception.
    assert order_exception_raise(order=order, reason="buyer_remark", source="person", actor=users["cs1"]) is not None


def test_an_address_is_cleared_only_once_it_is_complete(users):
    order = intake("a1", ship_city="")
    exception = OrderException.objects.get(order=order)
    with pytest.raises(InvalidActionData, match="still incomplete"):
        order_exception_clear(exception_id=exception.pk, actor=users["cs1"])
    Order.objects.filter(pk=order.pk).update(ship_city="杭州市")
    assert order_exception_clear(exception_id=exception.pk, actor=users["cs1"]).cleared_at is not None


def test_a_risk_hold_is_an_operations_exception_until_released(users, make_order):
    order = make_order("paid")
    order_transition(order.pk, "flag_risk", actor=users["cs1"], expected_version=order.version, note="付款人不符")
    hold = OrderException.objects.get(order=order, cleared_at__isnull=True)
    assert (hold.reason, hold.owner_role, hold.source, hold.detail) == (
        "risk_hold",
        "operations",
        "person",
        "付款人不符",
    )
    with pytest.raises(ActionNotPermitted):
        order_exception_clear(exception_id=hold.pk, actor=users["cs1"])
    order_exception_clear(exception_id=hold.pk, actor=users["ops1"], note="核实无误")
    order.refresh_from_db()
    assert order.state == "paid" and open_reasons(order) == []


def test_cancelling_clears_every_open_exception(users):
    order = intake("x1", buyer_remark="不要了", ship_city="")
    assert len(open_reasons(order)) == 2
    order_transition(order.pk, "cancel", actor=users["cs1"], expected_version=order.version, note="买家取消")
    assert open_reasons(order) == []
    assert OrderEvent.objects.filter(order=order, action="exception_cleared").count() == 2
    assert Decimal(order.amount) == Decimal("100.00")


def test_details_edit_does_not_touch_exceptions(users):
    order = intake("e1", buyer_remark="x")
    order_update_details(order_id=order.pk, actor=users["ops1"], expected_version=order.version, priority=1)
    assert open_reasons(order) == [ExceptionReason.BUYER_REMARK]
