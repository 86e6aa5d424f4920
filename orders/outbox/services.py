"""The outbox's services: reactions are rows written with their event, delivered by Celery at
least once, and take effect exactly once.

- `outbox_enqueue_for_events(events)` / `outbox_enqueue_for_event(event)`: inside the events'
  transaction, one row per subscription (an enabled rule's reaction) of each event's type,
  built by `outbox_messages_build` for one event and a batch import alike; the lanes' drains
  are woken after the commit. `outbox_enqueue_kind(event, kind=…)`: the same for a reaction no
  rule asks for, because the writer of the event always needs it.
- Lanes (orders.outbox.kinds): the hub lane's reactions only write the hub's database and are
  taken many per transaction; the calls lane's (carriers, chat robots, channels, email) wait
  on other servers and are taken one per transaction, on a queue of their own.
- `outbox_drain(lane)`: the worker's side. A task carries no message id, only "this lane has
  due rows": the drain locks due pending rows with SKIP LOCKED (so any number of drains run
  at once, never one row twice), runs each reaction in its own savepoint, records the
  outcomes in the same transaction, and goes on batch after batch. A burst of a thousand
  commits is a thousand cheap wake-ups and a few dozen transactions. Failures retry with
  exponential back-off and jitter; the last one marks the row failed, calls the kind's
  `on_failure` hook, writes it on the order's timeline and triggers the `reaction_failed`
  rules (the tech lead's alert). `outbox_deliver(message_id)` runs one row the same way.
- `outbox_redispatch_due()`: the beat sweep that wakes the drains again when rows wait past a
  grace period, so a lost wake-up, a broker restart or a killed worker delays a reaction but
  never loses it, and a backlog is not re-sent onto the queue it is waiting in.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import random
import time
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..events import REACTION_FAILED, order_event_create
from ..models import OrderEvent
from .kinds import (
    LANE_CALLS,
    ReactionFailed,
    ReactionRetryLater,
    reaction_kind,
    reaction_kinds_calling_out,
    reaction_lane,
)
from .listeners import outcome_tell, outcomes_tell, subscriptions_for
from .models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)


# The longest wait a message is sent with as a countdown (see outbox_enqueue_once).
COUNTDOWN_MAX_SECONDS = 15 * 60

_subscriptions_cache: dict[str, tuple[float, list[tuple]]] = {}


def outbox_subscriptions_for(event_type: str) -> list[tuple]:
    """(rule id, key, kind, params) of the reactions an event type asks for. Cached per
    process for ORDERHUB_RULES_CACHE_SECONDS: every transition asks, rules change a few times a
    week. A rule saved in this process clears the cache at once (outbox_subscriptions_cache_clear);
    other processes see it within the TTL."""
    ttl = settings.ORDERHUB_RULES_CACHE_SECONDS
    now = time.monotonic()
    cached = _subscriptions_cache.get(event_type)
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    subscriptions = subscriptions_for(event_type)
    if ttl > 0:
        _subscriptions_cache[event_type] = (now, subscriptions)
    return subscriptions


def outbox_subscriptions_cache_clear(*args, **kwargs) -> None:
    """Also a signal receiver: the rules' post_save/post_delete clear it."""
    _subscriptions_cache.clear()


def outbox_messages_build(events) -> list[OutboxMessage]:
    """The outbox rows a batch of saved events asks for: one per subscription of each event's
    type. The one builder for a single transition and for a batch import alike."""
    messages: list[OutboxMessage] = []
    by_type: dict[str, list[tuple]] = {}
    for event in events:
        if event.action not in by_type:
            by_type[event.action] = outbox_subscriptions_for(event.action)
        messages.extend(
            OutboxMessage(
                event=event,
                rule_id=rule_id,
                kind=kind,
                params=params,
                idempotency_key=f"event:{event.pk}:{key}",
                next_attempt_at=event.occurred_at,
            )
            for rule_id, key, kind, params in by_type[event.action]
        )
    return messages


def outbox_enqueue_for_events(events, *, also: Sequence[OutboxMessage] = ()) -> list[OutboxMessage]:
    """Inside the events' transaction: their outbox rows (and `also`, rows built for them some
    other way, e.g. by the intake planners), dispatched together after the commit."""
    messages = [*outbox_messages_build(events), *also]
    if not messages:
        return []
    OutboxMessage.objects.bulk_create(messages, batch_size=2000)
    outbox_dispatch_on_commit(messages)
    return messages


