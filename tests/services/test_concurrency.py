"""order_transition under real concurrency: threads with their own PostgreSQL connections, lined
up on a barrier so that they hit the same order row at the same moment.

What must hold however the race falls out: with one expected version exactly one writer wins and
the others get a ConflictError naming the winner; no update is lost (the version, the timeline,
the history and the shipments all count every success exactly once, and the timeline is a chain
of states the order really passed through); a tracking number is never overwritten; a refused
move changes nothing.

Some tests also hold a row lock from the test's own connection while the threads start, and
release it only once PostgreSQL shows every thread waiting on a lock: then the collision is
certain rather than likely, whatever the scheduler does.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.forms.models import model_to_dict

from orders.exceptions import (
    ConflictError,
    IllegalTransition,
    InvalidActionData,
    StaleOrderError,
    TrackingNumberConflict,
)
from orders.models import Order, OrderEvent, Shipment
from orders.services.transition import order_transition
from orders.states import TRANSITIONS_BY_ACTION, State

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# How each demo user appears in messages and on the timeline (orders.demo.DEMO_USERS; the test
# settings use English). Written out here so a wrong name in a message cannot go unnoticed.
WHO = {
    "cs1": "张明 (Customer service)",
    "cs2": "李娜 (Customer service)",
    "wh1": "王强 (Warehouse)",
    "ops1": "刘洋 (Operations)",
    None: "System",
}
RISK_NOTE = "收货地址与支付地区不一致,需人工核实"
CANCEL_NOTE = "买家申请取消订单"
THREAD_TIMEOUT = 30  # seconds; a thread still running after this is a hang (deadlock, lost wakeup)


@dataclass(frozen=True)
class Move:
    """One person's click: who (a demo username, None for the system), what, and with what."""

    who: str | None
    action: str
    note: str = ""
    data: dict = field(default_factory=dict)


@dataclass
class Outcome:
    move: Move
    order_id: int
    event: OrderEvent | None = None
    error: BaseException | None = None

    @property
    def won(self) -> bool:
        return self.error is None and self.event is not None


def collide(
    order_id: int | list[int],
    moves: list[Move],
    *,
    expected_version: int | None,
    hold: tuple[str, list] | None = None,
) -> list[Outcome]:
    """Run each move in its own thread (on `order_id`, or on order_id[i] for move i), all released
    at once by a barrier; returns one Outcome per move, in order.

    Each thread opens its connection and loads its user and permissions before the barrier, so
    that after it nothing but the transition itself remains. With `hold` (SQL taking a row lock,
    and its parameters), the test's own connection holds that lock until PostgreSQL shows every
    thread waiting on a lock, so they are all inside the race together when it is released."""
    User = get_user_model()
    order_ids = order_id if isinstance(order_id, list) else [order_id] * len(moves)
    barrier = threading.Barrier(len(moves))
    outcomes = [Outcome(move, oid) for move, oid in zip(moves, order_ids, strict=True)]
    backend_pids: list[int] = []
    pids_lock = threading.Lock()

    def worker(outcome: Outcome) -> None:
        move = outcome.move
        released = False
        try:
            actor = None
            if move.who is not None:
                actor = User.objects.get(username=move.who)
                actor.has_perm(f"orders.can_{move.action}")  # loads the permission cache now
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                (pid,) = cursor.fetchone()
            with pids_lock:
                backend_pids.append(pid)
            barrier.wait(timeout=THREAD_TIMEOUT)
            released = True
            outcome.event = order_transition(
                outcome.order_id,
                move.action,
                actor=actor,
                expected_version=expected_version,
                note=move.note,
                **move.data,
            )
        except BaseException as exc:
            if not released:
                # Failing before the barrier must not leave the others waiting. (After it, an
                # abort could still break the wait of a thread not yet woken: never then.)
                barrier.abort()
            outcome.error = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(outcome,), daemon=True) for outcome in outcomes]
    try:
        if hold is None:
            for thread in threads:
                thread.start()
        else:
            sql, params = hold
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    assert cursor.fetchall(), f"the lock to hold selected no row: {sql} {params}"
                for thread in threads:
                    thread.start()
                _wait_until_all_wait_on_a_lock(backend_pids, len(moves), threads)
    finally:
        # After the held lock is gone (else the threads could never finish).
        for thread in threads:
            if thread.ident is not None:
                thread.join(THREAD_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a transition thread hung (deadlock or lost lock wakeup?)"
    for outcome in outcomes:
        assert outcome.won or outcome.error is not None, f"{outcome.move} neither won nor failed"
    return outcomes


def _wait_until_all_wait_on_a_lock(backend_pids: list[int], count: int, threads) -> None:
    """Poll pg_locks (live, unlike pg_stat_activity inside a transaction) until `count` worker
    backends have a lock request that is not granted. Polling waits for a condition; it does not
    decide who wins."""
    deadline = time.monotonic() + THREAD_TIMEOUT
    waiting = 0
    while time.monotonic() < deadline:
        if not any(t.is_alive() for t in threads):
            break
        if len(backend_pids) == count:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)",
                    [list(backend_pids)],
                )
                (waiting,) = cursor.fetchone()
            if waiting == count:
                return
        time.sleep(0.002)
    pytest.fail(f"only {waiting} of {count} threads ever waited on the held lock: they did not collide on it")


