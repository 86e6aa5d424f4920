"""The KPI figures on constructed data with known answers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kpis.models import KpiThresholds, ManualIntervention
from kpis.selectors import (
    FAIL,
    NO_DATA,
    PASS,
    days_window,
    kpi_interventions,
    kpi_latency,
    kpi_status_accuracy,
    kpi_summary,
)
from orders.states import Role

pytestmark = pytest.mark.django_db


def test_accuracy_is_the_latest_finished_run_per_physical_source(make_run, now):
    since, until = now - timedelta(days=7), now
    # Superseded, failed, unfinished, outside the window, not physical: none of them counts.
    make_run("carrier", 1000, 500, finished_at=now - timedelta(days=2))
    make_run("carrier", 1000, 990, finished_at=now - timedelta(days=1))
    make_run("wms", 1000, 995, finished_at=now - timedelta(hours=3))
    make_run("wms", 1000, 10, finished_at=now - timedelta(hours=1), error="bad file")
    make_run("wms", 1000, 10, finished_at=now + timedelta(hours=1))
    make_run("platform", 1000, 1, finished_at=now - timedelta(hours=1))
    make_run("finance", 1000, 1, finished_at=now - timedelta(hours=1))
    result = kpi_status_accuracy(since=since, until=until)
    assert (result["compared"], result["matched"]) == (2000, 1985)
    assert result["percent"] == pytest.approx(99.25)
    assert {r["source"] for r in result["runs"]} == {"carrier", "wms"}


def test_accuracy_without_a_physical_run_has_no_figure(make_run, now):
    make_run("platform", 10, 10, finished_at=now - timedelta(hours=1))
    assert kpi_status_accuracy(since=now - timedelta(days=1), until=now)["percent"] is None


def test_latency_p50_and_p95_over_cross_role_notifications(make_order, make_notification, users, now):
    order = make_order("packed")
    event = order.events.get(action="pack")  # by wh1, the warehouse
    assert event.actor_role == Role.WAREHOUSE
    t0 = now - timedelta(hours=1)
    # 20 acted notifications to customer service: 1 s, 2 s, ... 20 s.
    for i in range(1, 21):
        make_notification(event, "cs1", Role.CUSTOMER_SERVICE, event_at=t0 + timedelta(minutes=i), acted_after=i)
    # Not acted yet, same role, out of the window: none counts.
    make_notification(event, "cs2", Role.CUSTOMER_SERVICE, event_at=t0, acted_after=None)
    make_notification(event, "wh1", Role.WAREHOUSE, event_at=t0, acted_after=5000)
    make_notification(event, "cs1", Role.CUSTOMER_SERVICE, event_at=now - timedelta(days=3), acted_after=9000)

    result = kpi_latency(since=now - timedelta(days=1), until=now)
    assert result["samples"] == 20
    assert result["p50_seconds"] == 10.0  # nearest rank: the 10th of 20
    assert result["p95_seconds"] == 19.0  # the 19th of 20
    [pair] = result["pairs"]
    assert (pair["from_role"], pair["to_role"], pair["acted"], pair["acted_p95_s"]) == (
        Role.WAREHOUSE,
        Role.CUSTOMER_SERVICE,
        20,
        19.0,
    )
    assert pair["notifications"] == 21


def _tag(make_order, users, *, when):
    from orders.services.transition import order_transition

    order = make_order("paid")
    event = order_transition(order.id, "approve", actor=users["admin"])
    ManualIntervention.objects.filter(event=event).update(occurred_at=when)


def test_interventions_per_local_day_with_average_and_worst_day(make_order, users, now):
    since, until, days = days_window(3, now=now)
    assert days == [date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)]
    # 00:30 local on the 9th is the 8th in UTC: counted on the local day.
    for when in [now.replace(hour=0, minute=30) - timedelta(days=1)] * 4 + [now - timedelta(hours=1)] * 2:
        _tag(make_order, users, when=when)
    _tag(make_order, users, when=since - timedelta(minutes=1))  # the day before the window
    result = kpi_interventions(since=since, until=until, days=days)
    assert [c["n"] for c in result["per_day"]] == [0, 4, 2]
    assert (result["total"], result["max_per_day"]) == (6, 4)
    assert result["average_per_day"] == pytest.approx(2.0)
    assert result["by_kind"] == {"forced_status": 6}


def test_summary_passes_and_fails_against_the_thresholds(make_run, make_order, users, now):
    make_run("carrier", 1000, 990, finished_at=now - timedelta(hours=5))
    make_run("wms", 1000, 995, finished_at=now - timedelta(hours=4))
    summary = kpi_summary(7, now=now)
    v = summary["verdicts"]
    assert (v["accuracy"].status, v["latency"].status, v["interventions"].status) == (PASS, NO_DATA, PASS)
    assert v["interventions"].value == 0
    assert summary["all_pass"] is False  # no latency figure yet: not a pass

    # A worse WMS run later the same day; operations tighten the intervention threshold.
    make_run("wms", 1000, 980, finished_at=now - timedelta(hours=1))
    KpiThresholds.objects.create(interventions_max_per_day=0)
    _tag(make_order, users, when=now - timedelta(hours=2))
    v = kpi_summary(7, now=now)["verdicts"]
    assert v["accuracy"].value == pytest.approx(98.5)
    assert (v["accuracy"].status, v["interventions"].status) == (FAIL, FAIL)
    assert v["interventions"].value == pytest.approx(1 / 7, abs=1e-4)
    assert KpiThresholds.current().history.count() == 1