def outbox_enqueue_for_event(event: OrderEvent) -> list[OutboxMessage]:
    """One outbox row per subscription of this event's type."""
    return outbox_enqueue_for_events([event])


def outbox_enqueue_once(
    event: OrderEvent,
    *,
    key: str,
    kind: str,
    params: dict | None = None,
    rule_id: int | None = None,
    not_before=None,
) -> OutboxMessage:
    """One message of `kind` for this event, created once per key (idempotency key
    "event:<id>:<key>", the same a subscription of that key gets), inside the event's
    transaction; dispatch follows the commit. A second call finds the first row. `not_before`:
    a reaction that must wait (an approval's cooling-off): due then, sent with that countdown,
    and the re-dispatch sweep sends it again if the countdown was lost."""
    due = not_before or event.occurred_at
    message, created = OutboxMessage.objects.get_or_create(
        idempotency_key=f"event:{event.pk}:{key}",
        defaults={"event": event, "rule_id": rule_id, "kind": kind, "params": params or {}, "next_attempt_at": due},
    )
    if created:
        wait = (due - timezone.now()).total_seconds() if not_before is not None else 0
        if wait <= COUNTDOWN_MAX_SECONDS:
            outbox_dispatch_on_commit([message], countdown=wait if wait > 0 else None)
        # Longer: not held in a worker's memory (nor past the broker's visibility timeout); the
        # re-dispatch sweep sends it once it is due.
    return message


def outbox_enqueue_kind(event: OrderEvent, *, kind: str, params: dict | None = None) -> OutboxMessage:
    """One message of `kind` for this event that no rule asks for: a reaction the writer of the
    event always needs (the return label of an approved return)."""
    return outbox_enqueue_once(event, key=f"kind:{kind}", kind=kind, params=params)


def outbox_child_create(parent: OutboxMessage, *, kind: str, params: dict, key: str) -> OutboxMessage:
    """A follow-up message of a running reaction (one per chat robot, say), created once per
    key however often the parent runs."""
    child, created = OutboxMessage.objects.get_or_create(
        idempotency_key=f"{parent.idempotency_key}:{key}",
        defaults={
            "event_id": parent.event_id,
            "rule_id": parent.rule_id,
            "parent": parent,
            "kind": kind,
            "params": params,
        },
    )
    if created:
        outbox_dispatch_on_commit([child])
    return child


def outbox_dispatch_on_commit(messages: Sequence[OutboxMessage], *, countdown: float | None = None) -> None:
    """After the commit, wake the drains of the lanes these new (or re-timed) rows are in."""
    wakes = _wakes_for([m.kind for m in messages])
    if wakes:
        transaction.on_commit(lambda: outbox_wake(wakes, countdown=countdown))


def outbox_lane_queue(lane: str) -> str:
    """The broker queue a lane's drains are sent to: the hub lane on the default queue, the
    calls lane on its own (workers: Procfile, docs/OPERATIONS.md)."""
    return settings.ORDERHUB_CALLS_QUEUE if lane == LANE_CALLS else settings.CELERY_TASK_DEFAULT_QUEUE


def _lane_batch(lane: str) -> int:
    # A call out may take seconds: one per transaction, so its lock is never held for others.
    return 1 if lane == LANE_CALLS else max(1, settings.ORDERHUB_OUTBOX_BATCH)


def _wakes_for(kinds: Sequence[str]) -> dict[str, int]:
    """How many drains to wake per lane for rows of these kinds: enough to take them in
    parallel batches, never more than ORDERHUB_OUTBOX_DRAINS."""
    rows: dict[str, int] = {}
    for kind in kinds:
        lane = reaction_lane(kind)
        rows[lane] = rows.get(lane, 0) + 1
    cap = settings.ORDERHUB_OUTBOX_DRAINS
    return {lane: min(cap, math.ceil(n / _lane_batch(lane))) for lane, n in rows.items()}


# Until when (time.monotonic) this process does not try the broker after commits: see outbox_wake.
_broker_paused_until = 0.0


