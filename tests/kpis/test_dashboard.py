"""The KPI dashboard: who may open it, red when failing, charts drawn, constant queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kpis.models import KpiDaily
from kpis.services import kpi_daily_refresh, kpi_daily_refresh_recent
from kpis.tasks import kpi_daily_refresh as kpi_daily_refresh_task
from orders.boards import boards_for_user
from orders.states import Role

pytestmark = pytest.mark.django_db
URL = "/kpis/"


def test_the_url_and_the_board_nav(users):
    assert reverse("kpis:dashboard") == URL
    assert URL in [link["url"] for link in boards_for_user(users["ops1"])]
    assert URL in [link["url"] for link in boards_for_user(users["tech1"])]
    assert URL not in [link["url"] for link in boards_for_user(users["cs1"])]


@pytest.mark.parametrize(
    ("username", "status"), [("ops1", 200), ("tech1", 200), ("admin", 200), ("cs1", 403), ("wh1", 403), ("fin1", 403)]
)
def test_operations_and_the_tech_lead_may_open_it(client, users, username, status):
    client.force_login(users[username])
    assert client.get(URL).status_code == status


def test_anonymous_is_sent_to_log_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_failing_kpi_is_red_and_the_charts_are_drawn(client, users, make_run):
    now = timezone.now()
    make_run("carrier", 1000, 990, finished_at=now - timedelta(seconds=30))
    make_run("wms", 1000, 900, finished_at=now - timedelta(seconds=20))
    kpi_daily_refresh_recent()
    client.force_login(users["ops1"])
    html = client.get(URL).content.decode()
    assert 'id="kpi-accuracy" data-status="fail"' in html
    assert "oh-kpi-card oh-kpi-fail" in html
    assert "94.50 %" in html
    assert 'id="kpi-interventions" data-status="pass"' in html
    assert 'id="kpi-latency" data-status="no_data"' in html
    assert html.count('<svg class="oh-chart"') == 4  # the three KPIs and the touchless rate
    assert 'data-threshold="99.2"' in html and 'data-threshold="90"' in html
    # Today's accuracy point is below the threshold: drawn red.
    chart = html.split('id="chart-accuracy"')[1].split("</svg>")[0]
    assert chart.count("oh-chart-fail") == 1
    assert "<script" not in html.split("<main")[1]


def test_the_pair_table(client, users, make_order, make_notification):
    order = make_order("packed")
    event = order.events.get(action="pack")
    at = timezone.now() - timedelta(hours=1)
    make_notification(event, "cs1", Role.CUSTOMER_SERVICE, event_at=at, acted_after=120)
    client.force_login(users["tech1"])
    html = client.get(URL).content.decode()
    assert 'id="kpi-latency" data-status="fail"' in html
    assert '<tr class="oh-kpi-fail">' in html and "120.0" in html


def _populate(make_order, make_run, make_notification, users, n):
    from orders.services.transition import order_transition

    now = timezone.now()
    for i in range(n):
        make_run("carrier", 100, 99, finished_at=now - timedelta(days=i, minutes=5))
        order = make_order("paid")
        event = order_transition(order.id, "approve", actor=users["admin"])
        make_notification(event, "wh1", Role.WAREHOUSE, event_at=now - timedelta(minutes=10 + i), acted_after=30 + i)
    for i in range(n):
        kpi_daily_refresh(day=timezone.localdate(now) - timedelta(days=i))


def test_constant_queries(client, users, make_order, make_run, make_notification):
    client.force_login(users["ops1"])
    client.get(URL)  # warm the session and the user's permissions cache paths
    _populate(make_order, make_run, make_notification, users, 1)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    _populate(make_order, make_run, make_notification, users, 6)
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many]
    assert KpiDaily.objects.count() == 6


def test_the_daily_snapshot_task_fills_today_and_yesterday(make_run, make_order, users):
    from orders.services.transition import order_transition

    now = timezone.now()
    make_run("wms", 200, 199, finished_at=now - timedelta(seconds=5))
    order = make_order("paid")
    order_transition(order.id, "approve", actor=users["admin"])
    assert kpi_daily_refresh_task() == 2
    assert kpi_daily_refresh_task() == 2  # idempotent: one row per day
    today = KpiDaily.objects.get(day=timezone.localdate(now))
    assert (today.accuracy_percent, today.status_compared, today.interventions) == (99.5, 200, 1)
    yesterday = KpiDaily.objects.get(day=timezone.localdate(now) - timedelta(days=1))
    assert (yesterday.accuracy_percent, yesterday.interventions) == (None, 0)


def test_beat_runs_the_snapshot_hourly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["kpi-daily-refresh"]
    assert entry == {"task": "kpis.tasks.kpi_daily_refresh", "schedule": 3600.0}
