"""order_take: customer service takes an unassigned order; someone else's order is refused,
naming its owner, and nothing changes."""

from __future__ import annotations

import pytest

from orders.exceptions import (
    ActionNotPermitted,
    OrderAlreadyOwned,
    OwnerNotEligible,
    OwnerNotOfBrand,
    StaleOrderError,
)
from orders.models import Order
from orders.services.orders import order_take
from tests.factories import BrandFactory, ShopFactory

pytestmark = pytest.mark.django_db


def _snapshot(order):
    row = Order.objects.get(pk=order.pk)
    return row.cs_owner_id, row.version, row.events.count()


def test_an_unassigned_order_is_taken(users, make_order):
    order = make_order("paid", cs_owner=None)
    version = Order.objects.get(pk=order.pk).version
    order_take(order_id=order.pk, actor=users["cs1"], expected_version=version)
    row = Order.objects.get(pk=order.pk)
    assert (row.cs_owner, row.version) == (users["cs1"], version + 1)


def test_taking_an_assigned_order_is_refused(users, make_order):
    order = make_order("paid", cs_owner="cs2")
    before = _snapshot(order)
    with pytest.raises(OrderAlreadyOwned) as refused:
        order_take(order_id=order.pk, actor=users["cs1"], expected_version=before[1])
    assert refused.value.message == f"{order.number} already belongs to 李娜."
    assert _snapshot(order) == before


def test_an_owner_already_taken_by_the_taker_wins_over_a_stale_version(users, make_order):
    """Two takers: the second learns who has it, not only that the order moved."""
    order = make_order("paid", cs_owner=None)
    version = Order.objects.get(pk=order.pk).version
    order_take(order_id=order.pk, actor=users["cs2"], expected_version=version)
    with pytest.raises(OrderAlreadyOwned):
        order_take(order_id=order.pk, actor=users["cs1"], expected_version=version)


def test_taking_ones_own_order_changes_nothing(users, make_order):
    order = make_order("paid", cs_owner="cs1")
    before = _snapshot(order)
    order_take(order_id=order.pk, actor=users["cs1"], expected_version=before[1])
    assert _snapshot(order) == before


def test_a_stale_version_is_refused(users, make_order):
    order = make_order("paid", cs_owner=None)
    before = _snapshot(order)
    with pytest.raises(StaleOrderError):
        order_take(order_id=order.pk, actor=users["cs1"], expected_version=before[1] - 1)
    assert _snapshot(order) == before


def test_only_customer_service_with_the_right_to_edit_may_take(users, make_order):
    order = make_order("paid", cs_owner=None)
    before = _snapshot(order)
    with pytest.raises(ActionNotPermitted):
        order_take(order_id=order.pk, actor=users["wh1"])
    with pytest.raises(OwnerNotEligible):
        order_take(order_id=order.pk, actor=users["ops1"])
    assert _snapshot(order) == before


def test_an_order_of_another_brand_cannot_be_taken(users, make_order):
    BrandFactory(code="alpha", name="Alpha", staff=[users["cs1"]])
    beta = BrandFactory(code="beta", name="Beta", staff=[users["cs2"]])
    shop = ShopFactory(brand=beta, name="Beta Shopify", external_shop_id="beta.myshopify.com")
    order = make_order("paid", shop=shop, cs_owner=None)
    before = _snapshot(order)
    with pytest.raises(OwnerNotOfBrand):
        order_take(order_id=order.pk, actor=users["cs1"])
    assert _snapshot(order) == before
