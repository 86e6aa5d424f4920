"""order_owner_assign and order_owner_check: an order's owner is an active customer-service
user who works the order's brand; a refusal names why and changes nothing."""

from __future__ import annotations

import pytest

from orders.events import ORDER_DETAILS_UPDATED
from orders.exceptions import OwnerNotEligible, OwnerNotOfBrand, StaleOrderError
from orders.models import Order
from orders.services.orders import order_owner_assign, order_owner_check, order_update_details
from tests.factories import BrandFactory, ShopFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alpha_order(users, make_order):
    """A paid order of brand Alpha (worked by cs1; cs2 works brand Beta), owned by cs1."""
    alpha = BrandFactory(code="alpha", name="Alpha", staff=[users["cs1"]])
    BrandFactory(code="beta", name="Beta", staff=[users["cs2"]])
    shop = ShopFactory(brand=alpha, name="Alpha Shopify", external_shop_id="alpha.myshopify.com")
    return make_order("paid", shop=shop, cs_owner="cs1")


def _snapshot(order):
    row = Order.objects.get(pk=order.pk)
    return row.cs_owner_id, row.version, row.events.count()


def test_an_owner_of_another_brand_is_refused_and_nothing_changes(users, alpha_order):
    before = _snapshot(alpha_order)
    with pytest.raises(OwnerNotOfBrand) as refused:
        order_owner_assign(order_id=alpha_order.pk, owner=users["cs2"], actor=users["ops1"])
    assert refused.value.message == "李娜 does not work this order's brand."
    assert _snapshot(alpha_order) == before


def test_the_order_page_path_shares_the_brand_rule(users, alpha_order):
    before = _snapshot(alpha_order)
    with pytest.raises(OwnerNotOfBrand):
        order_update_details(
            order_id=alpha_order.pk, actor=users["ops1"], expected_version=before[1], cs_owner=users["cs2"].pk
        )
    assert _snapshot(alpha_order) == before


def test_an_owner_of_the_brand_is_assigned_with_one_event(users, make_order, alpha_order):
    order = make_order("paid", shop=alpha_order.shop, cs_owner=None)
    version = Order.objects.get(pk=order.pk).version
    order_owner_assign(order_id=order.pk, owner=users["cs1"], actor=users["ops1"], expected_version=version)
    row = Order.objects.get(pk=order.pk)
    assert (row.cs_owner, row.version) == (users["cs1"], version + 1)
    last = row.events.order_by("-id").first()
    assert last.action == ORDER_DETAILS_UPDATED and "cs_owner" in last.data["changes"]


def test_a_stale_version_is_refused(users, alpha_order):
    before = _snapshot(alpha_order)
    with pytest.raises(StaleOrderError):
        order_owner_assign(
            order_id=alpha_order.pk, owner=users["cs1"], actor=users["ops1"], expected_version=before[1] - 1
        )
    assert _snapshot(alpha_order) == before


def test_someone_who_is_not_customer_service_cannot_own_an_order(users, alpha_order):
    before = _snapshot(alpha_order)
    with pytest.raises(OwnerNotEligible):
        order_owner_assign(order_id=alpha_order.pk, owner=users["wh1"], actor=users["ops1"])
    assert _snapshot(alpha_order) == before


def test_the_check_alone(users, alpha_order):
    order_owner_check(order=alpha_order, owner=users["cs1"])
    order_owner_check(order=alpha_order, owner=users["admin"])  # admins see every brand
    with pytest.raises(OwnerNotOfBrand):
        order_owner_check(order=alpha_order, owner=users["cs2"])
