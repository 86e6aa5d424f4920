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
    make_order, users, django_capture_on_commit_callbacks, monkeypatch, settings
):
    from orders import tasks

    sent = []
    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", lambda args, **kw: sent.append((args[0], kw["queue"])))
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
    # One wake-up per lane: the carrier call on the calls queue, the two others on the hub's.
    assert sorted(sent) == [("calls", settings.ORDERHUB_CALLS_QUEUE), ("hub", settings.CELERY_TASK_DEFAULT_QUEUE)]


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


RETRIES: list[tuple[int, str]] = []


def _rate_limited(message):
    CALLS.append(message.pk)
    raise ReactionRetryLater("bucket empty", retry_after=42.0)


@pytest.mark.django_db
def test_a_retry_after_from_the_peer_replaces_the_back_off_and_the_kind_hears_of_it(
    make_order, users, test_kinds, settings
):
    settings.ORDERHUB_OUTBOX_BACKOFF_BASE = 1
    settings.ORDERHUB_OUTBOX_BACKOFF_CAP = 2
    reaction_kind_register(
        ReactionKind(
            "test_rate_limited",
            "rate limited",
            _rate_limited,
            no_params,
            integration=True,
            on_retry=lambda message, error: RETRIES.append((message.attempts, error)),
        )
    )
    RETRIES.clear()
    reaction_rule(name="limited", trigger="approve", reaction="test_rate_limited")
    event = order_transition(make_order("paid").pk, "approve", actor=users["cs1"])
    message = OutboxMessage.objects.get(event=event, kind="test_rate_limited")
    started = timezone.now()
    assert outbox_deliver(message.pk) == OutboxStatus.PENDING
    message.refresh_from_db()
    # The peer's 42 s, not the 0.5–1 s the back-off would have chosen.
    assert 41.5 <= (message.next_attempt_at - started).total_seconds() <= 42.5
    assert RETRIES == [(1, "bucket empty")]


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
    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", lambda args, **kw: sent.append(args[0]))
    order = make_order("paid")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    message = OutboxMessage.objects.get(event=event)
    assert outbox_redispatch_due() == 0
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=31))
    assert outbox_redispatch_due() == 1
    assert sent == ["hub"]
    outbox_deliver(message.pk)
    sent.clear()
    assert outbox_redispatch_due() == 0
    assert sent == []


