"""The order admin in Debian's Chromium: log in through the real form, act on an order from a
phone, get the conflict message on a stale page, and switch the language from the header.

Screenshots go to test-artifacts/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from orders.demo import DEFAULT_PASSWORD
from orders.models import Order, Shipment

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"


@pytest.fixture
def chromium(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the test
    # makes meanwhile (fixtures, refresh_from_db) are plain synchronous code all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # Its greenlets also leave this thread in another contextvars context, where Django would
    # open a second connection per database that nobody closes (PostgreSQL then cannot drop
    # the test database). Keep using the connections the test already has.
    outer = {alias: connections[alias] for alias in connections}
    with sync_playwright() as p:
        for alias, connection in outer.items():
            connections[alias] = connection
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(chromium):
    """open_page(PHONE) -> a page in a fresh context (no cookies), English like the test settings."""

    def open_(device: dict):
        context = chromium.new_context(locale="en-US", **device)
        context.set_default_timeout(15_000)
        return context.new_page()

    return open_


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def change_path(order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def log_in(page, live_server, username: str, next_path: str) -> None:
    """Through the real login form, landing on next_path."""
    page.goto(f"{live_server.url}{reverse('admin:login')}?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.wait_for_url(f"{live_server.url}{next_path}")
    expect(page.locator("#user-tools")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_warehouse_ships_from_a_phone(live_server, open_page, make_order):
    order = make_order("packed")
    page = open_page(PHONE)
    log_in(page, live_server, "wh1", change_path(order))

    expect(page.locator("form[data-action]")).to_have_count(1)
    ship = page.locator("form[data-action=ship]")
    expect(ship).to_be_visible()
    screenshot(page, "ship-phone-before")

    ship.locator("select[name=ship-carrier]").select_option("sf")
    ship.locator("input[name=ship-tracking_number]").fill("SF7001002003")
    ship.locator("button[type=submit]").click()

    expect(page.locator("ul.messagelist li.success")).to_contain_text("王强 (Warehouse) shipped")
    expect(page.locator("#shipments-group")).to_contain_text("SF7001002003")
    assert page.url == f"{live_server.url}{change_path(order)}"
    screenshot(page, "ship-phone-after")

    order.refresh_from_db()
    assert order.state == "shipped"
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number) == ("sf", "SF7001002003")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_stale_page_shows_the_conflict_and_changes_nothing(live_server, open_page, make_order, users):
    from orders.services.transition import order_transition

    order = make_order("paid")
    page = open_page(DESKTOP)
    log_in(page, live_server, "cs1", change_path(order))
    approve = page.locator("form[data-action=approve]")
    expect(approve).to_be_visible()

    # Someone else acts while cs1 still looks at the page.
    order_transition(order.pk, "flag_risk", actor=users["ops1"], note="address check")

    approve.locator("button[type=submit]").click()
    expect(page.locator("ul.messagelist li.error")).to_contain_text("was changed by 刘洋 (Operations)")
    screenshot(page, "stale-conflict-desktop")

    assert Order.objects.get(pk=order.pk).state == "risk_hold"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_language_switch_in_the_header(live_server, open_page, make_order):
    order = make_order("paid")
    page = open_page(DESKTOP)
    log_in(page, live_server, "cs1", change_path(order))
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("#orderhub-actions-title")).to_contain_text("What you can do now")
    expect(page.locator("#events-group h2")).to_have_text("Timeline")

    page.locator("#orderhub-language-select").select_option("zh-hans")
    expect(html).to_have_attribute("lang", "zh-hans")
    assert page.url == f"{live_server.url}{change_path(order)}"
    expect(page.locator(".breadcrumbs")).to_contain_text("首页")  # Django's own catalog
    expect(page.locator("#orderhub-actions-title")).to_contain_text("当前可执行的操作")  # OrderHub's
    expect(page.locator("#events-group h2")).to_have_text("时间线")
    expect(page.locator("#orderhub-language-select")).to_have_value("zh-hans")
    screenshot(page, "language-zh-desktop")

    page.locator("#orderhub-language-select").select_option("en")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("#orderhub-actions-title")).to_contain_text("What you can do now")
