"""The packed notification tells customer service when the parcel leaves, in the hub's
language, in-app and to chat groups (without buyer data); other events carry no promise."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from notifications.models import Notification
from notifications.services import chat_text
from orders.models import OutboxMessage, Warehouse
from orders.outbox.services import outbox_deliver
from orders.services.transition import order_transition

from .conftest import clock

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEDNESDAY_1559 = dt.datetime(2026, 1, 28, 15, 59, tzinfo=SHANGHAI)
FRIDAY_1601 = dt.datetime(2026, 1, 30, 16, 1, tzinfo=SHANGHAI)


def _pack_and_notify(make_order, users, at, **order_fields):
    order = make_order("allocated", cs_owner="cs2", **order_fields)
    with clock(at):
        event = order_transition(order.pk, "pack", actor=users["wh1"])
    outbox_deliver(OutboxMessage.objects.get(event=event, kind="notify").pk)
    return event, Notification.objects.get(event=event, recipient=users["cs2"])


def test_the_packed_notification_carries_the_promise_in_english(make_order, users, settings):
    settings.LANGUAGE_CODE = "en"
    event, notification = _pack_and_notify(make_order, users, WEDNESDAY_1559)
    assert notification.text == (
        f"{event.order.number} [2026-01-28 15:59] 王强 (Warehouse) packed · packed 15:59, leaves before 18:00 today"
    )


def test_the_packed_notification_carries_the_promise_in_chinese(make_order, users, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    event, notification = _pack_and_notify(make_order, users, FRIDAY_1601)
    assert notification.text.endswith(" · 16:01 已打包，周一 18:00 前发出")
    assert notification.text.startswith(f"{event.order.number} [2026-01-30 16:01] 王强")


def test_the_warehouses_own_schedule_counts(make_order, users, settings, warehouses):
    settings.LANGUAGE_CODE = "en"
    Warehouse.objects.filter(pk__in=[w.pk for w in warehouses]).update(working_days="123456")
    _event, notification = _pack_and_notify(make_order, users, FRIDAY_1601)
    assert notification.text.endswith("· packed 16:01, leaves before 18:00 tomorrow")


def test_the_chat_message_carries_the_promise_and_no_buyer_data(make_order, users, settings):
    settings.LANGUAGE_CODE = "en"
    event, _notification = _pack_and_notify(
        make_order, users, WEDNESDAY_1559, buyer_email="li.na@example.com", buyer_phone="13812345678"
    )
    title, body = chat_text(event)
    assert "packed 15:59, leaves before 18:00 today" in body
    text = title + body
    assert "li.na@example.com" not in text and "13812345678" not in text


def test_other_events_carry_no_promise(make_order, users, settings):
    settings.LANGUAGE_CODE = "en"
    order = make_order("paid", cs_owner="cs2")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    outbox_deliver(OutboxMessage.objects.get(event=event, kind="notify").pk)
    assert "leaves before" not in Notification.objects.get(event=event).text


def test_the_cs_owner_reads_the_promise_on_the_orders_timeline(client, make_order, users, settings):
    settings.LANGUAGE_CODE = "en"
    event, _notification = _pack_and_notify(make_order, users, WEDNESDAY_1559)
    client.force_login(users["cs2"])
    page = client.get(reverse("orders:timeline", args=[event.order.number])).content.decode()
    assert "packed 15:59, leaves before 18:00 today" in page
