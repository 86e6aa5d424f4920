"""The outbox end to end: PostgreSQL, the real Redis broker and a real Celery worker."""

from __future__ import annotations

import pytest
from django.utils import timezone

from finance.models import InvoiceRequest
from notifications.models import Notification
from orders.models import OrderEvent, OutboxMessage, OutboxStatus
from orders.outbox.kinds import ReactionKind, ReactionRetryLater, no_params, reaction_kind, reaction_kind_register
from orders.outbox.services import outbox_redispatch_due
from orders.services.transition import order_transition
from rules.models import RuleAction
from tests.conftest import wait_for
from tests.factories import reaction_rule

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RUNS: list[int] = []


def _counted(message):
    RUNS.append(message.pk)
    return "ran"


def _busy(message):
    RUNS.append(message.pk)
    raise ReactionRetryLater("busy")


@pytest.fixture
def counting_kinds():
    reaction_kind("notify")
    reaction_kind_register(ReactionKind("test_counted", "counted", _counted, no_params))
    reaction_kind_register(ReactionKind("test_busy", "busy", _busy, no_params, integration=True))
    RUNS.clear()
    yield
    RUNS.clear()


def status_of(message_id):
    return OutboxMessage.objects.get(pk=message_id).status


def test_approved_order_notifies_its_owner(live_worker, make_order, users):
    order = make_order("paid", cs_owner="cs2")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    notification = wait_for(
        lambda: Notification.objects.filter(event=event, recipient=users["cs2"]).first(), what="cs2's notification"
    )
    assert order.number in notification.text
    assert (notification.created_at - event.occurred_at).total_seconds() < 10
    assert OutboxMessage.objects.get(event=event).status == OutboxStatus.DONE


def test_packed_order_triggers_all_three_reactions(live_worker, make_order, users):
    order = make_order("allocated", cs_owner="cs2")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    messages = {m.kind: m.pk for m in OutboxMessage.objects.filter(event=event)}
    assert set(messages) == {"notify", "carrier_book_pickup", "invoice_list_add"}
    wait_for(
        lambda: not OutboxMessage.objects.filter(pk__in=messages.values(), status=OutboxStatus.PENDING).exists(),
        what="the three reactions to finish",
    )
    assert status_of(messages["notify"]) == OutboxStatus.DONE
    assert Notification.objects.filter(event=event, recipient=users["cs2"]).exists()
    # On finance's to-invoice list, once.
    assert status_of(messages["invoice_list_add"]) == OutboxStatus.DONE
    assert InvoiceRequest.objects.filter(order=order, status="pending").count() == 1
    # No carrier account is configured: a clear failure, never a silent no-op.
    assert status_of(messages["carrier_book_pickup"]) == OutboxStatus.FAILED
    assert "configured" in OutboxMessage.objects.get(pk=messages["carrier_book_pickup"]).last_error
    wait_for(
        lambda: Notification.objects.filter(recipient=users["tech1"], order=order).count() == 1,
        what="the tech lead's alert",
    )
    assert OrderEvent.objects.filter(order=order, action="reaction_failed").count() == 1


def test_the_same_row_dispatched_twice_has_one_effect(live_worker, make_order, users, counting_kinds):
    from orders.outbox.services import outbox_wake

    reaction_rule(name="count", trigger="approve", reaction="test_counted")
    first, sentinel = make_order("paid"), make_order("paid")
    event = order_transition(first.pk, "approve", actor=users["cs1"])
    counted = OutboxMessage.objects.get(event=event, kind="test_counted")
    wait_for(lambda: status_of(counted.pk) == OutboxStatus.DONE, what="the counted reaction")
    # Three more wake-ups of its lane, then one more row: the worker takes tasks in order,
    # so once the last row is done every extra wake-up has been consumed.
    assert outbox_wake({"hub": 3}) == 3
    last = OutboxMessage.objects.get(
        event=order_transition(sentinel.pk, "approve", actor=users["cs1"]), kind="test_counted"
    )
    wait_for(lambda: status_of(last.pk) == OutboxStatus.DONE, what="the sentinel reaction")
    assert RUNS.count(counted.pk) == 1
    assert RUNS.count(last.pk) == 1


def test_unreachable_broker_at_commit_is_recovered_by_the_sweep(live_worker, make_order, users, monkeypatch, settings):
    from kombu.exceptions import OperationalError

    from orders import tasks

    order = make_order("paid", cs_owner="cs2")
    real_apply_async = tasks.outbox_drain_task.apply_async

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", broker_down)
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    message = OutboxMessage.objects.get(event=event)
    assert message.status == OutboxStatus.PENDING
    assert not Notification.objects.filter(event=event).exists()
    # The broker is back; the beat sweep finds the row once its grace period has passed.
    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", real_apply_async)
    settings.ORDERHUB_OUTBOX_GRACE_SECONDS = 0
    assert outbox_redispatch_due() == 1
    wait_for(
        lambda: Notification.objects.filter(event=event, recipient=users["cs2"]).exists(), what="late notification"
    )


def test_a_reaction_that_keeps_failing_ends_failed_with_an_alert(live_worker, make_order, users, counting_kinds):
    reaction_rule(name="busy", trigger="approve", reaction="test_busy")
    order = make_order("paid")
    started = timezone.now()
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    busy = OutboxMessage.objects.get(event=event, kind="test_busy")
    # Retried by the worker itself (countdown), with back-off, up to the limit (3 in tests).
    wait_for(lambda: status_of(busy.pk) == OutboxStatus.FAILED, what="the busy reaction to give up")
    busy.refresh_from_db()
    assert busy.attempts == 3 and RUNS.count(busy.pk) == 3
    assert busy.done_at > started
    failure = OrderEvent.objects.get(order=order, action="reaction_failed")
    assert failure.data["outbox_message"] == busy.pk and failure.data["integration"] is True
    wait_for(lambda: Notification.objects.filter(event=failure, recipient=users["tech1"]).exists(), what="alert")


def test_chat_robots_get_the_message_and_rate_limits_are_retried(live_worker, make_order, users):
    from notifications.models import ChatDelivery, ChatRobot
    from tests.fakes.chat import FakeDingTalk, FakeWeCom

    with FakeWeCom(key="wk") as wecom, FakeDingTalk(token="dt", secret="SECdt") as dingtalk:
        dingtalk.answers.append("rate_limit")  # DingTalk throttles the first message
        action = RuleAction.objects.get(rule__trigger="approve", kind="notify")
        action.robots.add(
            ChatRobot.objects.create(name="客服群", kind="wecom", webhook_url=wecom.url),
            ChatRobot.objects.create(name="运营群", kind="dingtalk", webhook_url=dingtalk.url, secret="SECdt"),
        )
        order = make_order("paid", cs_owner="cs2", buyer_email="li.lei@example.cn", buyer_phone="13712345678")
        event = order_transition(order.pk, "approve", actor=users["cs1"], note="买家电话 13712345678 已确认")
        wait_for(lambda: ChatDelivery.objects.filter(outbox_message__event=event).count() == 2, what="both robots")
    (wecom_request,) = wecom.requests
    assert len(dingtalk.requests) == 2  # throttled once, then delivered
    content = wecom_request.json["markdown"]["content"]
    assert content.startswith(f"**{order.number} · approved**\n")
    for received in (wecom_request, *dingtalk.requests):
        body = received.body.decode()
        assert "13712345678" not in body and "li.lei@example.cn" not in body
    chat_rows = OutboxMessage.objects.filter(event=event, kind="chat_send")
    assert sorted(chat_rows.values_list("status", "attempts")) == [("done", 1), ("done", 2)]
