"""Browser fixtures: Debian's Chromium driven by Playwright, never a downloaded browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from orders.demo import DEFAULT_PASSWORD

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


@pytest.fixture(scope="module")
def chromium():
    """One Chromium per test module (starting Playwright's driver and the browser takes a few
    seconds); each test gets contexts of its own from `open_page`, closed after it."""
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an event loop running in this thread; the ORM calls the
        # tests and their fixtures make meanwhile (refresh_from_db, the flush after each test)
        # are plain synchronous code all the same.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        # Its greenlets also leave this thread in another contextvars context, where Django
        # would open a second connection per database that nobody closes (PostgreSQL then
        # cannot drop the test database). Keep using the connections this thread already has.
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
    contexts = []

    def open_(device: dict):
        context = chromium.new_context(locale="en-US", **device)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


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
