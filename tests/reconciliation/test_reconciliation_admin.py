"""The admin: runs are read only (operations and finance see them), mappings are operations'."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reconciliation.models import ReconciliationRun, SourceMapping


@pytest.fixture
def a_run(db):
    return ReconciliationRun.objects.create(
        source="carrier", file_name="sf.csv", file_sha256="0" * 64, differences={"status_mismatch": 2}
    )


@pytest.mark.parametrize(("user", "status"), [("ops1", 200), ("fin1", 200), ("cs1", 403), ("wh1", 403)])
def test_who_sees_the_runs(client, users, a_run, user, status):
    client.force_login(users[user])
    response = client.get(reverse("admin:reconciliation_reconciliationrun_changelist"))
    assert response.status_code == status
    if status == 200:
        assert "sf.csv" in response.content.decode()
        change = client.get(reverse("admin:reconciliation_reconciliationrun_change", args=[a_run.pk]))
        assert change.status_code == 200 and 'name="_save"' not in change.content.decode()


def test_operations_edit_mappings_with_validation_and_history(client, users):
    client.force_login(users["ops1"])
    mapping = SourceMapping.objects.get(source="wms", is_default=True)
    url = reverse("admin:reconciliation_sourcemapping_change", args=[mapping.pk])
    form = {
        "source": "wms",
        "name": mapping.name,
        "is_default": "on",
        "columns": '{"number": "订单号", "colour": "颜色"}',
        "statuses": '{"已出库": "gone"}',
        "payment_statuses": "{}",
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert "Unknown hub fields: colour" in response.content.decode()
    form.update(columns='{"number": "单号", "status": "出库状态"}', statuses='{"已出库": ["shipped"]}')
    assert client.post(url, form).status_code == 302
    mapping.refresh_from_db()
    assert mapping.columns == {"number": "单号", "status": "出库状态"}
    assert mapping.history.count() >= 1
    client.force_login(users["fin1"])
    assert client.get(url).status_code == 403
