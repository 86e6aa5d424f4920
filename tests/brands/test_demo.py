"""The demo data shows brands: orders spread over the demo shops, each owned by someone who
works its brand, and each customer-service login seeing its brands only."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from orders.demo import DEMO_BRAND_STAFF
from orders.models import Order
from orders.selectors import order_list_visible_to


@pytest.mark.django_db
def test_seed_demo_spreads_orders_over_the_brands(roles, client):
    from django.contrib.auth import get_user_model

    out = io.StringIO()
    call_command("seed_demo", "--orders", "24", stdout=out)
    assert "小满茶饮" in out.getvalue()
    orders = list(Order.objects.select_related("shop__brand", "cs_owner", "main_order__shop"))
    assert len({order.shop.brand.code for order in orders}) == 3
    for order in orders:
        assert order.channel == order.shop.channel
        assert order.cs_owner.username in DEMO_BRAND_STAFF[order.shop.brand.code]
        if order.main_order_id:
            assert order.main_order.shop_id == order.shop_id
    cs1 = get_user_model().objects.get(username="cs1")
    visible = set(order_list_visible_to(user=cs1).values_list("shop__brand__code", flat=True))
    assert visible and visible <= {"xiaoman", "mumu"}
    client.force_login(cs1)
    assert client.get("/boards/cs/?owner=all").status_code == 200
