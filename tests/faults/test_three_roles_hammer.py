"""Customer service, the warehouse and operations (and the system) hammer the same 50 orders:
in every round each of them goes through all 50, reads the order's state and version, and takes
a move its role may take from there, with the version it read, as a person clicking on a board
would. Conflicts are expected and counted; what must hold at the end:

- no lost update: every success is in the order exactly once (the version counts them, the
  events' versions are 1, 2, 3, … with no gap or repeat, each success's event has the version
  it read plus one and starts from the state it read), and the audit history saw the same
  sequence of states;
- every event in the timeline matches a state actually reached: each event starts where the
  previous one ended, is a legal move from there, and the order is where the last one ended;
- no tracking number overwritten: shipments are only appended (sequence 1, 2, 3, … each made by
  its ship or re-ship event with that event's number); the warehouse re-scanning a shipped
  order's label ("ship" again, without a version, as a scanner sends it) is refused with a
  conflict naming the number the order has, every time; no number of a refused move exists
  anywhere;
- a refusal is only ever a conflict (someone changed the order first, or it has a number
  already), never another error, and changes nothing.

The moves keep the orders alive (no cancel, archive or refund): paid ⇄ risk hold, reviewed →
risk hold, then on through allocated, packed, shipped, re-shipped, picked up, delivered,
invoice requested, return requested and rejected back to delivered. All four actors keep
to one shuffled order of the 50 per round, and wait for each other at the end of each round,
so they keep meeting on the same order.

Size: 200 rounds each under `make soak` (50 orders × 200 rounds × 4 actors = 40,000 visits,
about 32,000 attempts: a visit where the actor has no move is skipped; about six minutes on 2
cores with the checks); 40 rounds in CI (8,000 visits, about 6,000 attempts, under a minute).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from orders.exceptions import StaleOrderError, TrackingNumberConflict
from orders.models import Order, OrderEvent, Shipment
from orders.services.transition import order_transition
from orders.states import TRANSITIONS_BY_ACTION, State

from .conftest import soak

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = 50
ROUNDS = soak(40, 200)
THREAD_TIMEOUT = soak(600, 3600)
RESCAN = "rescan"  # the warehouse scanning a label again: "ship" without a version

# Per actor: state -> the moves it may take from there (each legal for its role).
MOVES = {
    "cs1": {
        State.PAID: ["approve", "flag_risk"],
        State.REVIEWED: ["flag_risk"],
        State.SHIPPED: ["reship"],
        State.PICKED_UP: ["deliver", "reship"],
        State.DELIVERED: ["request_invoice", "request_return"],
        State.INVOICE_REQUESTED: ["request_return"],
        State.RETURN_REQUESTED: ["reject_return"],
    },
    "wh1": {
        State.REVIEWED: ["allocate"],
        State.ALLOCATED: ["pack"],
        State.PACKED: ["ship"],
        State.SHIPPED: ["pick_up", "reship", RESCAN],
        State.PICKED_UP: ["reship", RESCAN],
        State.DELIVERED: [RESCAN],
        State.INVOICE_REQUESTED: [RESCAN],
        State.RETURN_REQUESTED: [RESCAN],
    },
    "ops1": {
        State.PAID: ["approve", "flag_risk"],
        State.RISK_HOLD: ["release"],
        State.REVIEWED: ["allocate", "flag_risk"],
        State.SHIPPED: ["deliver"],
        State.PICKED_UP: ["deliver"],
        State.RETURN_REQUESTED: ["reject_return"],
    },
    None: {  # the system: risk rules, carrier pushes, the channel's return requests
        State.PAID: ["flag_risk"],
        State.REVIEWED: ["allocate"],
        State.SHIPPED: ["pick_up", "deliver"],
        State.PICKED_UP: ["deliver"],
        State.DELIVERED: ["request_return"],
        State.INVOICE_REQUESTED: ["request_return"],
    },
}
NOTES = {
    "flag_risk": "收货地址与支付地区不一致,需人工核实",
    "reship": "包裹破损,重新发货",
    "request_return": "买家申请退货",
    "reject_return": "超过退货期限",
}


@dataclass
class Attempt:
    who: str | None
    order_id: int
    action: str
    state_read: str
    version_read: int
    tracking_number: str = ""
    event: OrderEvent | None = None
    error: BaseException | None = None


@dataclass
class Actor:
    who: str | None
    attempts: list[Attempt] = field(default_factory=list)
    crashed: BaseException | None = None


def hammer(order_ids: list[int], warehouse, rounds: int) -> list[Actor]:
    actors = [Actor(who) for who in MOVES]
    barrier = threading.Barrier(len(actors))
    User = get_user_model()

    def run(actor: Actor, tag: str) -> None:
        rng = random.Random(f"{actor.who}")
        numbers = itertools.count(1)
        try:
            user = None if actor.who is None else User.objects.get(username=actor.who)
            for round_no in range(rounds):
                visit = list(order_ids)
                random.Random(round_no).shuffle(visit)  # the same order for every actor
                for order_id in visit:
                    state, version = Order.objects.values_list("state", "version").get(pk=order_id)
                    choices = MOVES[actor.who].get(state)
                    if not choices:
                        continue
                    action = rng.choice(choices)
                    attempt = Attempt(actor.who, order_id, action, state, version)
                    data, expected = {}, version
                    if action == "allocate":
                        data["warehouse"] = warehouse
                    if action in ("ship", "reship", RESCAN):
                        attempt.tracking_number = f"SF{order_id:05d}{tag}{next(numbers):07d}"
                        data = {"carrier": "sf", "tracking_number": attempt.tracking_number}
                    if action == RESCAN:
                        expected = None
                    try:
                        attempt.event = order_transition(
                            order_id,
                            "ship" if action == RESCAN else action,
                            actor=user,
                            expected_version=expected,
                            note=NOTES.get(action, ""),
                            **data,
                        )
                    except Exception as exc:  # judged by the test
                        attempt.error = exc
                    actor.attempts.append(attempt)
                barrier.wait(timeout=THREAD_TIMEOUT)
        except BaseException as exc:
            actor.crashed = exc
            barrier.abort()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(actor, tag), daemon=True)
        for actor, tag in zip(actors, ("C", "W", "O", "S"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "an actor hung"
    for actor in actors:
        assert actor.crashed is None, f"{actor.who}: {actor.crashed!r}"
    return actors


def test_three_roles_and_the_system_hammering_50_orders_lose_no_update(make_order, warehouses):
    from rules.models import Rule

    Rule.objects.update(enabled=False)  # only the orders themselves are under test
    orders = [make_order(State.PAID) for _ in range(ORDERS)]
    order_ids = [o.pk for o in orders]
    events_before = {o.pk: set(o.events.values_list("pk", flat=True)) for o in orders}
    started = time.monotonic()

    actors = hammer(order_ids, warehouses[0], ROUNDS)

    seconds = time.monotonic() - started
    attempts = [a for actor in actors for a in actor.attempts]
    won = [a for a in attempts if a.error is None]
    stale = [a for a in attempts if isinstance(a.error, StaleOrderError)]
    rescans = [a for a in attempts if a.action == RESCAN]

    # A refusal is only ever a conflict: someone moved the order first, or a re-scan met the
    # number already recorded.
    others = [a for a in attempts if a.error is not None and a not in stale and a.action != RESCAN]
    assert not others, [f"{a.who} {a.action} on {a.order_id}: {a.error!r}" for a in others[:5]]
    assert all(a.event is not None for a in won)
    assert rescans and all(isinstance(a.error, TrackingNumberConflict) for a in rescans)
    # The actors did collide, and did move the orders along.
    assert stale, "no conflict at all: the actors never met on an order"
    assert {a.action for a in won} >= {"approve", "flag_risk", "release", "allocate", "pack", "ship", "reship"}

    refused_numbers = {a.tracking_number for a in attempts if a.error is not None and a.tracking_number}
    assert not Shipment.objects.filter(tracking_number__in=refused_numbers).exists()

    won_by_order: dict[int, list[Attempt]] = {pk: [] for pk in order_ids}
    for attempt in won:
        won_by_order[attempt.order_id].append(attempt)

    for order in Order.objects.filter(pk__in=order_ids):
        timeline = OrderEvent.objects.filter(order=order)
        # A risk hold raises its exception and a release clears it: lines of their own that, like
        # notes, leave the version as it is; one per hold and per release.
        exception_lines = timeline.filter(action__startswith="exception_")
        holds = sum(1 for a in won_by_order[order.pk] if a.action == "flag_risk")
        assert exception_lines.filter(action="exception_raised").count() == holds, order.number
        events = list(timeline.exclude(action__startswith="exception_").order_by("order_version", "id"))
        # No lost update: every success exactly once, versions without gap or repeat.
        assert [e.order_version for e in events] == list(range(1, order.version + 1)), order.number
        new_events = {e.pk for e in events} - events_before[order.pk]
        successes = won_by_order[order.pk]
        assert new_events == {a.event.pk for a in successes}, order.number
        by_pk = {e.pk: e for e in events}
        for attempt in successes:
            event = by_pk[attempt.event.pk]
            assert (event.from_state, event.order_version) == (attempt.state_read, attempt.version_read + 1)
            assert event.action == ("ship" if attempt.action == RESCAN else attempt.action)

        # The timeline is a path through states the order really reached.
        assert (events[0].action, events[0].from_state, events[0].to_state) == ("created", "", State.SUBMITTED)
        for previous, event in itertools.pairwise(events):
            assert event.from_state == previous.to_state, f"{order.number}: broken at version {event.order_version}"
            transition = TRANSITIONS_BY_ACTION[event.action]
            assert event.from_state in transition.sources and event.to_state == transition.target
        assert order.state == events[-1].to_state
        history = list(order.history.order_by("history_id").values_list("state", flat=True))
        assert history == [e.to_state for e in events], order.number

        # Tracking numbers only appended, each by its own event; the first one kept.
        shipments = list(Shipment.objects.filter(order=order).select_related("event").order_by("sequence"))
        shipping = [e for e in events if e.action in ("ship", "reship")]
        assert [s.sequence for s in shipments] == list(range(1, len(shipping) + 1)), order.number
        assert [s.event_id for s in shipments] == [e.pk for e in shipping]
        assert [s.tracking_number for s in shipments] == [e.data["tracking_number"] for e in shipping]
        if shipments:
            assert shipping[0].action == "ship" and all(e.action == "reship" for e in shipping[1:])
            # Every re-scan of this order was told the number it has (the latest shipment's).
            recorded = [s.tracking_number for s in shipments]
            for attempt in (a for a in rescans if a.order_id == order.pk):
                assert any(number in attempt.error.message for number in recorded), attempt.error.message
                assert attempt.tracking_number not in attempt.error.message

    per_actor = {
        actor.who or "system": Counter("won" if a.error is None else type(a.error).__name__ for a in actor.attempts)
        for actor in actors
    }
    print(
        f"\n{ORDERS} orders × {ROUNDS} rounds in {seconds:.0f} s: {len(attempts)} attempts, {len(won)} won, "
        f"{len(stale)} stale, {len(rescans)} re-scans refused; {per_actor}"
    )