def split(outcomes: list[Outcome]) -> tuple[Outcome, list[Outcome]]:
    winners = [o for o in outcomes if o.won]
    assert len(winners) == 1, "exactly one must win: " + "; ".join(
        f"{o.move.who} {o.move.action}: {'won' if o.won else repr(o.error)}" for o in outcomes
    )
    return winners[0], [o for o in outcomes if not o.won]


def state_of(order_id: int) -> dict:
    """Everything about an order that a transition writes, for before/after comparisons."""
    order = Order.objects.get(pk=order_id)
    return {
        "state": order.state,
        "version": order.version,
        "updated_by": order.updated_by_id,
        "updated_at": order.updated_at,
        "state_changed_at": order.state_changed_at,
        "warehouse": order.warehouse_id,
        "events": list(OrderEvent.objects.filter(order_id=order_id).order_by("id").values_list("id", flat=True)),
        "shipments": list(Shipment.objects.filter(order_id=order_id).order_by("id").values()),
        "history": order.history.count(),
    }


def new_events(order_id: int, before: dict) -> list[OrderEvent]:
    """The moves' events since `before`; a risk hold's exception line (the winner's own
    consequence, one at most: tests/services/test_order_exceptions.py) is not a move."""
    events = OrderEvent.objects.filter(order_id=order_id).exclude(id__in=before["events"])
    exception_lines = events.filter(action__startswith="exception_")
    assert exception_lines.count() <= 1
    return list(events.exclude(action__startswith="exception_").order_by("id"))


def assert_stale_naming(outcome: Outcome, winner: Outcome, *, expected: int) -> None:
    error = outcome.error
    assert isinstance(error, StaleOrderError), f"{outcome.move}: expected StaleOrderError, got {error!r}"
    assert isinstance(error, ConflictError)
    assert (error.expected_version, error.actual_version) == (expected, expected + 1)
    assert f"changed by {WHO[winner.move.who]}" in error.message, error.message
    if WHO[outcome.move.who] != WHO[winner.move.who]:
        assert WHO[outcome.move.who] not in error.message, error.message


# --- 1. three roles, one version -------------------------------------------------------------


