"""Escalation: once, to the kind's robots, with no buyer personal data; not when acknowledged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.alerting import alert_acknowledge, alert_raise
from alerts.escalation import alert_escalation_text, alerts_escalate_due
from alerts.models import Alert, AlertKind, AlertKindSettings
from notifications.models import ChatRobot
from notifications.privacy import mask_personal_data
from tests.fakes.chat import fake_dingtalk, fake_wecom  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

EMAIL, PHONE, NAME = "li.lei@example.com", "13912345678", "李雷"


@pytest.fixture
def order(make_order):
    return make_order("paid", buyer_email=EMAIL, buyer_phone=PHONE, recipient_name=NAME, recipient_phone=PHONE)


@pytest.fixture
def robots(fake_wecom, fake_dingtalk):  # noqa: F811
    wecom = ChatRobot.objects.create(name="运营主管群", kind="wecom", webhook_url=fake_wecom.url)
    ding = ChatRobot.objects.create(
        name="运营钉钉", kind="dingtalk", webhook_url=fake_dingtalk.url, secret=fake_dingtalk.secret
    )
    settings_row, _ = AlertKindSettings.objects.update_or_create(
        kind=AlertKind.DUPLICATE_REFUND, defaults={"escalation_minutes": 15, "enabled": True}
    )
    settings_row.robots.set([wecom, ding])
    return fake_wecom, fake_dingtalk


def raise_alert(order, *, title=None):
    return alert_raise(
        kind=AlertKind.DUPLICATE_REFUND,
        order_id=order.pk,
        # A careless raiser puts personal data in the title: the message must still be clean.
        title=title or f"{order.number} refund asked again by {EMAIL} / {PHONE} / {NAME}",
    )


def test_an_unacknowledged_alert_escalates_once_to_each_robot_without_personal_data(order, robots):
    wecom, ding = robots
    alert = raise_alert(order)
    assert alert.escalate_at == alert.opened_at + timedelta(minutes=15)
    assert alerts_escalate_due(now=alert.opened_at + timedelta(minutes=14)) == 0
    assert not wecom.requests and not ding.requests

    later = alert.opened_at + timedelta(minutes=16)
    assert alerts_escalate_due(now=later) == 1
    assert alerts_escalate_due(now=later + timedelta(minutes=5)) == 0  # exactly once
    assert len(wecom.requests) == 1 and len(ding.requests) == 1  # DingTalk's signature checked by the fake
    alert.refresh_from_db()
    assert alert.escalated_at == later
    for received in (wecom.requests[0], ding.requests[0]):
        body = received.body.decode("utf-8")
        text = str(received.json)
        assert order.number in text and f"/orders/{order.number}/" in text
        assert "Duplicate refund attempt" in text or "重复退款" in text or "duplicate" in text.lower()
        for secret in (EMAIL, PHONE, NAME, order.ship_address):
            assert secret not in body and secret not in text


def test_an_acknowledged_alert_is_not_escalated(order, robots, users):
    wecom, ding = robots
    alert = raise_alert(order, title="refund asked again")
    alert_acknowledge(alert_id=alert.pk, actor=users["ops1"], expected_version=alert.version)
    assert alerts_escalate_due(now=alert.opened_at + timedelta(hours=2)) == 0
    assert not wecom.requests and not ding.requests
    assert Alert.objects.get().escalated_at is None


def test_a_robot_that_asks_to_retry_later_gets_it_on_the_next_run(order, robots):
    wecom, ding = robots
    wecom.answers.append("rate_limit")
    ding.answers.append("server_error")
    alert = raise_alert(order, title="refund asked again")
    later = alert.opened_at + timedelta(minutes=20)
    assert alerts_escalate_due(now=later) == 0
    assert Alert.objects.get().escalated_at is None
    assert alerts_escalate_due(now=later + timedelta(minutes=1)) == 1
    assert len(wecom.requests) == 2 and len(ding.requests) == 2


def test_a_kind_without_robots_is_marked_escalated_and_sends_nothing(order, fake_wecom):  # noqa: F811
    ChatRobot.objects.create(name="客服群", kind="wecom", webhook_url=fake_wecom.url)
    AlertKindSettings.objects.filter(kind=AlertKind.INTEGRATION_FAILURE).delete()
    alert = alert_raise(kind=AlertKind.INTEGRATION_FAILURE, order_id=order.pk, title="upload failed")
    assert alerts_escalate_due(now=timezone.now() + timedelta(hours=1)) == 1
    assert not fake_wecom.requests
    assert Alert.objects.get(pk=alert.pk).escalated_at is not None


def test_the_message_text_masks_personal_data_whatever_the_title_says(order):
    alert = raise_alert(order, title=f"call {PHONE} or 138-0013-8000, mail {EMAIL} or x.y@shop.cn, {NAME}")
    title, text = alert_escalation_text(alert, now=timezone.now())
    for secret in (PHONE, "138-0013-8000", EMAIL, "x.y@shop.cn", NAME):
        assert secret not in text and secret not in title
    assert order.number in title and mask_personal_data(text) == text


def test_an_integration_failure_escalates_like_any_kind(order, robots):
    wecom, _ding = robots
    AlertKindSettings.objects.get(kind=AlertKind.DUPLICATE_REFUND).robots.clear()
    row, _ = AlertKindSettings.objects.update_or_create(
        kind=AlertKind.INTEGRATION_FAILURE, defaults={"escalation_minutes": 5, "enabled": True}
    )
    row.robots.set(ChatRobot.objects.filter(kind="wecom"))
    alert = alert_raise(kind=AlertKind.INTEGRATION_FAILURE, order_id=order.pk, title="carrier_upload_waybill:sf")
    assert alerts_escalate_due(now=alert.opened_at + timedelta(minutes=6)) == 1
    (received,) = wecom.requests
    assert order.number in str(received.json) and "carrier_upload_waybill:sf" in str(received.json)
    assert EMAIL not in received.body.decode() and PHONE not in received.body.decode()


def test_the_celery_task_runs_the_escalation(order, robots):
    from alerts.tasks import alerts_escalate_due as task

    wecom, _ding = robots
    alert = raise_alert(order, title="refund asked again")
    Alert.objects.filter(pk=alert.pk).update(escalate_at=timezone.now() - timedelta(minutes=1))
    assert task.apply().get() == 1
    assert len(wecom.requests) == 1
