"""The order admin in Debian's Chromium: log in through the real form, act on an order from a
phone, get the conflict message on a stale page, and switch the language from the header.

Screenshots go to test-artifacts/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from orders.models import Order, Shipment

from .conftest import DESKTOP, PHONE, change_path, log_in, screenshot


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
