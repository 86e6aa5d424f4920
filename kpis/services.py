"""Writes of the KPI app: the daily snapshot the dashboard's history reads."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from .models import KpiDaily
from .selectors import day_window, kpi_interventions, kpi_latency, kpi_status_accuracy


def kpi_daily_refresh(*, day: date) -> KpiDaily:
    """Compute the three KPIs for one local day and store them (idempotent: one row per day)."""
    since, until = day_window(day)
    accuracy = kpi_status_accuracy(since=since, until=until)
    latency = kpi_latency(since=since, until=until)
    interventions = kpi_interventions(since=since, until=until, days=[day])
    row, _created = KpiDaily.objects.update_or_create(
        day=day,
        defaults={
            "accuracy_percent": accuracy["percent"],
            "status_compared": accuracy["compared"],
            "status_matched": accuracy["matched"],
            "latency_p50_seconds": latency["p50_seconds"],
            "latency_p95_seconds": latency["p95_seconds"],
            "latency_samples": latency["samples"],
            "interventions": interventions["total"],
            "computed_at": timezone.now(),
        },
    )
    return row


def kpi_daily_refresh_recent(*, now: datetime | None = None) -> list[KpiDaily]:
    """Today and yesterday (a late notification or run still changes yesterday's figures)."""
    today = timezone.localdate(now or timezone.now())
    return [kpi_daily_refresh(day=today - timedelta(days=1)), kpi_daily_refresh(day=today)]