def outbox_wake(
    wakes: dict[str, int], *, countdown: float | None = None, sweep: bool = False, handover: bool = False
) -> int:
    """Send `wakes[lane]` drain tasks for each lane. A broker that cannot be reached is not an
    error here: the rows are committed and the re-dispatch sweep wakes the drains later. After
    a failure this process stops trying for ORDERHUB_BROKER_PAUSE_SECONDS, so that during an
    outage a transition does not pay the broker's connection timeout each time; the sweep
    (`sweep=True`) always tries, and a success ends the pause. `handover`: a drain giving way
    sends its successor whatever the wake flag says (see outbox_drain). Returns how many were
    sent."""
    global _broker_paused_until
    from .tasks import outbox_drain_task

    if not sweep and time.monotonic() < _broker_paused_until:
        return 0
    sent = 0
    for lane, count in wakes.items():
        if count == 1 and countdown is None and not sweep and not handover and not _wake_flag_set(lane):
            continue  # a drain is already on its way and will see this commit's rows
        for _ in range(count):
            try:
                outbox_drain_task.apply_async((lane,), queue=outbox_lane_queue(lane), countdown=countdown)
            except Exception as exc:  # any broker trouble; the sweep is the safety net
                _broker_paused_until = time.monotonic() + settings.ORDERHUB_BROKER_PAUSE_SECONDS
                logger.warning(
                    "outbox: could not wake the %s lane (%s); the re-dispatch sweep will", lane, type(exc).__name__
                )
                return sent
            sent += 1
    _broker_paused_until = 0.0
    return sent


def _backoff_seconds(attempts: int) -> float:
    base = settings.ORDERHUB_OUTBOX_BACKOFF_BASE
    cap = settings.ORDERHUB_OUTBOX_BACKOFF_CAP
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    # Jitter spreads retries so a recovering carrier is not hit by every row at once.
    return random.uniform(delay / 2, delay)


_OUTCOME_FIELDS = ["status", "attempts", "next_attempt_at", "last_error", "result", "done_at"]
_DONE_FIELDS = ["status", "attempts", "last_error", "result", "done_at"]


def outbox_deliver(message_id: int) -> str | None:
    """Run one outbox message if it is pending and due. Returns its status afterwards, or None
    when another worker holds it or it does not exist."""
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event__order")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return None
        now = timezone.now()
        if message.status != OutboxStatus.PENDING or message.next_attempt_at > now:
            return message.status
        _attempt(message, now=now)
        message.save(update_fields=_OUTCOME_FIELDS)
        if message.status == OutboxStatus.DONE:
            outcome_tell(message)
        return message.status