@pytest.mark.django_db
def test_unreachable_broker_at_commit_loses_nothing(make_order, users, monkeypatch, django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    from orders import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", broker_down)
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


def _rows(event, kind: str, count: int, *, due=None, tag: str = "") -> list[OutboxMessage]:
    due = due or timezone.now() - timedelta(seconds=1)
    return OutboxMessage.objects.bulk_create(
        OutboxMessage(event=event, kind=kind, idempotency_key=f"test:{kind}:{tag}{i}", next_attempt_at=due)
        for i in range(count)
    )


@pytest.mark.django_db
def test_a_drain_takes_its_lanes_due_rows_in_batches_each_once(
    make_order, users, test_kinds, settings, django_assert_max_num_queries
):
    from orders.outbox.services import outbox_drain

    settings.ORDERHUB_OUTBOX_BATCH = 20
    event = order_transition(make_order("paid").pk, "approve", actor=users["cs1"])
    OutboxMessage.objects.filter(event=event).delete()
    reaction_kind_register(ReactionKind("test_call", "calls out", _count_calls, no_params, calls_out=True))
    hub = _rows(event, "test_count", 45)
    calls = _rows(event, "test_call", 3)
    (later,) = (m.pk for m in _rows(event, "test_count", 1, due=timezone.now() + timedelta(minutes=5), tag="later"))

    # Three transactions of at most 20 rows, a handful of statements each: not 13 per message.
    with django_assert_max_num_queries(3 * 8):
        assert outbox_drain("hub") == 45
    assert sorted(CALLS) == sorted(m.pk for m in hub)
    assert set(OutboxMessage.objects.filter(pk__in=[m.pk for m in hub]).values_list("status", flat=True)) == {"done"}
    # Not the calls lane's, not what is not due yet.
    assert not OutboxMessage.objects.filter(pk__in=[m.pk for m in calls]).exclude(status="pending").exists()
    assert OutboxMessage.objects.get(pk=later).status == "pending"
    assert outbox_drain("hub") == 0
    assert len(CALLS) == 45

    assert outbox_drain("calls") == 3
    assert set(OutboxMessage.objects.filter(pk__in=[m.pk for m in calls]).values_list("status", flat=True)) == {"done"}
    assert len(CALLS) == 48


@pytest.mark.django_db
def test_a_reaction_that_raises_in_a_batch_leaves_the_others_done(make_order, users, test_kinds):
    from orders.outbox.services import outbox_drain

    def explode(message):
        CALLS.append(message.pk)
        raise RuntimeError("a bug in one reaction")

    reaction_kind_register(ReactionKind("test_explode", "explodes", explode, no_params))
    event = order_transition(make_order("paid").pk, "approve", actor=users["cs1"])
    OutboxMessage.objects.filter(event=event).delete()
    good = _rows(event, "test_count", 3)
    (bad,) = _rows(event, "test_explode", 1)
    assert outbox_drain("hub") == 4
    bad.refresh_from_db()
    assert bad.status == OutboxStatus.PENDING and bad.attempts == 1 and "a bug in one reaction" in bad.last_error
    assert bad.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert set(OutboxMessage.objects.filter(pk__in=[m.pk for m in good]).values_list("status", flat=True)) == {"done"}


@pytest.mark.django_db
def test_a_drain_past_its_budget_wakes_another_for_the_rest(make_order, users, test_kinds, settings, monkeypatch):
    from orders import tasks
    from orders.outbox.services import outbox_drain

    woken = []
    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", lambda args, **kw: woken.append(args[0]))
    settings.ORDERHUB_OUTBOX_BATCH = 5
    event = order_transition(make_order("paid").pk, "approve", actor=users["cs1"])
    OutboxMessage.objects.filter(event=event).delete()
    _rows(event, "test_count", 12)
    assert outbox_drain("hub", budget_seconds=0) == 5
    assert woken == ["hub"]
    assert OutboxMessage.objects.filter(status="pending").count() == 7


@pytest.mark.django_db
def test_a_backlog_wakes_a_few_drains_not_one_task_per_row(make_order, users, test_kinds, settings, monkeypatch):
    """The sweep after a broker outage: thousands of overdue rows, a handful of wake-ups."""
    from orders import tasks

    woken = []
    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", lambda args, **kw: woken.append(args[0]))
    settings.ORDERHUB_OUTBOX_DRAINS = 3
    event = order_transition(make_order("paid").pk, "approve", actor=users["cs1"])
    OutboxMessage.objects.filter(event=event).delete()
    _rows(event, "test_count", 1500, due=timezone.now() - timedelta(minutes=5))
    _rows(event, "test_busy", 40, due=timezone.now() - timedelta(minutes=5))
    assert outbox_redispatch_due() == 1540
    assert sorted(woken) == ["calls"] * 3 + ["hub"] * 3
    woken.clear()
    assert outbox_redispatch_due() == 1540  # still waiting: the same few, never the backlog
    assert len(woken) == 6


@pytest.mark.django_db
def test_an_outcome_listener_that_raises_in_a_batch_loses_no_outcome(make_order, users, test_kinds, monkeypatch):
    from orders.outbox import listeners
    from orders.outbox.services import outbox_drain

    told = []

    def picky(message, status, error):
        told.append(message.pk)
        if message.params.get("bad"):
            raise ValueError("a listener's bug")

    monkeypatch.setattr(listeners, "_outcome_listeners", [picky])
    event = order_transition(make_order("paid").pk, "approve", actor=users["cs1"])
    OutboxMessage.objects.filter(event=event).delete()
    rows = _rows(event, "test_count", 3)
    OutboxMessage.objects.filter(pk=rows[1].pk).update(params={"bad": True})
    assert outbox_drain("hub") == 3
    assert set(OutboxMessage.objects.filter(pk__in=[m.pk for m in rows]).values_list("status", flat=True)) == {"done"}
    # Tried together first, then one by one after the bug.
    assert sorted(told[-3:]) == sorted(m.pk for m in rows)


@pytest.mark.django_db
def test_a_batch_of_notices_asks_for_recipients_once_per_owner_and_inserts_once(
    make_order, users, django_assert_max_num_queries
):
    from orders.outbox.services import outbox_drain

    owned = {
        order_transition(make_order("paid", cs_owner=owner).pk, "approve", actor=users["ops1"]).pk: owner
        for owner in ["cs1", "cs2"] * 6
    }
    # The claim, one lookup of recipients per owner (4 statements each), one INSERT, one
    # UPDATE, the savepoint, BEGIN/COMMIT: not 13 statements for each of the 12 notices.
    with django_assert_max_num_queries(18):
        assert outbox_drain("hub") == 12
    notices = Notification.objects.filter(event_id__in=owned)
    assert sorted((n.event_id, n.recipient.username) for n in notices) == sorted(owned.items())


@pytest.mark.django_db
def test_after_the_broker_failed_commits_stop_trying_it_but_the_sweep_does_not(
    make_order, users, monkeypatch, settings, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from orders import tasks
    from orders.outbox import services

    settings.ORDERHUB_BROKER_PAUSE_SECONDS = 60
    settings.ORDERHUB_OUTBOX_GRACE_SECONDS = 0
    monkeypatch.setattr(services, "_broker_paused_until", 0.0)
    tries = []

    def broker_down(args, **kwargs):
        tries.append(args[0])
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", broker_down)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            order_transition(make_order("paid", cs_owner="cs2").pk, "approve", actor=users["cs1"])
    assert tries == ["hub"]  # the first commit tried; the next two did not wait on a dead broker
    assert OutboxMessage.objects.filter(status="pending").count() == 3

    sent = []
    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", lambda args, **kw: sent.append(args[0]))
    assert outbox_redispatch_due() == 3
    assert sent == ["hub"]  # the sweep tried, got through, and ended the pause
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(make_order("paid", cs_owner="cs2").pk, "approve", actor=users["cs1"])
    assert sent == ["hub", "hub"]


def test_what_calls_out_runs_in_the_calls_lane_and_the_procfile_serves_both_queues():
    from pathlib import Path

    from django.conf import settings

    from orders.outbox.kinds import reaction_kinds_calling_out, reaction_lane

    calls = set(reaction_kinds_calling_out())
    assert {"carrier_book_pickup", "carrier_upload_waybill", "chat_send", "email_send", "refund_pay"} <= calls
    assert reaction_lane("notify") == reaction_lane("rules_run") == reaction_lane("no_such_kind") == "hub"
    hub_queue, calls_queue = settings.CELERY_TASK_DEFAULT_QUEUE, settings.ORDERHUB_CALLS_QUEUE
    assert calls_queue == f"{hub_queue}.calls"
    procfile = (Path(settings.BASE_DIR) / "Procfile").read_text()
    assert "-Q ${ORDERHUB_TASK_QUEUE:-celery} " in procfile
    assert "-Q ${ORDERHUB_CALLS_QUEUE:-${ORDERHUB_TASK_QUEUE:-celery}.calls} --pool=threads" in procfile


@pytest.mark.django_db
def test_commits_while_a_drain_is_on_its_way_send_no_more_wake_ups(
    make_order, users, monkeypatch, settings, django_capture_on_commit_callbacks, redis_url
):
    """With Redis: the first commit sets the lane's flag and sends a drain; the next ones find
    it set and send nothing; the drain clears it before it claims, and takes all their rows."""
    import redis

    from orders import tasks
    from orders.outbox import services

    settings.REDIS_URL = redis_url
    settings.ORDERHUB_OUTBOX_COALESCE_WAKES = True
    monkeypatch.setattr(services, "_wake_redis", None)
    redis.Redis.from_url(settings.REDIS_URL).delete(services._wake_flag_key("hub"))
    sent = []
    monkeypatch.setattr(tasks.outbox_drain_task, "apply_async", lambda args, **kw: sent.append(args[0]))

    def approve():
        with django_capture_on_commit_callbacks(execute=True):
            order_transition(make_order("paid", cs_owner="cs2").pk, "approve", actor=users["cs1"])

    for _ in range(3):
        approve()
    assert sent == ["hub"]
    assert services.outbox_drain("hub") == 3  # the one drain takes the three commits' rows
    approve()  # after the drain's claim: a drain of its own
    assert sent == ["hub", "hub"]
    assert Notification.objects.count() == 3
