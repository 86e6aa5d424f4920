"""The outbox without a worker: rows written with their event, delivered once, retried with
back-off, failed loudly. (tests/test_outbox_worker.py runs the same against a real worker.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from orders.models import OrderEvent, OutboxMessage, OutboxStatus
from orders.outbox.kinds import ReactionKind, ReactionRetryLater, no_params, reaction_kind, reaction_kind_register
from orders.outbox.services import outbox_deliver, outbox_redispatch_due
from orders.services.transition import order_transition
from rules.models import RuleAction
from tests.factories import reaction_rule

CALLS: list[int] = []


def _always_busy(message):
    CALLS.append(message.pk)
    raise ReactionRetryLater("carrier says: try again later")


def _count_calls(message):
    CALLS.append(message.pk)
    return "counted"


@pytest.fixture
def test_kinds():
    reaction_kind("notify")  # the built-in kinds first
    reaction_kind_register(ReactionKind("test_busy", "always busy", _always_busy, no_params, integration=True))
    reaction_kind_register(ReactionKind("test_count", "count calls", _count_calls, no_params))
    CALLS.clear()
    yield
    CALLS.clear()


def make_due(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db
def test_transition_writes_one_row_per_enabled_rule_and_dispatches_on_commit(
    make_order, users, django_capture_on_commit_callbacks, monkeypatch
):
    from orders import tasks

    sent = []
    monkeypatch.setattr(tasks.outbox_process, "apply_async", lambda args, **kw: sent.append(args[0]))
    order = make_order("allocated", cs_owner="cs2")
    reaction_rule(name="disabled", trigger="pack", cs_owner=True, enabled=False)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = order_transition(order.pk, "pack", actor=users["wh1"])
    rows = list(OutboxMessage.objects.filter(event=event).order_by("kind"))
    # The seed's three reactions to "packed", not the disabled rule.
    assert [m.kind for m in rows] == ["carrier_book_pickup", "invoice_list_add", "notify"]
    assert all(m.status == OutboxStatus.PENDING for m in rows)
    assert len({m.idempotency_key for m in rows}) == 3
    assert len(callbacks) == 1
    assert sorted(sent) == sorted(m.pk for m in rows)


@pytest.mark.django_db
def test_refused_transition_writes_no_outbox_row(make_order, users):
    from orders.exceptions import IllegalTransition

    order = make_order("paid")
    before = OutboxMessage.objects.count()
    with pytest.raises(IllegalTransition):
        order_transition(order.pk, "pack", actor=users["wh1"])
    assert OutboxMessage.objects.count() == before


@pytest.mark.django_db
def test_approved_order_notifies_its_owner_once(make_order, users):
    order = make_order("paid", cs_owner="cs2")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    message = OutboxMessage.objects.get(event=event, kind="notify")
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert outbox_deliver(message.pk) == OutboxStatus.DONE  # a duplicate dispatch
    notification = Notification.objects.get(outbox_message=message)
    assert notification.recipient == users["cs2"]
    assert notification.recipient_role == "customer_service"
    # In the hub's language (English under the test settings).
    assert notification.text == f"{order.number} {event.timeline_text()}"
    assert notification.event_at == event.occurred_at
    message.refresh_from_db()
    assert message.attempts == 1 and message.result.startswith("1 notified")


@pytest.mark.django_db
def test_actor_is_not_told_of_their_own_action(make_order, users):
    order = make_order("paid", cs_owner="cs1")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    message = OutboxMessage.objects.get(event=event, kind="notify")
    outbox_deliver(message.pk)
    assert not Notification.objects.filter(outbox_message=message).exists()
    assert "no recipient" in OutboxMessage.objects.get(pk=message.pk).result


@pytest.mark.django_db
def test_not_configured_reaction_fails_clearly_and_alerts_the_tech_lead(make_order, users):
    order = make_order("allocated")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    pickup = OutboxMessage.objects.get(event=event, kind="carrier_book_pickup")
    assert outbox_deliver(pickup.pk) == OutboxStatus.FAILED
    pickup.refresh_from_db()
    assert "configured" in pickup.last_error
    failure = OrderEvent.objects.get(order=order, action="reaction_failed")
    assert failure.actor_role == "system" and failure.data["reaction"] == "carrier_book_pickup"
    assert failure.to_state == "packed"
    # The failure event has its own reaction: tell the tech lead.
    alert = OutboxMessage.objects.get(event=failure, kind="notify")
    outbox_deliver(alert.pk)
    assert list(Notification.objects.filter(outbox_message=alert).values_list("recipient__username", flat=True)) == [
        "tech1"
    ]


@pytest.mark.django_db
def test_retries_back_off_then_fail_with_an_alert(make_order, users, test_kinds, settings):
    settings.ORDERHUB_OUTBOX_MAX_ATTEMPTS = 3
    settings.ORDERHUB_OUTBOX_BACKOFF_BASE = 10
    settings.ORDERHUB_OUTBOX_BACKOFF_CAP = 1000
    reaction_rule(name="busy", trigger="approve", reaction="test_busy")
    order = make_order("paid")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    message = OutboxMessage.objects.get(event=event, kind="test_busy")
    delays = []
    for attempt in (1, 2):
        started = timezone.now()
        assert outbox_deliver(message.pk) == OutboxStatus.PENDING
        message.refresh_from_db()
        assert message.attempts == attempt and "try again later" in message.last_error
        delays.append((message.next_attempt_at - started).total_seconds())
        # Not due yet: a second dispatch does nothing.
        assert outbox_deliver(message.pk) == OutboxStatus.PENDING
        assert len(CALLS) == attempt
        make_due(message)
    # Exponential with jitter: attempt 1 waits 5–10 s, attempt 2 waits 10–20 s.
    assert 5 <= delays[0] <= 10.5 and 10 <= delays[1] <= 20.5
    assert outbox_deliver(message.pk) == OutboxStatus.FAILED
    assert OrderEvent.objects.filter(order=order, action="reaction_failed", data__outbox_message=message.pk).exists()


@pytest.mark.django_db
def test_a_failure_of_the_failure_alert_does_not_loop(make_order, users, test_kinds):
    # No carrier account: booking the pickup fails at once, for the failure alert as well.
    reaction_rule(name="busy alert", trigger="reaction_failed", reaction="carrier_book_pickup")
    order = make_order("allocated")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    outbox_deliver(OutboxMessage.objects.get(event=event, kind="carrier_book_pickup").pk)
    failure = OrderEvent.objects.get(order=order, action="reaction_failed")
    second = OutboxMessage.objects.get(event=failure, kind="carrier_book_pickup")
    assert outbox_deliver(second.pk) == OutboxStatus.FAILED
    assert OrderEvent.objects.filter(order=order, action="reaction_failed").count() == 1


@pytest.mark.django_db
def test_redispatch_sends_only_rows_past_the_grace_period(make_order, users, monkeypatch, settings):
    from orders import tasks

    settings.ORDERHUB_OUTBOX_GRACE_SECONDS = 30
    sent = []
    monkeypatch.setattr(tasks.outbox_process, "apply_async", lambda args, **kw: sent.append(args[0]))
    order = make_order("paid")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    message = OutboxMessage.objects.get(event=event)
    assert outbox_redispatch_due() == 0
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=31))
    assert outbox_redispatch_due() == 1
    assert sent == [message.pk]
    outbox_deliver(message.pk)
    sent.clear()
    assert outbox_redispatch_due() == 0


@pytest.mark.django_db
def test_unreachable_broker_at_commit_loses_nothing(make_order, users, monkeypatch, django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    from orders import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.outbox_process, "apply_async", broker_down)
    order = make_order("paid", cs_owner="cs2")
    with django_capture_on_commit_callbacks(execute=True):
        event = order_transition(order.pk, "approve", actor=users["cs1"])
    message = OutboxMessage.objects.get(event=event)
    assert message.status == OutboxStatus.PENDING
    assert OrderEvent.objects.get(pk=event.pk).action == "approve"


@pytest.mark.django_db
def test_rule_params_are_validated_per_kind():
    from rules.validation import action_check

    def errors(**fields):
        return action_check(RuleAction(**fields), trigger="approve")

    assert "params" in errors(kind="reaction", reaction="carrier_book_pickup", params={"colour": "red"})
    assert errors(kind="reaction", reaction="carrier_book_pickup", params={}) == {}
    assert "reaction" in errors(kind="reaction", reaction="no_such_reaction")
    # The internal kinds (a chat message, a refund payment) are not a rule's to run.
    assert "reaction" in errors(kind="reaction", reaction="chat_send")


@pytest.mark.django_db
def test_default_rules_are_installed():
    rules = {
        (trigger, reaction or kind)
        for trigger, kind, reaction in RuleAction.objects.filter(rule__enabled=True).values_list(
            "rule__trigger", "kind", "reaction"
        )
    }
    assert {
        ("approve", "notify"),
        ("pack", "notify"),
        ("pack", "carrier_book_pickup"),
        ("pack", "invoice_list_add"),
        ("ship", "carrier_upload_waybill"),
        ("reaction_failed", "notify"),
    } <= rules


@pytest.mark.django_db
def test_notify_can_also_email_each_recipient(make_order, users, mailoutbox):
    RuleAction.objects.filter(rule__trigger="approve", kind="notify").update(email=True)
    order = make_order("paid", cs_owner="cs2")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    outbox_deliver(OutboxMessage.objects.get(event=event, kind="notify").pk)
    email = OutboxMessage.objects.get(event=event, kind="email_send")
    assert outbox_deliver(email.pk) == OutboxStatus.DONE
    assert outbox_deliver(email.pk) == OutboxStatus.DONE
    (mail,) = mailoutbox
    assert mail.to == ["cs2@example.com"] and order.number in mail.subject
