"""The bell updates without a reload, and a click leads to the order's timeline."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orders.models import OutboxMessage
from orders.outbox.services import outbox_deliver
from orders.services.transition import order_transition

from .conftest import DESKTOP, PHONE, log_in, screenshot


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("device", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_bell_counts_live_and_opens_the_timeline(live_server, open_page, make_order, users, device, name):
    order = make_order("paid", cs_owner="cs2")
    page = open_page(device)
    log_in(page, live_server, "cs2", reverse("admin:index"))
    bell = page.locator("#orderhub-bell")
    expect(bell.locator("[data-unread]")).to_have_attribute("data-unread", "0")

    # Someone else approves cs2's order; the worker's part is done right here.
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    outbox_deliver(OutboxMessage.objects.get(event=event, kind="notify").pk)

    # No reload: htmx polls every 3 s.
    expect(bell.locator("[data-unread]")).to_have_attribute("data-unread", "1", timeout=6_000)
    screenshot(page, f"bell-unread-{name}")
    bell.click()
    page.wait_for_url(f"{live_server.url}{reverse('notifications:inbox')}")
    expect(page.locator(".orderhub-notifications li.unread")).to_contain_text(order.number)
    screenshot(page, f"inbox-{name}")
    page.locator(".orderhub-notification-open").first.click()
    timeline = reverse("orders:timeline", args=[order.number])
    page.wait_for_url(f"{live_server.url}{timeline}#event-{event.pk}")
    expect(page.locator(f"#event-{event.pk}")).to_contain_text("approved")
    screenshot(page, f"bell-timeline-{name}")
    expect(bell.locator("[data-unread]")).to_have_attribute("data-unread", "0")
