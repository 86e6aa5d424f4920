"""The boards in Debian's Chromium: a warehouse worker on a phone moves an order through
packing → labelling → awaiting pickup with a scanned tracking number, while the order's
customer-service owner watches the row change and the bell ring on a desktop, without a reload.
A tap on a page someone else has overtaken gets the conflict message and changes nothing.

With ORDERHUB_UPDATE_SCREENSHOTS=1 the board screenshots are also written to docs/screenshots/
(the README shows them)."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Order, OrderEvent, OutboxMessage, Shipment
from orders.outbox.services import outbox_deliver
from orders.services.transition import order_transition

from .conftest import DESKTOP, PHONE, SCREENSHOTS, screenshot

DOCS_SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"


def board_log_in(page, live_server, username: str, path: str) -> None:
    """Through the real login form, landing on a board page."""
    from orders.demo import DEFAULT_PASSWORD

    page.goto(f"{live_server.url}{reverse('admin:login')}?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.wait_for_url(f"{live_server.url}{path}")
    expect(page.locator("#board-rows")).to_be_visible()


def card(page, order):
    return page.locator(f"#order-{order.number}")


def deliver_notifications(order) -> None:
    """The worker's part, done right here: deliver the in-app notifications the order's events
    asked for (delivery itself is tested with a real worker elsewhere)."""
    for message in OutboxMessage.objects.filter(event__order=order, kind="notify", status="pending"):
        outbox_deliver(message.pk)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_warehouse_moves_an_order_and_its_cs_owner_sees_it_live(live_server, open_page, make_order):
    order = make_order("allocated", cs_owner="cs2")
    phone = open_page(PHONE)
    board_log_in(phone, live_server, "wh1", reverse("orders:board_warehouse"))
    desk = open_page(DESKTOP)
    board_log_in(desk, live_server, "cs2", reverse("orders:board_cs"))
    expect(card(desk, order)).to_contain_text("Allocated to warehouse")
    expect(desk.locator("#orderhub-bell [data-unread]")).to_have_attribute("data-unread", "0")

    # Packing → labelling: one tap.
    packing = phone.locator("#stage-packing")
    expect(card(packing, order)).to_be_visible()
    card(packing, order).locator("button[data-action=pack]").tap()
    expect(phone.locator(".oh-message-success")).to_contain_text("packed")
    labelling_card = card(phone.locator("#stage-labelling"), order)
    expect(labelling_card).to_be_visible()
    assert Order.objects.get(pk=order.pk).state == "packed"

    # The CS owner's desktop: the row changes and the bell rings, no reload.
    deliver_notifications(order)
    expect(card(desk, order)).to_contain_text("Packed", timeout=6_000)
    expect(desk.locator("#orderhub-bell [data-unread]")).to_have_attribute("data-unread", "1", timeout=6_000)

    # Labelling → awaiting pickup: the scanner types the code and Enter.
    labelling_card.locator("select[name=carrier]").select_option("zto")
    tracking = labelling_card.locator("input[name=tracking_number]")
    tracking.tap()
    tracking.type("ZTO7300012345\n")
    awaiting = card(phone.locator("#stage-awaiting_pickup"), order)
    expect(awaiting).to_contain_text("ZTO7300012345")
    screenshot(phone, "warehouse-board-after-ship-phone")
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number) == ("zto", "ZTO7300012345")

    # Shipped orders leave the customer-service board by themselves.
    expect(card(desk, order)).to_have_count(0, timeout=6_000)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_warehouse_pulls_an_intercepted_parcel_from_the_top_of_its_board(live_server, open_page, make_order, users):
    """截单 on the handheld: the interception heads the board with its reason; one tap."""
    from orders.models import Interception
    from orders.services.interception import order_intercept_request

    make_order("allocated", cs_owner="cs1")
    order = make_order("packed", cs_owner="cs1")
    order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消：地址填错了")
    phone = open_page(PHONE)
    board_log_in(phone, live_server, "wh1", reverse("orders:board_warehouse"))
    first_group = phone.locator("section.oh-group").first
    expect(first_group).to_have_attribute("data-stage", "intercept")
    row = card(first_group, order)
    expect(row).to_contain_text("买家取消：地址填错了")
    screenshot(phone, "warehouse-board-intercept-phone")
    row.locator("button[data-action=confirm_intercept]").tap()
    expect(phone.locator(".oh-message-success")).to_be_visible()
    expect(phone.locator("#stage-intercept")).to_have_count(0)
    assert Order.objects.get(pk=order.pk).state == "intercepted"
    assert Interception.objects.get(order=order).resolved_event.actor == users["wh1"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_overtaken_tap_gets_the_conflict_message(live_server, open_page, make_order, users):
    order = make_order("packed", cs_owner="cs1")
    phone = open_page(PHONE)
    board_log_in(phone, live_server, "wh1", reverse("orders:board_warehouse"))
    row = card(phone, order)
    tracking = row.locator("input[name=tracking_number]")
    # While this worker is scanning (the board does not refresh under a focused field) …
    tracking.tap()
    tracking.type("SF1000200030")
    # … a colleague ships the same parcel from another handheld.
    order_transition(order.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF9990001112")
    events_before = OrderEvent.objects.filter(order=order).count()

    tracking.press("Enter")
    expect(phone.locator(".oh-message-error")).to_contain_text("was changed by 王强 (Warehouse)")
    screenshot(phone, "warehouse-board-conflict-phone")
    assert OrderEvent.objects.filter(order=order).count() == events_before
    assert list(Shipment.objects.filter(order=order).values_list("tracking_number", flat=True)) == ["SF9990001112"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("username", "board"),
    [("cs1", "orders:board_cs"), ("wh1", "orders:board_warehouse"), ("ops1", "orders:board_ops")],
)
@pytest.mark.parametrize(("device", "size"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_board_screenshots(live_server, open_page, make_order, username, board, device, size):
    """Each board with work on it, a stale row and a priority row, at both sizes."""
    for state in ("paid", "paid", "reviewed", "allocated", "allocated", "packed", "shipped", "risk_hold"):
        make_order(state, cs_owner="cs1")
    make_order("paid", cs_owner="cs1", amount="1299.00")  # priority lane
    make_order("allocated", cs_owner="cs1", amount="899.00")
    make_order("risk_hold", cs_owner="cs1", amount="688.00")
    stale = make_order("packed", cs_owner="cs1")
    Order.objects.filter(pk=stale.pk).update(state_changed_at=timezone.now() - timedelta(hours=3))
    waiting = make_order("paid", cs_owner="cs1")
    Order.objects.filter(pk=waiting.pk).update(state_changed_at=timezone.now() - timedelta(hours=5))

    page = open_page(device)
    board_log_in(page, live_server, username, reverse(board))
    expect(page.locator(".oh-stale").first).to_be_visible()
    expect(page.locator(".oh-badge-priority").first).to_be_visible()
    name = f"board-{board.split('_')[1]}-{size}"
    screenshot(page, name)
    if os.environ.get("ORDERHUB_UPDATE_SCREENSHOTS"):
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(SCREENSHOTS / f"{name}.png", DOCS_SCREENSHOTS / f"{name}.png")
