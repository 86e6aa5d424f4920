"""The exception queue and an order's lines in a real browser: customer service clears a
remark from a phone; operations read what is in an order on a desktop."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orders.demo import DEFAULT_PASSWORD
from orders.models import OrderException
from tests.factories import channel_order

from .conftest import DESKTOP, PHONE, screenshot

LINES = [
    {"sku": "TEA-LJ-250", "name": "西湖龙井 250g", "quantity": 2, "unit_price": "88.00", "discount": "8.00"},
    {"sku": "CUP-GL-300", "name": "双层玻璃杯 300ml", "quantity": 1, "unit_price": "39.90"},
    {"sku": "SAMPLE-01", "name": "试用装（赠品）", "quantity": 1, "unit_price": "0"},
]


def log_in(page, live_server, username: str, path: str) -> None:
    page.goto(f"{live_server.url}{reverse('admin:login')}?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.wait_for_url(f"{live_server.url}{path}")


def intake(external_id, **fields):
    fields = {"amount": "217.90", "shipping_fee": "10.00", "ship_address": "文一西路 969 号", **fields}
    return channel_order(external_id, lines=LINES, **fields)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_customer_service_clears_a_remark_from_a_phone(live_server, open_page, users):
    remark = intake("9001", buyer_remark="请周六上午送达，工作日家里没人")
    address = intake("9002", ship_city="", recipient_phone="0571")
    path = reverse("orders:board_exceptions")
    page = open_page(PHONE)
    log_in(page, live_server, "cs1", path)
    expect(page.locator(f"#order-{remark.number}")).to_be_visible()
    expect(page.locator(f"#order-{address.number}")).to_contain_text("Address incomplete")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "exceptions-phone")

    card = page.locator(f"#order-{remark.number}")
    card.locator("input[name=note]").fill("已和买家确认周六送")
    card.get_by_role("button", name="Remark read and accepted").click()
    expect(page.locator(".oh-message")).to_contain_text(f"{remark.number} · Remark read and accepted")
    expect(page.locator(f"#order-{remark.number}")).to_have_count(0)
    cleared = OrderException.objects.get(order=remark)
    assert cleared.cleared_by == users["cs1"] and cleared.cleared_note == "已和买家确认周六送"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_operations_read_what_is_in_an_order_on_a_desktop(live_server, open_page, users):
    order = intake("9003", buyer_remark="发顺丰")
    page = open_page(DESKTOP)
    log_in(page, live_server, "ops1", reverse("orders:timeline", args=[order.number]))
    lines = page.locator("#lines")
    expect(lines).to_contain_text("What is in the order: 4 items")
    expect(lines).to_contain_text("TEA-LJ-250")
    expect(lines.locator("tbody tr")).to_have_count(3)
    expect(page.locator(".tl-facts")).to_contain_text("发顺丰")
    screenshot(page, "order-lines-desktop")
    phone = open_page(PHONE)
    log_in(phone, live_server, "cs1", reverse("orders:timeline", args=[order.number]))
    expect(phone.locator("#lines")).to_contain_text("西湖龙井 250g")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "order-lines-phone")
