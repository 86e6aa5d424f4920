"""Customer service corrects an address before packing: one recorded change, and the address
exception it answers cleared by the fix itself."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.exceptions import ActionNotPermitted, InvalidActionData, StaleOrderError
from orders.models import Order, OrderEvent, OrderException
from orders.services.orders import order_address_fix
from tests.factories import channel_order

pytestmark = pytest.mark.django_db


def test_fixing_the_address_clears_its_exception_naming_who(users):
    order = channel_order("A1", ship_city="", recipient_phone="12")
    assert OrderException.objects.get(order=order).reason == "address_incomplete"
    # Half a fix: still incomplete, the exception stays open.
    order = order_address_fix(order_id=order.pk, actor=users["cs1"], expected_version=order.version, ship_city="杭州市")
    assert OrderException.objects.get(order=order).is_open
    order = order_address_fix(
        order_id=order.pk, actor=users["cs1"], expected_version=order.version, recipient_phone="13800138000"
    )
    exception = OrderException.objects.get(order=order)
    assert not exception.is_open and exception.cleared_by == users["cs1"]
    edits = OrderEvent.objects.filter(order=order, action="details_updated").order_by("id")
    assert [e.data["changes"] for e in edits] == [
        {"ship_city": ["", "杭州市"]},
        {"recipient_phone": ["12", "13800138000"]},
    ]
    assert exception.cleared_event.actor == users["cs1"]


def test_bad_fixes_change_nothing(users, make_order):
    order = channel_order("A2")
    packed = make_order("packed")

    def state():
        return (
            Order.objects.get(pk=order.pk).version,
            Order.objects.get(pk=packed.pk).version,
            OrderEvent.objects.count(),
        )

    before = state()
    with pytest.raises(StaleOrderError):
        order_address_fix(order_id=order.pk, actor=users["cs1"], expected_version=order.version - 1, ship_city="X")
    with pytest.raises(InvalidActionData, match="at most 40"):
        order_address_fix(order_id=order.pk, actor=users["cs1"], expected_version=order.version, ship_city="长" * 41)
    with pytest.raises(InvalidActionData, match="not part of an address"):
        order_address_fix(order_id=order.pk, actor=users["cs1"], expected_version=order.version, amount="1")
    with pytest.raises(ActionNotPermitted):
        order_address_fix(order_id=order.pk, actor=users["wh1"], expected_version=order.version, ship_city="X")
    with pytest.raises(InvalidActionData, match="intercepted"):
        order_address_fix(order_id=packed.pk, actor=users["cs1"], expected_version=packed.version, ship_city="X")
    assert state() == before


def test_the_admin_form_and_the_boards_link(client, users):
    order = channel_order("A3", ship_city="")
    client.force_login(users["ops1"])
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert 'id="address" open' in page
    board = client.get("/boards/exceptions/").content.decode()
    assert "data-fix-address" in board and f"/admin/orders/order/{order.pk}/change/#address" in board
    data = {"address-expected_version": order.version, "address-ship_city": "杭州市"}
    for name in ("recipient_name", "recipient_phone", "ship_province", "ship_district", "ship_address"):
        data[f"address-{name}"] = getattr(order, name)
    response = client.post(reverse("admin:orders_order_address", args=[order.pk]), data)
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).ship_city == "杭州市"
    assert not OrderException.objects.get(order=order).is_open
