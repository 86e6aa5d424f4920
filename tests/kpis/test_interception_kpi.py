"""The KPI page's interceptions (截单): how many stopped the parcel, and how long the result took."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kpis.selectors import kpi_interception
from orders.models import Interception
from orders.services.interception import order_intercept_request
from orders.services.transition import order_transition

pytestmark = pytest.mark.django_db


def test_success_rate_and_time_to_result(make_order, users, client):
    orders = [make_order("packed") for _ in range(4)]
    for order in orders:
        order_intercept_request(order.pk, actor=users["cs1"], reason="买家取消")
    # Asked 10, 20 and 30 minutes before their results; the fourth still waits.
    now = timezone.now()
    for minutes, order, action in (
        (10, orders[0], "confirm_intercept"),
        (20, orders[1], "confirm_intercept"),
        (30, orders[2], "fail_intercept"),
    ):
        order_transition(order.pk, action, actor=users["wh1"], note="结果")
        Interception.objects.filter(order=order).update(requested_at=now - timedelta(minutes=minutes), resolved_at=now)
    figures = kpi_interception(since=now - timedelta(days=1), until=now + timedelta(minutes=1))
    assert (figures["ended"], figures["intercepted"], figures["failed"], figures["open"]) == (3, 2, 1, 1)
    assert round(figures["percent"], 1) == 66.7
    assert (figures["p50_seconds"], figures["p95_seconds"]) == (1200.0, 1800.0)

    client.force_login(users["ops1"])
    page = client.get(reverse("kpis:dashboard")).content.decode()
    assert 'id="kpi-interception"' in page and "66.7 %" in page and "2 of 3 parcels stopped" in page


def test_nothing_ended_says_so(client, users):
    assert kpi_interception(since=timezone.now() - timedelta(days=7), until=timezone.now())["percent"] is None
    client.force_login(users["ops1"])
    assert "No interception ended in this window." in client.get(reverse("kpis:dashboard")).content.decode()
