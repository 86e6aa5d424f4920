"""拆单/合单 in a real browser: customer service splits an order from a phone and merges a buyer's
two orders on a desktop, from the order page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from orders.demo import DEFAULT_PASSWORD
from orders.models import Order, OrderException
from orders.states import State
from tests.factories import channel_order

from .conftest import DESKTOP, PHONE, change_path, log_in, screenshot

LINES = [
    {"sku": "TEA-LJ-250", "name": "西湖龙井 250g", "quantity": 2, "unit_price": "88.00"},
    {"sku": "CUP-GL-300", "name": "双层玻璃杯 300ml", "quantity": 1, "unit_price": "39.90"},
]


def _order(external_id, hours_ago):
    return channel_order(
        external_id,
        lines=LINES,
        amount="215.90",
        buyer_email="chen@example.com",
        ordered_at=timezone.now() - timedelta(hours=hours_ago),
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_customer_service_splits_an_order_from_a_phone(live_server, open_page, users):
    order = _order("7001", 1)
    cup = order.lines.get(sku="CUP-GL-300")
    page = open_page(PHONE)
    log_in(page, live_server, "cs1", change_path(order))
    page.locator("[data-action=split]").click()
    page.wait_for_url(f"{live_server.url}{reverse('admin:orders_order_split', args=[order.pk])}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.fill(f"#id_units_{cup.pk}", "1")
    page.fill("#id_note", "杯子缺货，茶叶先发")
    screenshot(page, "split-phone")
    page.get_by_role("button", name="Split off these units").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Order {order.number} was split")
    part = Order.objects.get(split_from=order)
    assert [line.sku for line in part.lines.all()] == ["CUP-GL-300"]
    screenshot(page, "split-phone-after")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_customer_service_merges_two_orders_on_a_desktop(live_server, open_page, users):
    first, second = _order("7002", 5), _order("7003", 2)
    OrderException.objects.all().delete()
    page = open_page(DESKTOP)
    log_in(page, live_server, "cs1", change_path(second))
    page.locator("[data-action=merge]").click()
    expect(page.locator(".orderhub-merge")).to_contain_text(first.number)
    screenshot(page, "merge-desktop")
    page.get_by_role("button", name="Merge into one parcel").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Merged into order {first.number}")
    assert Order.objects.get(pk=second.pk).state == State.MERGED
    assert Order.objects.get(pk=first.pk).lines.count() == 4
    screenshot(page, "merge-desktop-after")
    # The phone's order page of the merged one: where it went, and its timeline.
    phone = open_page(PHONE)
    timeline = reverse("orders:timeline", args=[second.number])
    phone.goto(f"{live_server.url}{reverse('admin:login')}?next={timeline}")
    phone.fill("#id_username", "cs1")
    phone.fill("#id_password", DEFAULT_PASSWORD)
    phone.locator("#login-form [type=submit]").click()
    phone.wait_for_url(f"{live_server.url}{timeline}")
    expect(phone.locator(".tl-facts")).to_contain_text(first.number)
    screenshot(phone, "merged-timeline-phone")
