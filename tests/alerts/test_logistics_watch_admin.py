"""The shops' ship rules in the admin: operations add and change them (the open deadlines follow
at once); other roles cannot; the watch rows are read-only and scoped like the orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from alerts.models import OrderWatch, ShopShipRule

pytestmark = pytest.mark.django_db

ADD = "admin:alerts_shopshiprule_add"


def test_operations_add_a_rule_and_the_open_deadline_follows(client, users, make_order):
    order = make_order("paid")
    paid_at = OrderWatch.objects.get(order_id=order.pk).paid_at
    client.force_login(users["ops1"])
    response = client.post(reverse(ADD), {"shop": order.shop_id, "ship_within_hours": "12", "collect_within_hours": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = ShopShipRule.objects.get(shop_id=order.shop_id)
    assert (rule.ship_within_hours, rule.collect_within_hours) == (12, None)
    assert rule.history.count() == 1
    assert OrderWatch.objects.get(order_id=order.pk).ship_by == paid_at + timedelta(hours=12)


def test_a_bad_rule_is_refused_in_the_form_and_nothing_changes(client, users, make_order):
    order = make_order("paid")
    client.force_login(users["ops1"])
    response = client.post(reverse(ADD), {"shop": order.shop_id, "ship_within_hours": "0"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not ShopShipRule.objects.exists()


@pytest.mark.parametrize("username", ["wh1", "cs1", "fin1"])
def test_other_roles_cannot_change_the_rules(client, users, make_order, username):
    order = make_order("paid")
    client.force_login(users[username])
    response = client.post(reverse(ADD), {"shop": order.shop_id, "ship_within_hours": "12"})
    assert response.status_code == 403
    assert not ShopShipRule.objects.exists()


def test_the_watch_list_is_read_only(client, users, make_order):
    order = make_order("shipped")
    client.force_login(users["ops1"])
    page = client.get(reverse("admin:alerts_orderwatch_changelist"))
    assert page.status_code == 200 and order.number in page.content.decode()
    change = client.post(reverse("admin:alerts_orderwatch_change", args=[order.pk]), {"phase": "done"})
    assert change.status_code in (200, 403)
    assert OrderWatch.objects.get(order_id=order.pk).phase == "awaiting_collection"
