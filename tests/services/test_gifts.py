"""Gift orders (赠品单) follow their main order: in the same transaction, as the system, through
the transition service; a gift that cannot follow says why on its timeline; nothing is half
applied; and a gift edited while its main order moves neither deadlocks nor loses the edit."""

from __future__ import annotations

import itertools
import threading

import pytest

from orders.events import GIFT_NOT_FOLLOWED
from orders.exceptions import ActionNotPermitted, IllegalTransition, InvalidActionData
from orders.models import Order, OrderEvent
from orders.services.gifts import gift_moves
from orders.services.orders import order_create, order_update_details
from orders.services.transition import order_transition
from orders.states import Priority, State

from .test_concurrency import THREAD_TIMEOUT, Move, collide


@pytest.fixture
def main_and_gift(make_order):
    def make(main_state="packed", gift_state="paid"):
        main = make_order(main_state)
        gift = make_order(gift_state, main_order=main, amount="0.00")
        return main, gift

    return make


def events_of(order) -> list[tuple[str, str, str, str]]:
    return list(
        OrderEvent.objects.filter(order=order)
        .order_by("id")
        .values_list("action", "from_state", "to_state", "actor_role")
    )


@pytest.mark.parametrize(
    ("main_action", "gift_state", "moves"),
    [
        ("ship", State.PAID, ["ship_with_main"]),
        ("ship", State.PACKED, ["ship_with_main"]),
        ("ship", State.SHIPPED, []),
        ("ship", State.RISK_HOLD, None),
        ("pick_up", State.REVIEWED, ["ship_with_main", "pick_up"]),
        ("pick_up", State.SHIPPED, ["pick_up"]),
        ("deliver", State.ALLOCATED, ["ship_with_main", "deliver"]),
        ("deliver", State.PICKED_UP, ["deliver"]),
        ("deliver", State.CANCELLED, None),
        ("archive", State.DELIVERED, ["archive"]),
        ("archive", State.PICKED_UP, ["deliver", "archive"]),
        ("archive", State.PAID, ["cancel"]),
        ("refund", State.DELIVERED, ["archive"]),
        ("cancel", State.PAID, ["cancel"]),
        ("cancel", State.SHIPPED, None),
        ("approve", State.PAID, []),  # not a move gifts follow
    ],
)
def test_gift_moves_for_each_main_move(main_action, gift_state, moves):
    assert gift_moves(main_action=main_action, gift_state=gift_state) == moves


