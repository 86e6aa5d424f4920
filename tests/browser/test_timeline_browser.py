"""The timeline page in a real browser: a warehouse user on a phone adds a note with a photo
and sees it inline; operations read the whole record on a desktop."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orders.demo import DEFAULT_PASSWORD
from orders.models import OrderEvent, OutboxMessage
from orders.outbox.services import outbox_deliver
from orders.services.orders import order_update_details
from orders.services.transition import order_transition
from orders.states import Priority
from tests.test_timeline_page import png_bytes

from .conftest import DESKTOP, PHONE, screenshot


def log_in_to(page, live_server, username: str, path: str) -> None:
    page.goto(f"{live_server.url}{reverse('admin:login')}?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.wait_for_url(f"{live_server.url}{path}")


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_phone_adds_a_note_with_a_photo_and_sees_it(live_server, open_page, make_order, users):
    order = make_order("shipped", cs_owner="cs2")
    order_update_details(order_id=order.pk, actor=users["cs1"], expected_version=order.version, priority=Priority.HIGH)
    order_transition(
        order.pk, "reship", actor=users["cs2"], note="包裹丢失，补发", carrier="sf", tracking_number="SF7788990011"
    )
    for message in OutboxMessage.objects.filter(event__order=order, kind="notify", status="pending"):
        outbox_deliver(message.pk)
    path = reverse("orders:timeline", args=[order.number])

    page = open_page(PHONE)
    log_in_to(page, live_server, "wh1", path)
    expect(page.locator("h1")).to_have_text(order.number)
    assert fits_the_width(page)

    page.get_by_text("Add a note or photos").click()
    page.fill("#tl-note", "外箱一角压坏，已拍照留底。Corner of the box crushed, photo attached.")
    page.set_input_files(
        "#tl-files", files=[{"name": "box-corner.png", "mimeType": "image/png", "buffer": png_bytes(320, 240)}]
    )
    page.get_by_role("button", name="Add to the timeline").click()

    page.wait_for_url(f"{live_server.url}{path}#event-*")
    event = OrderEvent.objects.get(order=order, action="attachments_added")
    entry = page.locator(f"#event-{event.pk}")
    expect(page.locator(".oh-message")).to_contain_text("Added to the timeline with 1 attachment.")
    expect(entry).to_contain_text("Corner of the box crushed")
    expect(entry).to_contain_text("王强")
    photo = entry.locator("img")
    expect(photo).to_be_visible()
    photo.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=photo.element_handle())
    assert fits_the_width(page)
    screenshot(page, "timeline-phone")

    desktop = open_page(DESKTOP)
    log_in_to(desktop, live_server, "ops1", path)
    expect(desktop.locator(".tl-notifications")).to_contain_text("李娜")
    expect(desktop.locator(f"#event-{event.pk} img")).to_be_visible()
    assert fits_the_width(desktop)
    screenshot(desktop, "timeline-desktop")