@pytest.mark.parametrize("collision", ["barrier", "row-held"])
def test_three_roles_with_the_same_version_exactly_one_wins(make_order, collision):
    order = make_order(State.PAID)
    v = order.version
    before = state_of(order.pk)
    moves = [
        Move("cs1", "approve"),
        Move("ops1", "flag_risk", note=RISK_NOTE),
        Move("cs2", "cancel", note=CANCEL_NOTE),
    ]
    hold = None
    if collision == "row-held":
        hold = (f"SELECT id FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE", [order.pk])

    outcomes = collide(order.pk, moves, expected_version=v, hold=hold)

    winner, losers = split(outcomes)
    assert len(losers) == 2
    for loser in losers:
        assert_stale_naming(loser, winner, expected=v)

    after = state_of(order.pk)
    target = TRANSITIONS_BY_ACTION[winner.move.action].target
    assert after["state"] == target
    assert after["version"] == v + 1
    assert after["updated_by"] == get_user_model().objects.get(username=winner.move.who).pk
    assert after["history"] == before["history"] + 1
    assert after["shipments"] == before["shipments"] == []
    (event,) = new_events(order.pk, before)
    assert event.pk == winner.event.pk
    assert (event.action, event.from_state, event.to_state) == (winner.move.action, State.PAID, target)
    assert event.order_version == v + 1
    assert event.actor_display == WHO[winner.move.who]
    assert event.note == winner.move.note


# --- 2. many rounds: no lost update ----------------------------------------------------------

# Every move here is legal from its state, and all three carry the round's version, so exactly
# one can win each round. paid -> reviewed | risk_hold, reviewed -> risk_hold, risk_hold -> paid.
ROUNDS = 200
ROUND_MOVES = {
    State.PAID: [
        Move("cs1", "approve"),
        Move("ops1", "flag_risk", note=RISK_NOTE),
        Move(None, "flag_risk", note="规则命中:高风险地址"),
    ],
    State.REVIEWED: [
        Move("ops1", "flag_risk", note=RISK_NOTE),
        Move(None, "flag_risk", note="规则命中:高风险地址"),
        Move("ops1", "flag_risk", note="复核:同一买家多笔订单"),
    ],
    State.RISK_HOLD: [
        Move("ops1", "release"),
        Move("ops1", "release"),
        Move("ops1", "release"),
    ],
}


def test_many_rounds_of_three_way_races_lose_no_update(make_order):
    order = make_order(State.PAID)
    start_version = order.version
    start_events = OrderEvent.objects.filter(order=order).count()
    wins_by_action: dict[str, int] = {}
    winning_threads: dict[str, set[int]] = {state: set() for state in ROUND_MOVES}

    for round_no in range(ROUNDS):
        order.refresh_from_db()
        state, v = order.state, order.version
        outcomes = collide(order.pk, ROUND_MOVES[state], expected_version=v)
        winner, losers = split(outcomes)
        for loser in losers:
            assert isinstance(loser.error, ConflictError), f"round {round_no}: {loser.move} -> {loser.error!r}"
            assert_stale_naming(loser, winner, expected=v)
        assert winner.event.from_state == state, f"round {round_no}"
        assert winner.event.order_version == v + 1, f"round {round_no}"
        wins_by_action[winner.move.action] = wins_by_action.get(winner.move.action, 0) + 1
        winning_threads[state].add(outcomes.index(winner))

    successes = sum(wins_by_action.values())
    assert successes == ROUNDS
    order.refresh_from_db()
    # The moves' chain; every risk hold also raised operations' exception and every release
    # cleared it: a line each, at the version of the move before it (they do not move it).
    timeline = OrderEvent.objects.filter(order=order)
    exception_lines = timeline.filter(action__startswith="exception_")
    assert exception_lines.filter(action="exception_raised").count() == wins_by_action.get("flag_risk", 0)
    assert exception_lines.filter(action="exception_cleared").count() == wins_by_action.get("release", 0) + sum(
        1 for e in timeline.filter(action="cancel", from_state=State.RISK_HOLD)
    )
    events = list(timeline.exclude(action__startswith="exception_").order_by("order_version"))
    transitions = [e for e in events if e.action in TRANSITIONS_BY_ACTION]

    # Counting: every success is in the version, the timeline and the history exactly once.
    assert order.version == start_version + successes
    assert order.version == 1 + len(transitions)
    assert len(events) == start_events + successes
    assert [e.order_version for e in events] == list(range(1, order.version + 1))
    assert order.history.count() == len(events)

    # The timeline is a chain of states the order actually reached, each step a legal move.
    assert (events[0].from_state, events[0].to_state) == ("", State.SUBMITTED)
    for previous, event in itertools.pairwise(events):
        assert event.from_state == previous.to_state, f"broken chain at version {event.order_version}"
        transition = TRANSITIONS_BY_ACTION[event.action]
        assert event.from_state in transition.sources, f"illegal step at version {event.order_version}"
        assert event.to_state == transition.target
    assert order.state == events[-1].to_state
    # Shown in timeline order (occurred_at, id) it reads the same as in version order.
    assert list(timeline.exclude(action__startswith="exception_").values_list("order_version", flat=True)) == [
        e.order_version for e in events
    ]
    # The audit history saw the same sequence of states.
    history_states = list(order.history.order_by("history_id").values_list("state", flat=True))
    assert history_states == [e.to_state for e in events]
    # The races really went several ways: in each state more than one thread won some rounds
    # (were one always first, the threads would not have been racing at all).
    assert set(wins_by_action) == {"approve", "flag_risk", "release"}, wins_by_action
    assert all(len(threads) > 1 for threads in winning_threads.values()), winning_threads