def outbox_deliver_due(lane: str, *, limit: int) -> int:
    """Take up to `limit` due pending rows of a lane that no other worker holds (SKIP LOCKED)
    and run them in one transaction: their reactions together in one savepoint (one savepoint
    each only if one raises), their outcomes by one UPDATE per distinct outcome. Returns how
    many were taken."""
    calls = reaction_kinds_calling_out()
    in_lane = Q(kind__in=calls) if lane == LANE_CALLS else ~Q(kind__in=calls)
    with transaction.atomic():
        now = timezone.now()
        messages = list(
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event__order")
            .filter(in_lane, status=OutboxStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")[:limit]
        )
        if not messages:
            return 0
        batch_kind = reaction_kind(messages[0].kind) if lane == LANE_CALLS else None
        if batch_kind is not None and batch_kind.run_batch is not None:
            return _deliver_calls_batch(batch_kind, messages[0], now=now)
        # Reactions lock their order (an automatic approval is a transition): taken in order
        # of the order, two drains never wait on each other's orders in a cycle.
        messages.sort(key=lambda m: (m.event.order_id, m.next_attempt_at, m.pk))
        memo = _batch_memo.set({})
        try:
            if len(messages) == 1 or not _attempt_together(messages, now=now):
                for message in messages:
                    _attempt(message, now=now)
        finally:
            _batch_memo.reset(memo)
        _outcomes_save(messages)
        outcomes_tell([m for m in messages if m.status == OutboxStatus.DONE])
    return len(messages)


def _deliver_calls_batch(kind, first: OutboxMessage, *, now) -> int:
    """A calls-lane row of a kind that sends in batches: more due rows of that kind are claimed
    beside it (SKIP LOCKED, in this transaction), run by `kind.run_batch` together, and their
    outcomes saved as a hub batch's are. Returns how many were taken."""
    more = list(
        OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("event__order")
        .filter(kind=kind.code, status=OutboxStatus.PENDING, next_attempt_at__lte=now)
        .exclude(pk=first.pk)
        .order_by("next_attempt_at", "pk")[: max(0, settings.ORDERHUB_CALLS_BATCH - 1)]
    )
    messages = [first, *more]
    for message in messages:
        message.attempts += 1
    try:
        with transaction.atomic():
            outcomes = list(kind.run_batch(messages))
            if len(outcomes) != len(messages):
                raise RuntimeError(f"run_batch gave {len(outcomes)} outcomes for {len(messages)} messages")
    except Exception:
        # A bug in the batch path, not a receiver's answer: each row is tried alone instead.
        # Calls may have gone out already; the receivers dedupe by delivery id (at least once).
        logger.exception("outbox: the batch of %s raised; trying its %d rows one by one", kind.code, len(messages))
        for message in messages:
            message.attempts -= 1
            _attempt(message, now=now)
    else:
        for message, outcome in zip(messages, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                _attempt_failed(kind, message, outcome, now=now)
            else:
                _attempt_done(message, outcome, now=now)
    _outcomes_save(messages)
    outcomes_tell([m for m in messages if m.status == OutboxStatus.DONE])
    return len(messages)


def _outcomes_save(messages: list[OutboxMessage]) -> None:
    """One UPDATE per distinct outcome: a batch's rows mostly end alike (done, at the first
    attempt, the same result line), and `WHERE id IN (…)` is far cheaper for PostgreSQL than
    bulk_update's CASE over every row."""
    groups: dict[tuple, list[int]] = {}
    for message in messages:
        # A row done keeps its due time; one retried or failed is written whole.
        fields = _DONE_FIELDS if message.status == OutboxStatus.DONE else _OUTCOME_FIELDS
        outcome = tuple((field, getattr(message, field)) for field in fields)
        groups.setdefault(outcome, []).append(message.pk)
    for outcome, ids in groups.items():
        OutboxMessage.objects.filter(pk__in=ids).update(**dict(outcome))


# What a batch's reactions may share while it runs (orders.outbox.services.outbox_batch_memo).
_batch_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("outbox_batch_memo", default=None)


def outbox_batch_bulk_create(model, rows: list, *, ignore_conflicts: bool = False) -> None:
    """bulk_create, or, while a batch runs its reactions together, kept and written with the
    rest of the batch's rows of that model in one INSERT at its end (in the same savepoint:
    if any reaction raises, none of them is written and each runs again alone)."""
    memo = _batch_memo.get()
    pending = memo.get(_DEFERRED) if memo is not None else None
    if pending is None:
        model.objects.bulk_create(rows, ignore_conflicts=ignore_conflicts)
        return
    pending.setdefault((model, ignore_conflicts), []).extend(rows)


_DEFERRED = "__deferred_rows__"


def _deferred_rows_write() -> None:
    memo = _batch_memo.get()
    pending = memo.pop(_DEFERRED, None) if memo is not None else None
    for (model, ignore_conflicts), rows in (pending or {}).items():
        model.objects.bulk_create(rows, ignore_conflicts=ignore_conflicts, batch_size=1000)


def outbox_batch_memo(name: str) -> dict:
    """A dict the reactions of one delivered batch share, under `name`, for lookups that cannot
    change within its transaction (who is told of a shop's orders): fifty notices to one owner
    ask once. Outside a batch, a new empty dict each call (nothing is kept)."""
    memo = _batch_memo.get()
    if memo is None:
        return {}
    return memo.setdefault(name, {})


# Coalesced wake-ups (Redis brokers only). A commit sends a drain only if it is the first to
# set its lane's flag; every drain clears the flag before each claim. So a commit that finds
# the flag set is covered: the drain that was sent when it was set has not yet cleared it, and
# will claim after this commit. At 300 commits a second most of them then cost a SET instead of
# a publish, and the worker no longer takes hundreds of empty wake-ups. The flag expires, so a
# wake-up lost with it only waits for the sweep.
_WAKE_FLAG_SECONDS = 30
_wake_redis = None


def _wake_flags():
    global _wake_redis
    if not settings.REDIS_URL or not settings.ORDERHUB_OUTBOX_COALESCE_WAKES:
        return None
    if _wake_redis is None:
        import redis

        _wake_redis = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    return _wake_redis


def _wake_flag_key(lane: str) -> str:
    return f"orderhub:outbox:wake:{outbox_lane_queue(lane)}"


def _wake_flag_set(lane: str) -> bool:
    """True if this caller should send the drain (it set the flag, or flags are not in use)."""
    flags = _wake_flags()
    if flags is None:
        return True
    try:
        return bool(flags.set(_wake_flag_key(lane), "1", nx=True, ex=_WAKE_FLAG_SECONDS))
    except Exception:  # Redis trouble: send as if no flag existed
        return True


def _wake_flag_clear(lane: str) -> None:
    flags = _wake_flags()
    if flags is None:
        return
    with contextlib.suppress(Exception):
        flags.delete(_wake_flag_key(lane))


def outbox_drain(lane: str, *, budget_seconds: float | None = None) -> int:
    """The worker's side: deliver the lane's due rows batch after batch until none is left or
    the time budget (ORDERHUB_OUTBOX_DRAIN_SECONDS) is spent; then one more drain is woken for
    the rest, so other tasks queued behind this one get their turn. Returns how many rows it
    took. Many drains may run at once: SKIP LOCKED gives each its own rows."""
    budget = settings.ORDERHUB_OUTBOX_DRAIN_SECONDS if budget_seconds is None else budget_seconds
    batch = _lane_batch(lane)
    started = time.monotonic()
    taken = 0
    while True:
        _wake_flag_clear(lane)  # before the claim: a commit after this sends its own drain
        claimed = outbox_deliver_due(lane, limit=batch)
        taken += claimed
        if claimed < batch:
            return taken
        if time.monotonic() - started >= budget:
            # The calls lane takes one row per transaction and waits on other servers: its
            # throughput is the number of drains running at once. Coalesced, the successors of
            # drains giving way together would be one drain, and a backlog (a receiver back
            # after an outage) would drain one call at a time. Each hands over to its own.
            outbox_wake({lane: 1}, handover=lane == LANE_CALLS)
            return taken


def _attempt_together(messages: list[OutboxMessage], *, now) -> bool:
    """Run a batch's reactions in one savepoint instead of one each (two statements fewer per
    message). If any raises, all of it is rolled back and False returned: the caller runs them
    again one savepoint each, so the one that raised is retried or failed alone. Safe because a
    hub-lane reaction only writes this database and is idempotent (orders.outbox.kinds)."""
    runs = []
    for message in messages:
        kind = reaction_kind(message.kind)
        if kind is None:
            return False
        runs.append(kind.run)
    memo = _batch_memo.get()
    try:
        with transaction.atomic():
            if memo is not None:
                memo[_DEFERRED] = {}
            results = [run(message) for run, message in zip(runs, messages, strict=True)]
            _deferred_rows_write()
    except Exception:
        if memo is not None:
            memo.pop(_DEFERRED, None)
        return False
    for message, result in zip(messages, results, strict=True):
        message.attempts += 1
        _attempt_done(message, result, now=now)
    return True


def _attempt(message: OutboxMessage, *, now) -> None:
    """Run the reaction of a locked, pending, due row and set its outcome on it (not saved)."""
    kind = reaction_kind(message.kind)
    message.attempts += 1
    try:
        if kind is None:
            raise ReactionFailed(f"unknown reaction kind {message.kind!r}")
        with transaction.atomic():
            result = kind.run(message)
    except Exception as exc:
        _attempt_failed(kind, message, exc, now=now)
    else:
        _attempt_done(message, result, now=now)


def _attempt_done(message: OutboxMessage, result: str | None, *, now) -> None:
    message.status = OutboxStatus.DONE
    message.done_at = now
    message.result = (result or "")[:2000]
    message.last_error = ""


def _attempt_failed(kind, message: OutboxMessage, exc: BaseException, *, now) -> None:
    """The outcome of an attempt that raised (its savepoint already rolled back): failed for
    good, retried when the peer said, or retried after the back-off."""
    if isinstance(exc, ReactionFailed):
        _attempt_error_tell(kind, message, exc)
        _fail(message, str(exc), now=now)
    elif isinstance(exc, ReactionRetryLater):
        _attempt_error_tell(kind, message, exc)
        _retry_or_fail(message, str(exc), now=now, retry_after=exc.retry_after)
    else:  # a bug or an unexpected outage: retried, and recorded
        logger.error("outbox: reaction %s of message %s raised", message.kind, message.pk, exc_info=exc)
        _attempt_error_tell(kind, message, exc)
        _retry_or_fail(message, f"{type(exc).__name__}: {exc}", now=now)


def _attempt_error_tell(kind, message: OutboxMessage, exc: BaseException) -> None:
    """The kind's on_attempt_error hook, in a savepoint of its own: a hook that raises is
    logged, and the retry or failure is still recorded."""
    if kind is None or kind.on_attempt_error is None:
        return
    try:
        with transaction.atomic():
            kind.on_attempt_error(message, exc)
    except Exception:
        logger.exception("outbox: the attempt hook of %s raised for message %s", message.kind, message.pk)


def outbox_max_attempts(kind_code: str) -> int:
    """How many attempts a message of this kind gets (the kind's own, else the setting)."""
    kind = reaction_kind(kind_code)
    own = kind.max_attempts if kind is not None else None
    return own or settings.ORDERHUB_OUTBOX_MAX_ATTEMPTS


def _retry_or_fail(message: OutboxMessage, error: str, *, now, retry_after: float | None = None) -> None:
    if message.attempts >= outbox_max_attempts(message.kind):
        _fail(message, error, now=now)
        return
    # The peer's own word on when to come back (a rate limit's restore time) beats a guess.
    delay = _backoff_seconds(message.attempts) if retry_after is None else max(0.0, retry_after)
    message.last_error = error[:2000]
    message.next_attempt_at = now + timedelta(seconds=delay)
    kind = reaction_kind(message.kind)
    if kind is not None and kind.on_retry is not None:
        try:
            with transaction.atomic():
                kind.on_retry(message, error)
        except Exception:  # the retry itself must still be recorded
            logger.exception("outbox: the retry hook of %s raised for message %s", message.kind, message.pk)
    outbox_dispatch_on_commit([message], countdown=delay)


def _fail(message: OutboxMessage, error: str, *, now) -> None:
    message.status = OutboxStatus.FAILED
    message.last_error = error[:2000]
    message.done_at = now
    logger.error("outbox: message %s (%s) failed for good: %s", message.pk, message.kind, error)
    kind = reaction_kind(message.kind)
    if kind is not None and kind.on_failure is not None:
        try:
            with transaction.atomic():
                kind.on_failure(message, error)
        except Exception:  # the failure itself must still be recorded and alerted
            logger.exception("outbox: the failure hook of %s raised for message %s", message.kind, message.pk)
    outcome_tell(message, error)
    if message.event.action == REACTION_FAILED:
        # A reaction to a failure failed too: recorded on the row and in the log, but no new
        # failure event, or one broken robot would alert about itself forever.
        return
    failure = order_event_create(
        order=message.event.order,
        action=REACTION_FAILED,
        from_state=message.event.order.state,
        actor=None,
        occurred_at=now,
        note=error[:500],
        data={
            "outbox_message": message.pk,
            "reaction": message.kind,
            "attempts": message.attempts,
            "failed_event": message.event_id,
            "integration": bool(getattr(reaction_kind(message.kind), "integration", False)),
        },
    )
    outbox_enqueue_for_event(failure)


def outbox_redispatch_due(*, limit: int = 5000) -> int:
    """The beat sweep: rows still pending past the grace period (a lost wake-up, a broker
    restart, a killed worker) wake their lanes' drains again, a few per lane however many rows
    wait, so a backlog is never re-sent row by row onto the queue it is waiting in. Returns how
    many overdue rows it saw (at most `limit`)."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORDERHUB_OUTBOX_GRACE_SECONDS)
    kinds = list(
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=cutoff).values_list(
            "kind", flat=True
        )[:limit]
    )
    if kinds:
        wakes = _wakes_for(kinds)
        logger.info("outbox: %d messages overdue; waking %s", len(kinds), wakes)
        outbox_wake(wakes, sweep=True)
    return len(kinds)


def outbox_retry(*, message_id: int, actor) -> OutboxMessage:
    """Give a failed message a fresh set of attempts (operations or the tech lead, from the admin)."""
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=message_id)
        if message.status != OutboxStatus.FAILED:
            return message
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = timezone.now()
        message.last_error = f"retried by {actor.get_username() if actor else 'system'}; was: {message.last_error}"[
            :2000
        ]
        message.done_at = None
        message.save(update_fields=["status", "attempts", "next_attempt_at", "last_error", "done_at"])
        outbox_dispatch_on_commit([message])
    return message
