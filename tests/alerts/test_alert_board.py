"""The alert board: content, filters, permissions, one-tap acknowledge / resolve, constant
queries, live refresh; the open counts on the operations board."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.alerting import alert_acknowledge, alert_raise
from alerts.models import Alert, AlertKind

pytestmark = pytest.mark.django_db

BOARD = "/boards/alerts/"


@pytest.fixture
def alerts(make_order):
    paid = make_order("paid")
    refunded = make_order("delivered")
    upload = alert_raise(kind=AlertKind.INTEGRATION_FAILURE, order_id=paid.pk, title="waybill upload failed")
    dup = alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=refunded.pk, title="refund asked twice")
    wide = alert_raise(kind=AlertKind.INTEGRATION_FAILURE, integration="channel:shopify", title="Shopify down")
    # Whatever the kinds' settings say: one critical, the others warnings.
    Alert.objects.update(severity="warning", assigned_role="operations")
    Alert.objects.filter(pk=dup.pk).update(severity="critical")
    return {"upload": upload, "dup": dup, "wide": wide, "paid": paid, "refunded": refunded}


def test_the_board_lists_active_alerts_open_first_with_links_to_timelines(client, users, alerts):
    alert_acknowledge(alert_id=alerts["upload"].pk, actor=users["ops1"], expected_version=1)
    client.force_login(users["ops1"])
    page = client.get(BOARD).content.decode()
    for alert in alerts.values():
        if isinstance(alert, Alert):
            assert f'id="alert-{alert.pk}"' in page
    assert page.index(f'id="alert-{alerts["dup"].pk}"') < page.index(f'id="alert-{alerts["upload"].pk}"')
    assert reverse("orders:timeline", args=[alerts["paid"].number]) in page
    assert "channel:shopify" in page and "oh-badge-critical" in page
    assert f'hx-get="{BOARD}rows/?since=' in page  # live refresh
    assert 'data-action="acknowledge"' in page and 'data-action="resolve"' in page
    assert f'href="{BOARD}"' in page  # in the nav


def test_filters(client, users, alerts):
    client.force_login(users["ops1"])
    page = client.get(BOARD, {"kind": "duplicate_refund"}).content.decode()
    assert f'id="alert-{alerts["dup"].pk}"' in page and f'id="alert-{alerts["upload"].pk}"' not in page
    page = client.get(BOARD, {"severity": "critical"}).content.decode()
    assert f'id="alert-{alerts["dup"].pk}"' in page and f'id="alert-{alerts["wide"].pk}"' not in page
    alert_acknowledge(alert_id=alerts["wide"].pk, actor=users["ops1"], expected_version=1)
    page = client.get(BOARD, {"status": "acknowledged"}).content.decode()
    assert f'id="alert-{alerts["wide"].pk}"' in page and f'id="alert-{alerts["dup"].pk}"' not in page
    page = client.get(BOARD, {"assigned_role": "finance"}).content.decode()
    assert "No active alerts" in page


def test_everyone_sees_only_operations_and_tech_lead_act(client, users, alerts):
    client.force_login(users["cs1"])
    page = client.get(BOARD).content.decode()
    assert f'id="alert-{alerts["dup"].pk}"' in page and 'data-action="acknowledge"' not in page
    response = client.post(
        reverse("alert_board:acknowledge", args=[alerts["dup"].pk]), {"expected_version": 1}, follow=True
    )
    assert "may not" in response.content.decode()
    assert Alert.objects.get(pk=alerts["dup"].pk).status == "open"
    assert client.get(BOARD + "rows/").status_code == 200
    client.logout()
    assert client.get(BOARD).status_code == 302


def test_acknowledge_and_resolve_from_the_phone_and_a_stale_tap(client, users, alerts):
    client.force_login(users["ops1"])
    dup = alerts["dup"]
    client.post(reverse("alert_board:acknowledge", args=[dup.pk]), {"expected_version": 1, "next": BOARD})
    assert Alert.objects.get(pk=dup.pk).status == "acknowledged"
    # A second phone still showing version 1 taps Acknowledge: refused, with who did it.
    response = client.post(reverse("alert_board:acknowledge", args=[dup.pk]), {"expected_version": 1}, follow=True)
    assert "your version 1, now 2" in response.content.decode()
    response = client.post(
        reverse("alert_board:resolve", args=[dup.pk]), {"expected_version": 2, "note": ""}, follow=True
    )
    assert "a note is required" in response.content.decode()
    client.post(reverse("alert_board:resolve", args=[dup.pk]), {"expected_version": 2, "note": "paid once"})
    alert = Alert.objects.get(pk=dup.pk)
    assert (alert.status, alert.resolution, alert.resolved_by) == ("resolved", "paid once", users["ops1"])
    assert f'id="alert-{dup.pk}"' not in client.get(BOARD).content.decode()


def test_live_refresh_answers_204_while_nothing_changed(client, users, alerts):
    client.force_login(users["ops1"])
    page = client.get(BOARD)
    token = page.context["token"]
    assert client.get(BOARD + "rows/", {"since": token}).status_code == 204
    alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=alerts["refunded"].pk, title="asked a third time")
    fresh = client.get(BOARD + "rows/", {"since": token})
    assert fresh.status_code == 200 and "asked a third time" in fresh.content.decode()


def test_the_board_runs_a_constant_number_of_queries(client, users, make_order, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(users["ops1"])

    def add(n):
        for _ in range(n):
            order = make_order("paid")
            alert = alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=order.pk, title="twice")
            if order.pk % 2:
                alert_acknowledge(alert_id=alert.pk, actor=users["ops1"], expected_version=1)

    add(3)
    client.get(BOARD)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        client.get(BOARD)
    add(27)
    with CaptureQueriesContext(connection) as many:
        page = client.get(BOARD)
    assert page.content.decode().count('class="oh-card oh-alert') == 30
    assert len(many) == len(few)


def test_the_operations_board_shows_open_counts_from_one_query(client, users, alerts):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(users["ops1"])
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("orders:board_ops")).content.decode()
    assert 'data-open="3"' in page
    assert 'data-kind="integration_failure"' in page and 'data-severity="critical"' in page
    assert sum('"alerts_alert"' in q["sql"] for q in queries.captured_queries) == 1