# --- 3. two tracking numbers for one parcel --------------------------------------------------

SHIP_A = Move("wh1", "ship", data={"carrier": "sf", "tracking_number": "SF1234567890"})
SHIP_B = Move("wh1", "ship", data={"carrier": "sf", "tracking_number": "SF0987654321"})


def test_concurrent_ship_records_one_tracking_number_and_never_overwrites_it(make_order):
    order = make_order(State.PACKED)
    v = order.version
    before = state_of(order.pk)

    outcomes = collide(order.pk, [SHIP_A, SHIP_B], expected_version=None)

    winner, (loser,) = split(outcomes)
    won_number = winner.move.data["tracking_number"]
    lost_number = loser.move.data["tracking_number"]
    assert isinstance(loser.error, TrackingNumberConflict), repr(loser.error)
    assert isinstance(loser.error, ConflictError)
    assert f"already has tracking number {won_number}, recorded by {WHO['wh1']}" in loser.error.message
    assert lost_number not in loser.error.message

    (shipment,) = Shipment.objects.filter(order=order)
    assert (shipment.carrier, shipment.tracking_number, shipment.sequence) == ("sf", won_number, 1)
    assert shipment.event_id == winner.event.pk
    assert not Shipment.objects.filter(tracking_number=lost_number).exists()

    after = state_of(order.pk)
    assert (after["state"], after["version"]) == (State.SHIPPED, v + 1)
    assert after["history"] == before["history"] + 1
    (event,) = new_events(order.pk, before)
    assert event.data == {"carrier": "sf", "tracking_number": won_number}

    # The loser trying again (now seeing the order) still cannot replace the number.
    with pytest.raises(TrackingNumberConflict):
        order_transition(order.pk, "ship", actor=get_user_model().objects.get(username="wh1"), **loser.move.data)
    assert list(Shipment.objects.filter(order=order).values()) == after["shipments"]


def test_concurrent_ship_with_the_same_version_one_conflicts(make_order):
    order = make_order(State.PACKED)
    v = order.version
    before = state_of(order.pk)

    outcomes = collide(order.pk, [SHIP_A, SHIP_B], expected_version=v)

    winner, (loser,) = split(outcomes)
    assert isinstance(loser.error, ConflictError), repr(loser.error)
    assert f"changed by {WHO['wh1']}" in loser.error.message
    (shipment,) = Shipment.objects.filter(order=order)
    assert shipment.tracking_number == winner.move.data["tracking_number"]
    assert shipment.event_id == winner.event.pk
    assert not Shipment.objects.filter(tracking_number=loser.move.data["tracking_number"]).exists()
    after = state_of(order.pk)
    assert (after["state"], after["version"]) == (State.SHIPPED, v + 1)
    assert len(new_events(order.pk, before)) == 1


