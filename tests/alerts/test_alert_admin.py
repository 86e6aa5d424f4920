"""The alerts' admin: a read-only record; acknowledge and resolve through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.alerting import alert_raise
from alerts.models import Alert, AlertKind

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:alerts_alert_changelist"


@pytest.fixture
def alert(make_order):
    order = make_order("delivered")
    return alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=order.pk, title="refund asked twice")


def test_the_list_filters_and_the_page_is_read_only(admin_client, alert):
    page = admin_client.get(reverse(CHANGELIST), {"status__exact": "open"}).content.decode()
    assert "refund asked twice" in page and alert.order.number in page
    detail = admin_client.get(reverse("admin:alerts_alert_change", args=[alert.pk])).content.decode()
    assert 'name="_save"' not in detail


def test_acknowledge_and_resolve_actions_use_the_services(client, users, alert):
    client.force_login(users["ops1"])
    url = reverse(CHANGELIST)
    client.post(url, {"action": "acknowledge_selected", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", users["ops1"])
    asked = client.post(url, {"action": "resolve_selected", "_selected_action": [alert.pk]})
    assert 'name="note"' in asked.content.decode()
    assert Alert.objects.get().status == "acknowledged"
    client.post(url, {"action": "resolve_selected", "_selected_action": [alert.pk], "confirm": "1", "note": ""})
    assert Alert.objects.get().status == "acknowledged"
    client.post(
        url, {"action": "resolve_selected", "_selected_action": [alert.pk], "confirm": "1", "note": "paid once"}
    )
    alert.refresh_from_db()
    assert (alert.status, alert.resolution, alert.resolved_by) == ("resolved", "paid once", users["ops1"])


def test_roles_without_the_change_permission_get_no_actions(client, users, alert):
    client.force_login(users["cs1"])
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert "acknowledge_selected" not in page.content.decode()
