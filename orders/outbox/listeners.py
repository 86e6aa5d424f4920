"""Who the outbox asks and tells, registered by apps through their AppConfig (orders.plugins).

- Subscription sources: `source(event_type) -> [(rule_id, key, kind, params)]`, the reactions
  one event type asks for; `key` names the subscription among the event's messages (the row's
  idempotency key is "event:<id>:<key>"). The operations rules are the one source the hub ships.
- Outcome listeners: `listener(message, status, error)`, called when a message ends for good,
  done or failed, in the transaction that records it (in its own savepoint: an error is
  logged, never lost with the outcome).
- Event listeners: `listener(events)`, called with every batch of new timeline events in their
  transaction, one event or a whole import (the KPI counters tag manual interventions).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from django.db import transaction

logger = logging.getLogger(__name__)

Subscription = tuple[int | None, str, str, dict]

_subscription_sources: list[Callable[[str], Iterable[Subscription]]] = []
_outcome_listeners: list[Callable] = []
_event_listeners: list[Callable] = []


def subscription_source_register(source: Callable[[str], Iterable[Subscription]]) -> None:
    if source not in _subscription_sources:
        _subscription_sources.append(source)


def outcome_listener_register(listener: Callable) -> None:
    if listener not in _outcome_listeners:
        _outcome_listeners.append(listener)


def event_listener_register(listener: Callable) -> None:
    if listener not in _event_listeners:
        _event_listeners.append(listener)


def subscriptions_for(event_type: str) -> list[Subscription]:
    """(rule id, key, reaction kind, params) of every reaction `event_type` asks for."""
    found: list[Subscription] = []
    for source in _subscription_sources:
        found.extend(source(event_type))
    return found


def outcome_tell(message, error: str = "") -> None:
    for listener in _outcome_listeners:
        try:
            with transaction.atomic():
                listener(message, message.status, error)
        except Exception:
            logger.exception("outbox: an outcome listener raised for message %s", message.pk)


def outcomes_tell(messages: Sequence) -> None:
    """`outcome_tell` for a delivered batch: all of it in one savepoint, and only if a listener
    raises, again one message at a time (the others' outcomes still count, the error is logged)."""
    if not messages or not _outcome_listeners:
        return
    try:
        with transaction.atomic():
            for message in messages:
                for listener in _outcome_listeners:
                    listener(message, message.status, "")
    except Exception:
        for message in messages:
            outcome_tell(message)


def events_tell(events: Sequence) -> None:
    """New events, saved with their keys, in their own transaction: a listener's error rolls
    the events back with it (what it records must not be lost either)."""
    if not events:
        return
    for listener in _event_listeners:
        listener(events)
