"""拆单/合单 from the order page: customer service splits by lines and merges a buyer's orders;
a refusal is said on the page and changes nothing; other roles are turned away."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderException
from orders.states import State
from tests.factories import channel_order

pytestmark = pytest.mark.django_db

LINES = [
    {"sku": "TEA-1", "name": "龙井", "quantity": 2, "unit_price": "40.00"},
    {"sku": "CUP-2", "name": "茶杯", "quantity": 1, "unit_price": "20.00"},
]


def _buyer_order(external_id, hours_ago, **fields):
    return channel_order(
        external_id,
        lines=LINES,
        amount="100.00",
        buyer_email="li@example.com",
        ordered_at=timezone.now() - timedelta(hours=hours_ago),
        **fields,
    )


def test_customer_service_splits_an_order_from_its_page(client, users):
    order = _buyer_order("A1", 2)
    client.force_login(users["cs1"])
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    split_url = reverse("admin:orders_order_split", args=[order.pk])
    assert split_url in page
    form = client.get(split_url).content.decode()
    tea, cup = order.lines.order_by("position")
    assert f'name="units_{tea.pk}"' in form and "龙井" in form

    # All of it would leave the order empty: said on the page, nothing changed.
    refused = client.post(split_url, {"expected_version": order.version, f"units_{tea.pk}": 2, f"units_{cup.pk}": 1})
    assert refused.status_code == 200 and "empty" in refused.content.decode()
    assert Order.objects.count() == 1

    done = client.post(split_url, {"expected_version": order.version, f"units_{cup.pk}": 1, "note": "杯子另发"})
    assert done.status_code == 302
    part = Order.objects.get(split_from=order)
    assert [line.sku for line in part.lines.all()] == ["CUP-2"]
    page = client.get(reverse("admin:orders_order_change", args=[part.pk])).content.decode()
    assert order.number in page  # "split off from"


def test_customer_service_merges_the_buyers_orders(client, users):
    first = _buyer_order("M1", 5)
    second = _buyer_order("M2", 3)
    elsewhere = _buyer_order("M3", 1, ship_address="别处 9 号")
    OrderException.objects.all().delete()
    client.force_login(users["cs1"])
    page = client.get(reverse("admin:orders_order_change", args=[second.pk])).content.decode()
    merge_url = reverse("admin:orders_order_merge", args=[second.pk])
    assert merge_url in page
    form = client.get(merge_url).content.decode()
    assert first.number in form and elsewhere.number not in form

    # A page opened before the first order changed: the stale version is refused.
    stale = client.post(
        merge_url,
        {"expected_version": second.version, "orders": [first.pk], f"version_{first.pk}": first.version - 1},
    )
    assert stale.status_code == 200 and "reload" in stale.content.decode()
    assert Order.objects.get(pk=second.pk).state == State.PAID

    done = client.post(
        merge_url, {"expected_version": second.version, "orders": [first.pk], f"version_{first.pk}": first.version}
    )
    assert done.status_code == 302 and done["Location"] == reverse("admin:orders_order_change", args=[first.pk])
    second.refresh_from_db()
    assert second.state == State.MERGED and second.merged_into_id == first.pk
    page = client.get(reverse("admin:orders_order_change", args=[first.pk])).content.decode()
    assert second.number in page  # "merged into it"
    # The phone's order page links both ways, and each timeline tells the merge.
    kept_page = client.get(reverse("orders:timeline", args=[first.number])).content.decode()
    assert reverse("orders:timeline", args=[second.number]) in kept_page
    part_page = client.get(reverse("orders:timeline", args=[second.number])).content.decode()
    assert reverse("orders:timeline", args=[first.number]) in part_page
    assert "Merged into another order" in part_page


def test_other_roles_cannot_split_or_merge(client, users):
    order = _buyer_order("W1", 2)
    client.force_login(users["wh1"])
    assert client.get(reverse("admin:orders_order_split", args=[order.pk])).status_code == 403
    assert client.get(reverse("admin:orders_order_merge", args=[order.pk])).status_code == 403
    # The bare transition is refused too: merging is its page's.
    client.force_login(users["cs1"])
    client.post(reverse("admin:orders_order_transition", args=[order.pk, "merge"]), {"expected_version": order.version})
    assert Order.objects.get(pk=order.pk).state == State.PAID