@pytest.mark.django_db
def test_gifts_ship_deliver_and_archive_with_their_main_order(main_and_gift, users):
    main, gift = main_and_gift("packed", "paid")
    second_gift = Order.objects.get(pk=order_create(actor=None, channel="manual", amount="0", main_order=main).pk)
    assert gift.is_gift and second_gift.is_gift

    ship = order_transition(main.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF5550001111")
    for g in (gift, second_gift):
        g.refresh_from_db()
        assert g.state == State.SHIPPED
        last = OrderEvent.objects.filter(order=g).latest("id")
        assert (last.action, last.actor_role, last.actor_id) == ("ship_with_main", "system", None)
        assert main.number in last.note
        # Same transaction: written at the same moment as the main order's event.
        assert last.occurred_at >= ship.occurred_at

    order_transition(main.pk, "deliver", actor=None)
    gift.refresh_from_db()
    assert gift.state == State.DELIVERED
    order_transition(main.pk, "archive", actor=users["ops1"])
    gift.refresh_from_db()
    assert gift.state == State.ARCHIVED
    assert [e[0] for e in events_of(gift)][-3:] == ["ship_with_main", "deliver", "archive"]


@pytest.mark.django_db
def test_cancelling_the_main_order_cancels_its_gifts(main_and_gift, users):
    main, gift = main_and_gift("paid", "paid")
    order_transition(main.pk, "cancel", actor=users["cs1"], note="买家申请取消订单")
    gift.refresh_from_db()
    assert gift.state == State.CANCELLED
    assert OrderEvent.objects.filter(order=gift).latest("id").actor_role == "system"


@pytest.mark.django_db
def test_a_gift_that_cannot_follow_says_why_and_the_main_order_moves_on(main_and_gift, users):
    main, gift = main_and_gift("packed", "risk_hold")
    version = gift.version
    order_transition(main.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF5550002222")
    gift.refresh_from_db()
    assert (gift.state, gift.version) == (State.RISK_HOLD, version)
    refused = OrderEvent.objects.filter(order=gift).latest("id")
    assert refused.action == GIFT_NOT_FOLLOWED
    assert main.number in refused.note and "Risk hold" in refused.note
    assert Order.objects.get(pk=main.pk).state == State.SHIPPED


@pytest.mark.django_db
def test_a_gift_that_fails_to_move_rolls_back_the_main_order_too(main_and_gift, users, monkeypatch):
    main, gift = main_and_gift("packed", "paid")
    before = (events_of(main), events_of(gift), Order.objects.get(pk=main.pk).version)
    # A gift move that turns out illegal inside the transaction: nothing may be half applied.
    monkeypatch.setattr("orders.services.transition.gift_moves", lambda **kwargs: ["pack"])
    with pytest.raises(IllegalTransition):
        order_transition(main.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF5550003333")
    assert (events_of(main), events_of(gift), Order.objects.get(pk=main.pk).version) == before
    assert Order.objects.get(pk=main.pk).state == State.PACKED
    assert not main.shipments.exists()


@pytest.mark.django_db
def test_only_gifts_ship_with_a_main_order_and_only_the_system_moves_them(main_and_gift, make_order, users):
    order = make_order("packed")
    with pytest.raises(InvalidActionData, match="Only a gift order"):
        order_transition(order.pk, "ship_with_main", actor=None)
    _main, gift = main_and_gift("packed", "packed")
    with pytest.raises(ActionNotPermitted):
        order_transition(gift.pk, "ship_with_main", actor=users["wh1"])
    assert Order.objects.get(pk=gift.pk).state == State.PACKED
    assert "ship_with_main" not in [t.action for t in order.available_transitions_for(None)]
    assert "ship_with_main" in [t.action for t in Order.objects.get(pk=gift.pk).available_transitions_for(None)]


@pytest.mark.django_db
def test_a_gift_must_name_its_main_order(users):
    with pytest.raises(InvalidActionData, match="must name its main order"):
        order_create(actor=None, channel="manual", amount="0", is_gift=True)
    assert not Order.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gift_packed_while_its_main_order_ships_no_deadlock_no_lost_move(main_and_gift, users):
    for round_ in range(5):
        main, gift = main_and_gift("packed", "allocated")
        outcomes = collide(
            [main.pk, gift.pk],
            [
                Move("wh1", "ship", data={"carrier": "sf", "tracking_number": f"SF77700{round_:05d}"}),
                Move("wh1", "pack"),
            ],
            expected_version=None,
            hold=("SELECT id FROM orders_order WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [[main.pk, gift.pk]]),
        )
        ship, pack = outcomes
        assert ship.won, ship.error
        gift.refresh_from_db()
        assert gift.state == State.SHIPPED
        actions = [e[0] for e in events_of(gift)]
        if pack.won:
            # The warehouse packed the gift first; it then left with the main order.
            assert actions[-2:] == ["pack", "ship_with_main"]
        else:
            assert isinstance(pack.error, IllegalTransition)
            assert actions[-1] == "ship_with_main" and "pack" not in actions
        # The timeline is a chain of states the gift really passed through.
        chain = events_of(gift)
        assert all(prev[2] == cur[1] for prev, cur in itertools.pairwise(chain) if cur[1])
        assert gift.version == 1 + sum(1 for e in chain if e[0] not in ("created",))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gift_details_edited_while_its_main_order_ships_keep_both_changes(main_and_gift, users):
    from django.db import connection

    main, gift = main_and_gift("packed", "paid")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(fn):
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            fn()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    wh1, cs1 = users["wh1"], users["cs1"]
    wh1.has_perm("orders.can_ship"), cs1.has_perm("orders.change_order")
    threads = [
        threading.Thread(
            target=run,
            args=(lambda: order_transition(main.pk, "ship", actor=wh1, carrier="zto", tracking_number="ZTO88800011"),),
        ),
        threading.Thread(
            target=run,
            args=(
                lambda: order_update_details(
                    order_id=gift.pk, actor=cs1, expected_version=None, priority=Priority.HIGH
                ),
            ),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(THREAD_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert not errors, errors
    gift.refresh_from_db()
    assert (gift.state, gift.priority) == (State.SHIPPED, Priority.HIGH)
    assert gift.version == 4  # created 1, paid 2, then the edit and the move in either order