def test_same_tracking_number_on_two_orders_at_once_is_refused_cleanly(make_order):
    """Two parcels, one tracking number, shipped at the same moment. Each order has its own row
    lock, so only the unique constraint can stop the second. Both threads are held on the
    warehouse user's row (the first insert of the transition checks its actor foreign key), that
    is after both asked "is this number taken?", so the loser meets the constraint after having
    saved its order and written its event, and all of that must be rolled back."""
    first, second = make_order(State.PACKED), make_order(State.PACKED)
    before = {o.pk: state_of(o.pk) for o in (first, second)}
    wh1 = get_user_model().objects.get(username="wh1")
    ship = Move("wh1", "ship", data={"carrier": "sf", "tracking_number": "SF5550001111"})
    hold = (f"SELECT id FROM {get_user_model()._meta.db_table} WHERE id = %s FOR UPDATE", [wh1.pk])

    outcomes = collide([first.pk, second.pk], [ship, ship], expected_version=None, hold=hold)

    winner, (loser,) = split(outcomes)
    assert type(loser.error) is InvalidActionData, repr(loser.error)
    won_number = Order.objects.get(pk=winner.order_id).number
    assert f"SF5550001111 is already used by order {won_number}" in loser.error.message

    (shipment,) = Shipment.objects.filter(tracking_number="SF5550001111")
    assert (shipment.order_id, shipment.event_id) == (winner.order_id, winner.event.pk)
    assert state_of(loser.order_id) == before[loser.order_id]
    assert state_of(winner.order_id)["version"] == before[winner.order_id]["version"] + 1


# --- 4. two re-shipments at once -------------------------------------------------------------

RESHIP_CS = Move("cs1", "reship", note="包裹丢失,补发", data={"carrier": "sf", "tracking_number": "SF2000000001"})
RESHIP_WH = Move("wh1", "reship", note="面单破损,重新发出", data={"carrier": "zto", "tracking_number": "ZTO3000000002"})


def test_concurrent_reship_with_the_same_version_adds_one_shipment(make_order):
    order = make_order(State.SHIPPED)
    v = order.version
    (original,) = Shipment.objects.filter(order=order)
    original_row = model_to_dict(original) | {"created_at": original.created_at}
    before = state_of(order.pk)

    outcomes = collide(order.pk, [RESHIP_CS, RESHIP_WH], expected_version=v)

    winner, (loser,) = split(outcomes)
    assert_stale_naming(loser, winner, expected=v)
    shipments = list(Shipment.objects.filter(order=order).order_by("sequence"))
    assert len(shipments) == 2
    kept, added = shipments
    assert model_to_dict(kept) | {"created_at": kept.created_at} == original_row
    assert (added.sequence, added.carrier, added.tracking_number) == (
        2,
        winner.move.data["carrier"],
        winner.move.data["tracking_number"],
    )
    assert added.reason == winner.move.note
    assert added.event_id == winner.event.pk
    assert not Shipment.objects.filter(tracking_number=loser.move.data["tracking_number"]).exists()
    after = state_of(order.pk)
    assert (after["state"], after["version"]) == (State.SHIPPED, v + 1)
    (event,) = new_events(order.pk, before)
    assert (event.action, event.from_state, event.to_state) == ("reship", State.SHIPPED, State.SHIPPED)


def test_concurrent_reship_without_a_version_records_both_in_sequence(make_order):
    """Both are legal one after the other, so both are kept: the lock must hand out shipment
    numbers 2 and 3 (never 2 twice, which the database would refuse)."""
    order = make_order(State.SHIPPED)
    v = order.version
    (original,) = Shipment.objects.filter(order=order)
    original_row = model_to_dict(original)

    outcomes = collide(order.pk, [RESHIP_CS, RESHIP_WH], expected_version=None)

    assert all(o.won for o in outcomes), [repr(o.error) for o in outcomes]
    shipments = list(Shipment.objects.filter(order=order).order_by("sequence"))
    assert [s.sequence for s in shipments] == [1, 2, 3]
    assert model_to_dict(shipments[0]) == original_row
    assert {s.tracking_number for s in shipments[1:]} == {"SF2000000001", "ZTO3000000002"}
    order.refresh_from_db()
    assert (order.state, order.version) == (State.SHIPPED, v + 2)
    events = [o.event for o in sorted(outcomes, key=lambda o: o.event.order_version)]
    assert [e.order_version for e in events] == [v + 1, v + 2]
    assert [s.event_id for s in shipments[1:]] == [e.pk for e in events]
    # The timeline (occurred_at, id) shows them in the order they were applied.
    assert list(OrderEvent.objects.filter(order=order).values_list("order_version", flat=True))[-2:] == [v + 1, v + 2]


