"""order_transition: the role × action matrix, illegal moves, stale versions, data and files.
Every refusal must leave the order, its timeline and its shipments exactly as they were."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.exceptions import (
    ActionNotPermitted,
    AttachmentRejected,
    IllegalTransition,
    InvalidActionData,
    StaleOrderError,
    TrackingNumberConflict,
    UnknownAction,
)
from orders.models import Attachment, Order, OrderEvent, Shipment
from orders.services.transition import order_transition
from orders.states import HUMAN_ROLES, STATE_MAP, TRANSITIONS, Role, State
from tests.factories import UserFactory

ACTOR_FOR_ROLE = {
    Role.CUSTOMER_SERVICE: "cs1",
    Role.WAREHOUSE: "wh1",
    Role.FINANCE: "fin1",
    Role.OPERATIONS: "ops1",
    Role.TECH_LEAD: "tech1",
    Role.SYSTEM: None,
}
ALL_ROLES = [*HUMAN_ROLES, Role.SYSTEM]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

_tracking_counter = iter(range(10**6))


def data_for(transition, warehouses) -> dict:
    data = {}
    if "warehouse" in transition.requires:
        data["warehouse"] = warehouses[0]
    if "tracking_number" in transition.requires:
        data["carrier"] = "sf"
        data["tracking_number"] = f"SFT{next(_tracking_counter):09d}"
    if transition.note_required:
        data["note"] = "reason given"
    return data


def order_in(state, transition, make_order):
    """An order in `state` that `transition` could apply to: a gift order for the move only
    gifts take."""
    if transition.action == "ship_with_main":
        return make_order(state, main_order=make_order("paid"), amount="0.00")
    if state == State.INTERCEPT_FAILED and transition.action == "ship":
        # The warehouse could not pull it: the parcel left before its tracking number was recorded.
        order = make_order(State.PACKED)
        order_transition(order.pk, "request_intercept", actor=None, note="buyer cancelled")
        order_transition(order.pk, "fail_intercept", actor=None, note="already handed to the courier")
        return Order.objects.get(pk=order.pk)
    return make_order(state)


def snapshot(order_id: int) -> tuple:
    order = Order.objects.get(pk=order_id)
    return (
        order.state,
        order.version,
        order.updated_by_id,
        order.updated_at,
        order.warehouse_id,
        OrderEvent.objects.filter(order_id=order_id).count(),
        Shipment.objects.filter(order_id=order_id).count(),
        Attachment.objects.filter(event__order_id=order_id).count(),
        order.history.count(),
    )


def actor(users, role):
    username = ACTOR_FOR_ROLE[role]
    return users[username] if username else None


MATRIX = [(t, source, role) for t in TRANSITIONS for source in t.sources for role in ALL_ROLES]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("transition", "source", "role"),
    MATRIX,
    ids=[f"{t.action}-from-{s}-by-{r}" for t, s, r in MATRIX],
)
def test_role_matrix(transition, source, role, make_order, users, warehouses):
    order = order_in(source, transition, make_order)
    before = snapshot(order.pk)
    who = actor(users, role)
    if transition.service_only:
        # Taken only by its own service (merge: orders/services/split_merge.py, tested there).
        refused = InvalidActionData if role in transition.roles else ActionNotPermitted
        with pytest.raises(refused):
            order_transition(order.pk, transition.action, actor=who, **data_for(transition, warehouses))
        assert snapshot(order.pk) == before
        return
    if role in transition.roles:
        event = order_transition(
            order.pk, transition.action, actor=who, expected_version=order.version, **data_for(transition, warehouses)
        )
        order.refresh_from_db()
        assert order.state == transition.target
        assert order.version == before[1] + 1
        assert order.updated_by == who
        assert (event.action, event.from_state, event.to_state) == (transition.action, source, transition.target)
        assert event.actor == who and event.actor_role == role
        assert event.order_version == order.version
        # A risk hold raises its exception, a release or a cancel clears it: a line each.
        exception_lines = OrderEvent.objects.filter(
            order=order, action__in=("exception_raised", "exception_cleared"), id__gt=event.id
        ).count()
        assert exception_lines == (1 if transition.action in ("flag_risk", "release") or source == "risk_hold" else 0)
        assert OrderEvent.objects.filter(order=order).count() == before[5] + 1 + exception_lines
    else:
        with pytest.raises(ActionNotPermitted):
            order_transition(order.pk, transition.action, actor=who, **data_for(transition, warehouses))
        assert snapshot(order.pk) == before


# Not the merge (its service refuses it first) nor a gift's move from "merged" (no gift is merged).
ILLEGAL = [
    (t, state)
    for t in TRANSITIONS
    for state in State
    if state not in t.sources and not t.service_only and not (t.gift_only and state == State.MERGED)
]


@pytest.mark.django_db
@pytest.mark.parametrize(("transition", "state"), ILLEGAL, ids=[f"{t.action}-from-{s}" for t, s in ILLEGAL])
def test_illegal_moves_are_refused_and_change_nothing(transition, state, make_order, users, warehouses):
    order = order_in(state, transition, make_order)
    before = snapshot(order.pk)
    allowed_role = sorted(transition.roles)[0]
    # Shipping again once a tracking number exists is the conflict of the seed's incident.
    has_tracking = transition.action == "ship" and Shipment.objects.filter(order=order).exists()
    expected = TrackingNumberConflict if has_tracking else IllegalTransition
    with pytest.raises(expected) as excinfo:
        order_transition(
            order.pk, transition.action, actor=actor(users, allowed_role), **data_for(transition, warehouses)
        )
    assert order.number in excinfo.value.message
    assert snapshot(order.pk) == before


@pytest.mark.django_db
def test_superuser_may_take_any_action_and_is_recorded_as_admin(make_order, users):
    order = make_order("paid")
    event = order_transition(order.pk, "approve", actor=users["admin"])
    assert event.actor_role == Role.ADMIN


@pytest.mark.django_db
def test_user_without_a_role_is_refused(make_order):
    nobody = UserFactory(username="nobody")
    order = make_order("paid")
    before = snapshot(order.pk)
    with pytest.raises(ActionNotPermitted):
        order_transition(order.pk, "approve", actor=nobody)
    assert snapshot(order.pk) == before


@pytest.mark.django_db
def test_inactive_user_is_refused(make_order, users):
    order = make_order("paid")
    users["cs1"].is_active = False
    users["cs1"].save()
    with pytest.raises(ActionNotPermitted):
        order_transition(order.pk, "approve", actor=users["cs1"])


@pytest.mark.django_db
def test_stale_version_is_refused_naming_who_changed_it(make_order, users):
    order = make_order("paid")
    seen = order.version
    order_transition(order.pk, "flag_risk", actor=users["ops1"], expected_version=seen, note="address mismatch")
    before = snapshot(order.pk)
    with pytest.raises(StaleOrderError) as excinfo:
        order_transition(order.pk, "cancel", actor=users["cs1"], expected_version=seen, note="buyer asked")
    message = excinfo.value.message
    assert "刘洋" in message and "Operations" in message
    assert f"your version {seen}, now {seen + 1}" in message
    assert snapshot(order.pk) == before


@pytest.mark.django_db
def test_unknown_action_and_unknown_order(make_order, users):
    from orders.exceptions import OrderNotFound

    order = make_order("paid")
    with pytest.raises(UnknownAction):
        order_transition(order.pk, "teleport", actor=users["cs1"])
    with pytest.raises(OrderNotFound):
        order_transition(10**9, "approve", actor=users["cs1"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "data", "expected"),
    [
        ("ship", {"carrier": "sf"}, "tracking number"),
        ("ship", {"carrier": "sf", "tracking_number": "  "}, "tracking number"),
        ("ship", {"carrier": "sf", "tracking_number": "SF 12;DROP"}, "not a valid tracking number"),
        ("ship", {"carrier": "pigeon", "tracking_number": "SF1234567890"}, "Unknown carrier"),
        ("ship", {"carrier": "sf", "tracking_number": "SF1234567890", "warehouse": 1}, "does not accept"),
    ],
)
def test_bad_action_data_is_refused(action, data, expected, make_order, users):
    order = make_order("packed")
    before = snapshot(order.pk)
    with pytest.raises(InvalidActionData) as excinfo:
        order_transition(order.pk, action, actor=users["wh1"], **data)
    assert expected in excinfo.value.message
    assert snapshot(order.pk) == before


@pytest.mark.django_db
def test_reason_is_required_where_the_table_says_so(make_order, users):
    order = make_order("paid")
    before = snapshot(order.pk)
    with pytest.raises(InvalidActionData, match="reason"):
        order_transition(order.pk, "cancel", actor=users["cs1"], note="   ")
    assert snapshot(order.pk) == before


@pytest.mark.django_db
def test_allocate_needs_an_active_warehouse(make_order, users, warehouses):
    order = make_order("reviewed")
    warehouses[0].is_active = False
    warehouses[0].save()
    with pytest.raises(InvalidActionData, match="inactive"):
        order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouses[0])
    order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouses[1].pk)
    order.refresh_from_db()
    assert order.warehouse == warehouses[1]
    assert order.warehouse_stage == "packing"


@pytest.mark.django_db
def test_ship_records_an_append_only_shipment(make_order, users):
    order = make_order("packed")
    order_transition(order.pk, "ship", actor=users["wh1"], carrier="zto", tracking_number="zt-7788990011")
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number, shipment.sequence) == ("zto", "ZT-7788990011", 1)
    assert shipment.created_by == users["wh1"]
    assert shipment.event.action == "ship"


@pytest.mark.django_db
def test_reship_adds_a_row_and_keeps_the_first(make_order, users):
    order = make_order("packed")
    order_transition(order.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF1000000001")
    with pytest.raises(TrackingNumberConflict) as excinfo:
        order_transition(order.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF1000000002")
    assert "SF1000000001" in excinfo.value.message
    order_transition(order.pk, "pick_up", actor=None)
    order_transition(
        order.pk, "reship", actor=users["cs1"], carrier="zto", tracking_number="ZTO2000000001", note="lost in transit"
    )
    rows = list(Shipment.objects.filter(order=order).values_list("sequence", "tracking_number", "reason"))
    assert rows == [(1, "SF1000000001", ""), (2, "ZTO2000000001", "lost in transit")]
    order.refresh_from_db()
    assert order.state == State.SHIPPED
    assert order.current_shipment.tracking_number == "ZTO2000000001"


@pytest.mark.django_db
def test_a_tracking_number_belongs_to_one_order(make_order, users):
    first, second = make_order("packed"), make_order("packed")
    order_transition(first.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF3000000001")
    before = snapshot(second.pk)
    with pytest.raises(InvalidActionData) as excinfo:
        order_transition(second.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF3000000001")
    assert first.number in excinfo.value.message
    assert snapshot(second.pk) == before


@pytest.mark.django_db
def test_attachments_are_kept_with_the_event(make_order, users):
    order = make_order("delivered")
    photo = SimpleUploadedFile("broken.png", PNG, content_type="image/png")
    event = order_transition(order.pk, "request_return", actor=users["cs1"], note="damaged", attachments=[photo])
    attachment = event.attachments.get()
    assert (attachment.original_name, attachment.content_type, attachment.size) == ("broken.png", "image/png", len(PNG))
    assert attachment.file.read() == PNG


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.txt", b"just text", "not a JPEG"),
        ("fake.png", b"MZ\x90\x00 executable", "not a JPEG"),
        ("empty.png", b"", "empty"),
        ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048, "larger than"),
    ],
)
def test_bad_attachments_change_nothing(name, content, expected, make_order, users, settings):
    settings.ORDERHUB_ATTACHMENT_MAX_BYTES = 1024
    order = make_order("delivered")
    before = snapshot(order.pk)
    upload = SimpleUploadedFile(name, content)
    with pytest.raises(AttachmentRejected, match=expected):
        order_transition(order.pk, "request_return", actor=users["cs1"], note="damaged", attachments=[upload])
    assert snapshot(order.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("state", list(State))
def test_derived_columns_follow_the_state_map(state, make_order):
    order = make_order(state)
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.main_status, fresh.payment_status, fresh.warehouse_stage) == tuple(STATE_MAP[state])
    # The instance the service returned agrees with the database.
    assert (order.main_status, order.payment_status, order.warehouse_stage) == tuple(STATE_MAP[state])


@pytest.mark.django_db
def test_state_cannot_be_assigned_or_bulk_updated(make_order):
    from orders.models import DirectStateChangeError

    order = make_order("paid")
    with pytest.raises(AttributeError):
        order.state = State.DELIVERED
    with pytest.raises(DirectStateChangeError):
        Order.objects.filter(pk=order.pk).update(state=State.DELIVERED)
    assert Order.objects.get(pk=order.pk).state == State.PAID


@pytest.mark.django_db
def test_available_transitions_follow_state_and_role(make_order, users):
    packed = make_order("packed")
    assert [t.action for t in packed.available_transitions_for(users["wh1"])] == ["ship"]
    # Customer service may only ask the warehouse to stop it (截单).
    assert [t.action for t in packed.available_transitions_for(users["cs1"])] == ["request_intercept"]
    paid = make_order("paid")
    # Merging links to its own page (orders/admin.py ACTIONS_ELSEWHERE).
    assert [t.action for t in paid.available_transitions_for(users["cs1"])] == [
        "flag_risk",
        "approve",
        "cancel",
        "merge",
    ]
    # The system approves for an approval rule (审单策略).
    assert [t.action for t in paid.available_transitions_for(None)] == ["flag_risk", "approve", "cancel"]


@pytest.mark.django_db(transaction=True)
def test_nested_variant_moves_several_orders_in_one_transaction(make_order, users):
    from django.db import transaction

    from orders.services.transition import order_transition_in_transaction

    first, second = make_order("paid"), make_order("paid")
    with pytest.raises(RuntimeError, match="needs an open transaction"):
        order_transition_in_transaction(first.pk, "approve", actor=users["cs1"])
    with pytest.raises(IllegalTransition), transaction.atomic():
        order_transition_in_transaction(first.pk, "approve", actor=users["cs1"])
        order_transition_in_transaction(second.pk, "pack", actor=users["wh1"])
    # All or nothing: the first move was rolled back with the second's refusal.
    assert Order.objects.get(pk=first.pk).state == State.PAID
    with transaction.atomic():
        for order in sorted([first, second], key=lambda o: o.pk):
            order_transition_in_transaction(order.pk, "approve", actor=users["cs1"])
    assert set(Order.objects.filter(pk__in=[first.pk, second.pk]).values_list("state", flat=True)) == {"reviewed"}


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_move_locks_then_writes_its_row_history_and_event_in_one_statement(make_order, users):
    """The measured hot path (bench/transition.py): after the lock, the order's UPDATE, its
    history row and its event are one statement on PostgreSQL; the outbox rows follow."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order = make_order("paid")
    with CaptureQueriesContext(connection) as queries:
        event = order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
    touching = [
        q["sql"]
        for q in queries.captured_queries
        if any(table in q["sql"] for table in ('"orders_order"', '"orders_orderevent"', '"orders_historicalorder"'))
    ]
    assert len(touching) == 2, touching
    lock, write = touching
    assert lock.startswith("SELECT") and "FOR UPDATE" in lock
    assert write.startswith("WITH changed AS (UPDATE") and '"orders_historicalorder"' in write
    assert '"orders_orderevent"' in write
    assert OrderEvent.objects.get(pk=event.pk).order_version == order.version + 1
    assert Order.objects.get(pk=order.pk).history.filter(history_type="~", version=order.version + 1).count() == 1
