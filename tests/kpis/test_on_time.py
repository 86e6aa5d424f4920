"""The per-shop on-time rate: shipped on time at the first carrier scan / shipped (decided),
over the page's period, per shop, on the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import OrderWatch
from alerts.watch import shop_ship_rule_save
from integrations.carriers.base import PICKED_UP, TrackingEvent
from integrations.tracking import tracking_apply
from kpis.selectors import days_window, kpi_on_time_by_shop
from orders.models import Order
from tests.factories import ShopFactory

pytestmark = pytest.mark.django_db


def _first_scan(order, at) -> None:
    shipment = Order.objects.get(pk=order.pk).current_shipment
    event = TrackingEvent(tracking_number=shipment.tracking_number, kind=PICKED_UP, occurred_at=at, carrier_code="50")
    tracking_apply(shipment=shipment, events=[event], via="push")


def _set(order, **fields) -> None:
    OrderWatch.objects.filter(order_id=order.pk).update(**fields)


def test_on_time_per_shop_counts_the_first_scan_against_the_deadline(make_order):
    tea, outdoor = ShopFactory(), ShopFactory()
    shop_ship_rule_save(shop_id=tea.pk, ship_within_hours=24, collect_within_hours=None, actor=None)
    now = timezone.now()
    since, until = now - timedelta(days=7), now + timedelta(minutes=1)

    # Tea: one scanned well within its 24 h rule (end to end), one scanned late, one not
    # scanned and past its deadline (late), one not scanned and still within it (undecided).
    on_time = make_order("shipped", shop=tea)
    _first_scan(on_time, timezone.now())
    late = make_order("shipped", shop=tea)
    row = OrderWatch.objects.get(order_id=late.pk)
    _first_scan(late, row.ship_by + timedelta(hours=1))
    overdue = make_order("shipped", shop=tea)
    _set(overdue, ship_by=now - timedelta(hours=1))
    waiting = make_order("shipped", shop=tea)
    # Outdoor: one on time; one shipped before the period (not counted); one not shipped.
    fine = make_order("shipped", shop=outdoor)
    _first_scan(fine, timezone.now())
    old = make_order("shipped", shop=outdoor)
    _first_scan(old, timezone.now())
    _set(old, shipped_at=since - timedelta(hours=1))
    make_order("packed", shop=outdoor)

    result = kpi_on_time_by_shop(since=since, until=until)
    by_shop = {row["shop_id"]: row for row in result["shops"]}
    assert (by_shop[tea.pk]["shipped"], by_shop[tea.pk]["on_time"], by_shop[tea.pk]["awaiting_first_scan"]) == (3, 1, 1)
    assert by_shop[tea.pk]["percent"] == pytest.approx(100 / 3)
    assert (by_shop[outdoor.pk]["shipped"], by_shop[outdoor.pk]["on_time"]) == (1, 1)
    assert by_shop[outdoor.pk]["percent"] == 100.0
    assert (result["shipped"], result["on_time"]) == (4, 2) and result["percent"] == 50.0
    assert [row["shop_id"] for row in result["shops"]] == [tea.pk, outdoor.pk]  # worst first
    assert str(tea.brand.name) in by_shop[tea.pk]["shop"]

    # Narrowed to one brand's shops (the page's brand choice).
    only = kpi_on_time_by_shop(since=since, until=until, shop_ids=[outdoor.pk])
    assert [row["shop_id"] for row in only["shops"]] == [outdoor.pk]

    # The waiting order becomes late once its deadline is behind the window's end.
    _set(waiting, ship_by=now - timedelta(minutes=5))
    again = kpi_on_time_by_shop(since=since, until=until)
    assert {r["shop_id"]: (r["shipped"], r["awaiting_first_scan"]) for r in again["shops"]}[tea.pk] == (4, 0)


def test_an_empty_period_has_no_rate(make_order):
    make_order("shipped")
    since, until, _days = days_window(7, now=timezone.now() - timedelta(days=30))
    assert kpi_on_time_by_shop(since=since, until=until) == {"shops": [], "shipped": 0, "on_time": 0, "percent": None}


def test_the_dashboard_shows_the_rate_per_shop(client, users, make_order):
    shop = ShopFactory()
    order = make_order("shipped", shop=shop)
    _first_scan(order, timezone.now())
    client.force_login(users["ops1"])
    page = client.get(reverse("kpis:dashboard")).content.decode()
    table = page[page.index('id="kpi-on-time-shops"') :]
    table = table[: table.index("</table>")]
    assert shop.name in table and "100.0 %" in table


def test_kpi_report_json_carries_the_on_time_rate(make_order):
    import io
    import json

    from django.core.management import call_command

    shop = ShopFactory()
    order = make_order("shipped", shop=shop)
    _first_scan(order, timezone.now())
    out = io.StringIO()
    call_command("kpi_report", "--json", stdout=out)
    data = json.loads(out.getvalue())["on_time_at_first_scan"]
    assert data["shipped"] == 1 and data["on_time"] == 1 and data["shops"][0]["shop_id"] == shop.pk