# --- a refused move beside a legal one -------------------------------------------------------


@pytest.mark.parametrize("collision", ["barrier", "row-held"])
def test_illegal_move_in_one_thread_changes_nothing_while_another_succeeds(make_order, collision):
    """Shipping a paid (unapproved) order is illegal whether it runs before or after the approval,
    so whatever the order of the two, it must fail without a trace."""
    order = make_order(State.PAID)
    v = order.version
    before = state_of(order.pk)
    ship = Move("wh1", "ship", data={"carrier": "sf", "tracking_number": "SF7770001111"})
    approve = Move("cs1", "approve")
    hold = None
    if collision == "row-held":
        hold = (f"SELECT id FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE", [order.pk])

    outcomes = collide(order.pk, [ship, approve], expected_version=None, hold=hold)

    winner, (loser,) = split(outcomes)
    assert winner.move is approve
    assert isinstance(loser.error, IllegalTransition), repr(loser.error)
    after = state_of(order.pk)
    assert after["state"] == State.REVIEWED
    assert after["version"] == v + 1
    assert after["updated_by"] == get_user_model().objects.get(username="cs1").pk
    assert after["history"] == before["history"] + 1
    assert after["shipments"] == []
    assert not Shipment.objects.filter(tracking_number="SF7770001111").exists()
    (event,) = new_events(order.pk, before)
    assert (event.pk, event.action, event.from_state) == (winner.event.pk, "approve", State.PAID)


# -- 截单: the warehouse's tap and the carrier's answer, at the same moment ---------------------


def test_an_interception_ends_once_when_its_answers_collide(make_order, users):
    """The warehouse taps "parcel stopped" while the carrier's refusal arrives: one result, on
    the order and on its interception alike; the other answer is refused and changes nothing."""
    from orders.models import Interception
    from orders.services.interception import order_intercept_request

    order = make_order(State.PACKED)
    order_intercept_request(order.pk, actor=users["cs1"], reason=CANCEL_NOTE)
    hold = (f"SELECT id FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE", [order.pk])
    outcomes = collide(
        order.pk,
        [Move("wh1", "confirm_intercept"), Move(None, "fail_intercept", note="快递已派送")],
        expected_version=None,
        hold=hold,
    )
    winner, (loser,) = split(outcomes)
    assert isinstance(loser.error, IllegalTransition)
    order.refresh_from_db()
    interception = Interception.objects.get(order=order)
    expected = {"confirm_intercept": ("intercepted", "intercepted"), "fail_intercept": ("intercept_failed", "failed")}
    assert (order.state, interception.status) == expected[winner.move.action]
    assert interception.resolved_event_id == winner.event.pk


def test_two_people_asking_to_intercept_open_one_interception(make_order, users):
    from orders.models import Interception

    order = make_order(State.ALLOCATED)
    hold = (f"SELECT id FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE", [order.pk])
    outcomes = collide(
        order.pk,
        [Move("cs1", "request_intercept", note=CANCEL_NOTE), Move("cs2", "request_intercept", note="买家改地址")],
        expected_version=None,
        hold=hold,
    )
    winner, (loser,) = split(outcomes)
    assert isinstance(loser.error, IllegalTransition)
    (interception,) = Interception.objects.filter(order=order)
    assert interception.requested_event_id == winner.event.pk and interception.reason == winner.move.note
