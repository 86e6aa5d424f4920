"""In-app notifications: the bell, the inbox, read and acted times, the latency KPI, privacy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kpis.selectors import cross_role_latency
from notifications.models import ChatRobot, Notification
from notifications.privacy import mask_personal_data
from notifications.services import chat_text, notifications_stamp_acted
from orders.models import OutboxMessage
from orders.outbox.services import outbox_deliver
from orders.services.transition import order_transition


@pytest.fixture
def notified(make_order, users):
    """cs2 owns a paid order that cs1 approves: cs2 gets one notification."""
    order = make_order("paid", cs_owner="cs2")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    outbox_deliver(OutboxMessage.objects.get(event=event, kind="notify").pk)
    return Notification.objects.get(event=event)


@pytest.mark.django_db
def test_bell_shows_the_unread_count_and_polls(client, users, notified):
    client.force_login(users["cs2"])
    assert 'data-unread="1"' in client.get(reverse("notifications:bell")).content.decode()
    page = client.get(reverse("admin:index")).content.decode()
    assert 'hx-get="/notifications/bell/"' in page and 'hx-trigger="every 3s"' in page
    assert "htmx" in page  # the script is served from our own static files
    client.force_login(users["cs1"])
    assert 'data-unread="0"' in client.get(reverse("notifications:bell")).content.decode()


@pytest.mark.django_db
def test_bell_needs_a_login(client):
    assert client.get(reverse("notifications:bell")).status_code == 302


@pytest.mark.django_db
def test_opening_a_notification_marks_it_read_and_shows_the_timeline(client, users, notified):
    client.force_login(users["cs2"])
    inbox = client.get(reverse("notifications:inbox")).content.decode()
    assert notified.order.number in inbox
    response = client.post(reverse("notifications:open", args=[notified.pk]))
    assert response.status_code == 302
    timeline = reverse("orders:timeline", args=[notified.order.number])
    assert response["Location"] == f"{timeline}#event-{notified.event_id}"
    page = client.get(timeline).content.decode()
    assert f'id="event-{notified.event_id}"' in page
    notified.refresh_from_db()
    first_read = notified.read_at
    assert first_read is not None
    client.post(reverse("notifications:open", args=[notified.pk]))
    notified.refresh_from_db()
    assert notified.read_at == first_read
    assert 'data-unread="0"' in client.get(reverse("notifications:bell")).content.decode()


@pytest.mark.django_db
def test_nobody_opens_someone_elses_notification(client, users, notified):
    client.force_login(users["cs1"])
    assert client.post(reverse("notifications:open", args=[notified.pk])).status_code == 404
    notified.refresh_from_db()
    assert notified.read_at is None


@pytest.mark.django_db
def test_acted_at_is_the_recipients_first_action_after_the_event(users, notified):
    order_transition(notified.order_id, "flag_risk", actor=users["ops1"], note="check")  # not the recipient
    assert notifications_stamp_acted() == 0
    order_transition(notified.order_id, "release", actor=users["ops1"])
    order_transition(notified.order_id, "cancel", actor=users["cs2"], note="buyer asked")
    assert notifications_stamp_acted() == 1
    notified.refresh_from_db()
    cancel = notified.order.events.get(action="cancel")
    assert notified.acted_at == cancel.occurred_at
    assert notifications_stamp_acted() == 0


@pytest.mark.django_db
def test_cross_role_latency_per_role_pair(users, notified):
    base = timezone.now() - timedelta(hours=1)
    Notification.objects.filter(pk=notified.pk).update(
        event_at=base, created_at=base + timedelta(seconds=0.4), acted_at=base + timedelta(seconds=30)
    )
    report = cross_role_latency(since=base - timedelta(minutes=1), until=timezone.now())
    assert report == [
        {
            "from_role": "customer_service",
            "to_role": "customer_service",
            "notifications": 1,
            "delivered_p50_s": 0.4,
            "delivered_p95_s": 0.4,
            "acted": 1,
            "acted_p50_s": 30.0,
            "acted_p95_s": 30.0,
        }
    ]


def test_masking_keeps_times_and_numbers_but_not_contacts():
    text = "[2026-01-28 14:22] OH20260128-00001 SF1234567890 call 13812345678 / +86 138 1234 5678, a.b@shop.cn"
    masked = mask_personal_data(text)
    assert "13812345678" not in masked and "1234 5678" not in masked and "a.b@shop.cn" not in masked
    assert "[2026-01-28 14:22] OH20260128-00001 SF1234567890" in masked
    assert "a***@shop.cn" in masked


@pytest.mark.django_db
def test_chat_text_never_carries_buyer_personal_data(make_order, users):
    order = make_order("delivered", buyer_email="wang.fang@example.cn", buyer_phone="13912345678")
    event = order_transition(
        order.pk,
        "request_return",
        actor=users["cs1"],
        note="买家王芳 wang.fang@example.cn 电话 139-1234-5678 反馈破损; 也可拨 13912345678",
    )
    title, body = chat_text(event)
    for secret in ("wang.fang@example.cn", "13912345678", "139-1234-5678", "1234-5678"):
        assert secret not in title and secret not in body
    assert order.number in title


@pytest.mark.django_db
def test_robot_url_and_secret_are_write_only_in_the_admin(client, users):
    robot = ChatRobot.objects.create(
        name="售后群",
        kind="dingtalk",
        webhook_url="https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET1",
        secret="SECsecret2",
    )
    client.force_login(users["ops1"])
    url = reverse("admin:notifications_chatrobot_change", args=[robot.pk])
    page = client.get(url).content.decode()
    assert "TOPSECRET1" not in page and "SECsecret2" not in page
    listing = client.get(reverse("admin:notifications_chatrobot_changelist")).content.decode()
    assert "TOPSECRET1" not in listing and "oapi.dingtalk.com" in listing
    # Saving with the secret fields empty keeps what is stored.
    client.post(url, {"name": "售后群(改)", "kind": "dingtalk", "webhook_url": "", "secret": "", "enabled": "on"})
    robot.refresh_from_db()
    assert robot.name == "售后群(改)"
    assert robot.webhook_url.endswith("TOPSECRET1") and robot.secret == "SECsecret2"
    assert "TOPSECRET1" not in repr(robot) and "TOPSECRET1" not in str(robot)
