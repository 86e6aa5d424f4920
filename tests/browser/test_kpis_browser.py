"""The KPI dashboard in Chromium: an operations lead reads it on a phone and on a desktop."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from kpis.models import KpiDaily
from reconciliation.models import ReconciliationRun

from .conftest import DESKTOP, PHONE, SCREENSHOTS, screenshot
from .test_boards_browser import DOCS_SCREENSHOTS


def _thirty_days_with_a_bad_week():
    """Healthy days, then the last few fail latency and interventions: red on the page."""
    today = timezone.localdate()
    for back in range(30):
        bad = back < 4
        KpiDaily.objects.create(
            day=today - timedelta(days=back),
            accuracy_percent=99.6 - (back % 5) * 0.05,
            status_compared=2000,
            status_matched=1992,
            latency_p50_seconds=22.0 + back % 7,
            latency_p95_seconds=(131.0 if bad else 55.0 + back % 9),
            latency_samples=300,
            interventions=(6 if bad else back % 3),
        )
    # Today's carrier and WMS runs: 98.9 % of statuses matched, under the 99.2 % line.
    finished = timezone.now() - timedelta(minutes=20)
    for source in ("carrier", "wms"):
        ReconciliationRun.objects.create(
            source=source,
            file_name=f"{source}-today.csv",
            file_sha256="0" * 64,
            started_at=finished - timedelta(minutes=1),
            finished_at=finished,
            orders_compared=1000,
            status_compared=1000,
            status_matched=989,
        )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("device", "size"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_kpi_dashboard_reads_at_both_sizes(live_server, open_page, users, device, size):
    from orders.demo import DEFAULT_PASSWORD

    _thirty_days_with_a_bad_week()
    page = open_page(device)
    path = reverse("kpis:dashboard")
    page.goto(f"{live_server.url}{reverse('admin:login')}?next={path}")
    page.fill("#id_username", "ops1")
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.wait_for_url(f"{live_server.url}{path}")

    expect(page.locator("svg.oh-chart")).to_have_count(4)
    expect(page.locator("#kpi-accuracy.oh-kpi-fail")).to_be_visible()
    expect(page.locator("#chart-latency .oh-chart-fail").first).to_be_attached()
    # Nothing wider than the screen: a phone reads it without scrolling sideways.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    name = f"kpis-{size}"
    screenshot(page, name)
    if os.environ.get("ORDERHUB_UPDATE_SCREENSHOTS"):
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(SCREENSHOTS / f"{name}.png", DOCS_SCREENSHOTS / f"{name}.png")
