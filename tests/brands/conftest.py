"""Two brands with a Shopify shop each and their customer service, the channel default shops of
the default brand nobody is assigned to, and orders of each on every board."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from orders.models import Brand, Order
from orders.services.shops import shop_default_for_channel
from orders.states import Channel, Role
from tests.factories import BrandFactory, ShopFactory, UserFactory

# Who looks, and whose orders they should see: a brand code, "default" (the default brand), or
# "all". cs1 works brand Alpha, cs2 brand Beta, cs3 no brand at all.
VIEWERS = {
    "cs of alpha": ("cs1", {"alpha"}),
    "cs of beta": ("cs2", {"beta"}),
    "cs of no brand": ("cs3", {"default"}),
    "warehouse": ("wh1", {"alpha", "beta", "default"}),
    "finance": ("fin1", {"alpha", "beta", "default"}),
    "operations": ("ops1", {"alpha", "beta", "default"}),
    "tech lead": ("tech1", {"alpha", "beta", "default"}),
    "admin": ("admin", {"alpha", "beta", "default"}),
}


@dataclass
class World:
    alpha: Brand
    beta: Brand
    shops: dict  # brand code -> Shop (Shopify)
    # (brand code, board) -> Order: "cs" a paid order, "warehouse" allocated, "ops" on risk hold
    orders: dict

    def of(self, brands: set[str], board: str | None = None) -> set[str]:
        """Numbers of the orders of these brands (on one board, or all)."""
        return {
            order.number
            for (code, on), order in self.orders.items()
            if code in brands and (board is None or on == board)
        }

    def all_numbers(self, board: str | None = None) -> set[str]:
        return self.of({"alpha", "beta", "default"}, board)

    def visible(self, numbers: set[str], brands: set[str]) -> set[str]:
        """Those of `numbers` (orders of the world) that belong to these brands."""
        return numbers & self.of(brands)


def shown(html: str, numbers: set[str]) -> set[str]:
    return {number for number in numbers if number in html}


@pytest.fixture
def world(users, make_order) -> World:
    users["cs3"] = UserFactory(
        username="cs3", first_name="芳", last_name="王", email="cs3@example.com", role=Role.CUSTOMER_SERVICE
    )
    alpha = BrandFactory(code="alpha", name="Alpha", staff=[users["cs1"]])
    beta = BrandFactory(code="beta", name="Beta", staff=[users["cs2"]])
    shops = {
        "alpha": ShopFactory(brand=alpha, name="Alpha Shopify", external_shop_id="alpha.myshopify.com"),
        "beta": ShopFactory(brand=beta, name="Beta Shopify", external_shop_id="beta.myshopify.com"),
        "default": shop_default_for_channel(Channel.SHOPIFY),
    }
    owners = {"alpha": "cs1", "beta": "cs2", "default": "cs3"}
    states = {"cs": "paid", "warehouse": "allocated", "ops": "risk_hold"}
    orders = {}
    for code, shop in shops.items():
        for board, state in states.items():
            orders[(code, board)] = make_order(state, shop=shop, cs_owner=owners[code])
    assert Order.objects.count() == 9
    return World(alpha=alpha, beta=beta, shops=shops, orders=orders)
