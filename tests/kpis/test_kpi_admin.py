from __future__ import annotations

from decimal import Decimal

import pytest

from kpis.models import KpiThresholds

pytestmark = pytest.mark.django_db


def test_operations_edit_the_thresholds_with_history(client, users):
    client.force_login(users["ops1"])
    assert client.get("/admin/kpis/kpithresholds/add/").status_code == 200
    data = {"accuracy_min_percent": "99.50", "latency_p95_max_seconds": "60", "interventions_max_per_day": "2"}
    assert client.post("/admin/kpis/kpithresholds/add/", data).status_code == 302
    data["latency_p95_max_seconds"] = "75"
    assert client.post("/admin/kpis/kpithresholds/1/change/", data).status_code == 302
    row = KpiThresholds.current()
    assert (row.pk, row.accuracy_min_percent, row.latency_p95_max_seconds) == (1, Decimal("99.50"), 75)
    assert row.history.count() == 2
    # One row only: no second "add", no delete.
    assert client.get("/admin/kpis/kpithresholds/add/").status_code == 403
    assert client.get("/admin/kpis/kpithresholds/1/delete/").status_code == 403


def test_the_tech_lead_reads_but_does_not_edit(client, users):
    KpiThresholds.objects.create()
    client.force_login(users["tech1"])
    assert client.get("/admin/kpis/kpithresholds/1/change/").status_code == 200
    assert client.post("/admin/kpis/kpithresholds/1/change/", {}).status_code == 403
    assert client.get("/admin/kpis/manualintervention/").status_code == 200
    client.force_login(users["cs1"])
    assert client.get("/admin/kpis/kpidaily/").status_code == 403


def test_thresholds_out_of_range_are_refused(client, users):
    client.force_login(users["ops1"])
    data = {"accuracy_min_percent": "101", "latency_p95_max_seconds": "0", "interventions_max_per_day": "-1"}
    response = client.post("/admin/kpis/kpithresholds/add/", data)
    assert response.status_code == 200 and not KpiThresholds.objects.exists()
