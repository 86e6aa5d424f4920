from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from kpis.models import KpiThresholds

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("kpi_report", *args, stdout=out)
    return out.getvalue()


def test_table_shows_value_threshold_and_result(make_run):
    now = timezone.now()
    make_run("carrier", 1000, 990, finished_at=now - timedelta(hours=2))
    make_run("wms", 1000, 995, finished_at=now - timedelta(hours=1))
    out = _run()
    accuracy = next(line for line in out.splitlines() if line.startswith("Status accuracy"))
    assert "99.25 %" in accuracy and "≥ 99.20 %" in accuracy and accuracy.endswith("PASS")
    latency = next(line for line in out.splitlines() if line.startswith("Cross-role latency"))
    assert "≤ 90.0 s" in latency and latency.endswith("NO DATA")
    interventions = next(line for line in out.splitlines() if line.startswith("Manual interventions"))
    assert interventions.endswith("PASS")


def test_json_and_a_failing_figure_still_exit_zero(make_run):
    now = timezone.now()
    make_run("carrier", 100, 90, finished_at=now - timedelta(days=2))
    KpiThresholds.objects.create(latency_p95_max_seconds=60)
    data = json.loads(_run("--days", "3", "--json"))
    assert data["days"] == 3
    assert data["status_accuracy"]["value"] == pytest.approx(90.0)
    assert data["status_accuracy"]["status"] == "fail"
    assert data["status_accuracy"]["runs"][0]["source"] == "carrier"
    assert data["cross_role_latency"]["threshold"] == 60
    assert data["manual_interventions"]["per_day"][-1] == {"day": timezone.localdate().isoformat(), "n": 0}
    assert data["all_pass"] is False
    # Outside the window: no figure.
    assert json.loads(_run("--days", "1", "--json"))["status_accuracy"]["status"] == "no_data"
