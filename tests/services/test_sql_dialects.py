"""orders/services/sql/: PostgreSQL's fast paths and their portable twin, held to the same
assertions (same rows, same keys set on the objects, same history rows, a lock that locks).

Every test runs on each dialect module: the twin (sqlite.py, the ORM) on whatever database
the tests use, and PostgreSQL's version under the `postgres` marker, that is whenever
DATABASE_URL is PostgreSQL (always in CI), where the twin runs beside it on the same database.
The query counts differ by design and are written out per dialect: the PostgreSQL paths are
the measured hot paths and must not grow a query."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from orders.events import order_event_build
from orders.models import HubSettings, Order, OrderEvent
from orders.services import sql
from orders.services.shops import shop_default_for_channel
from orders.services.sql import postgresql as sql_postgresql
from orders.services.sql import sqlite as sql_sqlite
from orders.services.sql.common import TRACKED, HistoricalOrder
from orders.states import STATE_MAP, Priority, Role, State

THREAD_TIMEOUT = 30  # seconds

DIALECTS = [
    pytest.param(sql_sqlite, id="sqlite"),
    pytest.param(sql_postgresql, id="postgresql", marks=pytest.mark.postgres),
]
# Statements Django's query log sees, per call. PostgreSQL's COPY runs on the driver's own
# cursor, beside the log: its rows_insert is the one key query plus the COPY.
QUERIES = {
    sql_postgresql: {"rows_insert": 1, "order_update_with_history": 1, "with_event": 1, "order_lock_row": 1},
    sql_sqlite: {"rows_insert": 1, "order_update_with_history": 2, "with_event": 3, "order_lock_row": 1},
}


@pytest.fixture(params=DIALECTS)
def dialect(request):
    return request.param


def columns_of(obj) -> dict:
    """The values of every column the code writes (generated columns are the database's)."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if not f.generated}


def new_orders(count: int, *, main_order=None) -> list[Order]:
    shop = shop_default_for_channel("shopify")
    now = timezone.now()
    return [
        Order(
            number=f"OHSQL{now:%H%M%S%f}-{n}",
            channel="shopify",
            shop=shop,
            external_id=f"sql-{now.timestamp()}-{n}",
            buyer_email=f"buyer{n}@example.com",
            recipient_name="王小明",
            ship_address="上海市浦东新区世纪大道 100 号",
            ordered_at=now - timedelta(hours=n),
            amount=Decimal("88.50") + n,
            currency="CNY",
            state=State.PAID,
            version=2,
            updated_at=now,
            state_changed_at=now,
            main_order=main_order,
        )
        for n in range(count)
    ]


# --- rows_insert -------------------------------------------------------------------------------


def test_rows_insert_writes_the_rows_and_sets_their_keys(dialect, db, django_assert_num_queries):
    main = new_orders(1)
    dialect.rows_insert(Order, main)
    orders = new_orders(3, main_order=main[0])

    with django_assert_num_queries(QUERIES[dialect]["rows_insert"]):
        dialect.rows_insert(Order, orders)

    keys = [order.pk for order in orders]
    assert all(keys) and len(set(keys)) == 3 and main[0].pk not in keys
    assert all(not order._state.adding and order._state.db == "default" for order in orders)
    stored = Order.objects.in_bulk(keys)
    assert set(stored) == set(keys)
    for order in orders:
        assert order.created_at is not None  # auto_now_add, set on the object as on the row
        assert columns_of(stored[order.pk]) == columns_of(order)
        # The generated columns are the database's, from what was written.
        assert stored[order.pk].is_gift is True
        assert (stored[order.pk].main_status, stored[order.pk].payment_status) == tuple(STATE_MAP[State.PAID][:2])
    assert Order.objects.get(pk=main[0].pk).is_gift is False


def test_rows_insert_of_events_and_history_rows(dialect, db):
    """The batch intake's other rows: events (JSON data, a key to the new order) and history
    rows (their own key, history_id)."""
    (order,) = new_orders(1)
    dialect.rows_insert(Order, [order])
    at = timezone.now()
    events = [
        OrderEvent(
            order=order,
            action=action,
            from_state=from_state,
            to_state=to_state,
            actor=None,
            actor_name="",
            actor_role=Role.SYSTEM,
            occurred_at=at,
            order_version=version,
            note="渠道导入 / imported",
            data={"channel": "shopify", "lines": [{"sku": "茶-01", "qty": 2}], "gift": None},
        )
        for version, (action, from_state, to_state) in enumerate(
            [("created", "", State.SUBMITTED), ("pay", State.SUBMITTED, State.PAID)], start=1
        )
    ]
    row = {name: getattr(order, name) for name in TRACKED}
    history = [
        HistoricalOrder(history_date=at, history_type=kind, history_user=None, **{**row, "state": state, "version": v})
        for v, (kind, state) in enumerate([("+", State.SUBMITTED), ("~", State.PAID)], start=1)
    ]

    dialect.rows_insert(OrderEvent, events)
    dialect.rows_insert(HistoricalOrder, history)

    assert all(event.pk for event in events) and events[0].pk < events[1].pk
    stored_events = OrderEvent.objects.in_bulk([event.pk for event in events])
    for event in events:
        assert columns_of(stored_events[event.pk]) == columns_of(event)
    assert [h.history_id for h in history] == sorted(h.history_id for h in history if h.history_id)
    stored_history = list(HistoricalOrder.objects.filter(id=order.pk).order_by("history_id"))
    assert [h.history_id for h in stored_history] == [h.history_id for h in history]
    assert [columns_of(h) for h in stored_history] == [columns_of(h) for h in history]


def test_rows_insert_of_nothing_sends_nothing(dialect, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        dialect.rows_insert(Order, [])


# --- order_update_with_history -----------------------------------------------------------------


@pytest.mark.parametrize("who", ["cs1", None])
def test_order_update_with_history_writes_the_row_and_its_history_row(
    dialect, who, make_order, users, django_assert_num_queries
):
    order = make_order(State.PAID)
    actor = users[who] if who else None
    history_before = HistoricalOrder.objects.filter(id=order.pk).count()
    at = timezone.now() + timedelta(seconds=7)
    update_fields = [
        "priority",
        "buyer_email",
        "cs_owner",
        "version",
        "updated_by",
        "updated_at",
        "role_changed_at",
        "contested_until",
    ]
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        locked.priority = Priority.HIGH
        locked.buyer_email = "new-buyer@example.com"
        locked.cs_owner = users["cs2"]
        locked.version += 1
        locked.updated_by = actor
        locked.updated_at = at
        locked.role_changed_at = {Role.CUSTOMER_SERVICE: at.isoformat()}
        locked.contested_until = at + timedelta(hours=2)
        locked.buyer_phone = "13900000000"  # changed on the object but not named: not written

        with django_assert_num_queries(QUERIES[dialect]["order_update_with_history"]):
            dialect.order_update_with_history(locked, update_fields, actor=actor, at=at)

    stored = Order.objects.get(pk=order.pk)
    assert {name: getattr(stored, name) for name in update_fields} == {
        "priority": Priority.HIGH,
        "buyer_email": "new-buyer@example.com",
        "cs_owner": users["cs2"],
        "version": order.version + 1,
        "updated_by": actor,
        "updated_at": at,
        "role_changed_at": {Role.CUSTOMER_SERVICE: at.isoformat()},
        "contested_until": at + timedelta(hours=2),
    }
    # Nothing else of the row changed.
    unchanged = [
        name for name in columns_of(order) if name not in {Order._meta.get_field(f).attname for f in update_fields}
    ]
    assert {name: getattr(stored, name) for name in unchanged} == {name: getattr(order, name) for name in unchanged}

    history = list(HistoricalOrder.objects.filter(id=order.pk).order_by("history_id"))
    assert len(history) == history_before + 1
    last = history[-1]
    assert (last.history_type, last.history_date, last.history_user_id) == ("~", at, actor.pk if actor else None)
    assert last.history_change_reason is None
    # The history row is a copy of the row as saved.
    assert {name: getattr(last, name) for name in TRACKED} == {name: getattr(stored, name) for name in TRACKED}


@pytest.mark.parametrize("who", ["cs1", None])
def test_order_update_with_history_saves_the_event_with_the_change(
    dialect, who, make_order, users, django_assert_num_queries
):
    """A transition's whole write: the row, its history row and the event that records it (on
    PostgreSQL one statement); the event's key is set on it as on a saved one."""
    order = make_order(State.PAID)
    actor = users[who] if who else None
    at = timezone.now() + timedelta(seconds=7)
    update_fields = ["state", "version", "updated_by", "updated_at", "state_changed_at"]
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        locked.approve()
        locked.version += 1
        locked.updated_by = actor
        locked.updated_at = locked.state_changed_at = at
        event = order_event_build(
            order=locked,
            action="approve",
            from_state=State.PAID,
            actor=actor,
            occurred_at=at,
            note="审核通过 / approved",
            data={"rule": 7, "lines": [{"sku": "茶-01", "qty": 2}], "gift": None},
        )

        with django_assert_num_queries(QUERIES[dialect]["with_event"]):
            dialect.order_update_with_history(locked, update_fields, actor=actor, at=at, event=event)

    assert event.pk and not event._state.adding and event._state.db == "default"
    stored_event = OrderEvent.objects.get(pk=event.pk)
    assert columns_of(stored_event) == columns_of(event)
    assert (stored_event.to_state, stored_event.order_version) == (State.REVIEWED, order.version + 1)
    stored = Order.objects.get(pk=order.pk)
    assert (stored.state, stored.version, stored.updated_by, stored.updated_at) == (
        State.REVIEWED,
        order.version + 1,
        actor,
        at,
    )
    last = HistoricalOrder.objects.filter(id=order.pk).order_by("history_id").last()
    assert (last.history_type, last.history_date, last.history_user_id) == ("~", at, actor.pk if actor else None)
    assert {name: getattr(last, name) for name in TRACKED} == {name: getattr(stored, name) for name in TRACKED}


def test_order_update_with_history_of_a_missing_row_raises_and_keeps_no_event(dialect, make_order):
    order = make_order(State.PAID)
    events_before = OrderEvent.objects.count()
    at = timezone.now()
    with pytest.raises((RuntimeError, DatabaseError)), transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        locked.pk = locked.id = 10**9  # no such row
        locked.version += 1
        event = order_event_build(order=locked, action="approve", from_state=State.PAID, actor=None, occurred_at=at)
        dialect.order_update_with_history(locked, ["version"], actor=None, at=at, event=event)
    assert OrderEvent.objects.count() == events_before
    assert Order.objects.get(pk=order.pk).version == order.version


# --- order_lock_row ----------------------------------------------------------------------------


def another_connection_can_lock(table: str, row_id: int) -> bool:
    """Whether a second connection (another thread) can lock the row right now, without
    waiting: on PostgreSQL `SELECT … FOR UPDATE NOWAIT`; on SQLite, which locks the whole
    database for a writer, BEGIN IMMEDIATE (the settings' transaction mode) with no busy wait.
    Refused: False. Granted: the row is read, and the lock let go at once."""
    outcome: dict = {}

    def attempt() -> None:
        try:
            if connection.vendor == "sqlite":
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA busy_timeout = 0")  # fail at once instead of waiting 20 s
                lock_clause = ""
            else:
                lock_clause = " FOR UPDATE NOWAIT"
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id FROM {connection.ops.quote_name(table)} WHERE id = %s{lock_clause}", [row_id]
                )
                outcome["rows"] = cursor.fetchall()
        except OperationalError as exc:
            outcome["refused"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(THREAD_TIMEOUT)
    assert not thread.is_alive(), "the second connection waited for the lock instead of being refused"
    if "refused" in outcome:
        assert "lock" in str(outcome["refused"]), repr(outcome["refused"])
        return False
    assert outcome["rows"] == [(row_id,)]
    return True


@pytest.mark.django_db(transaction=True)
def test_order_lock_row_locks_the_order_until_the_transaction_ends(dialect, make_order, django_assert_num_queries):
    order = make_order(State.PAID)
    thresholds = HubSettings.objects.filter(pk=1).values_list("conflict_role_count", "conflict_window_hours").first()
    table = Order._meta.db_table
    assert another_connection_can_lock(table, order.pk)

    with transaction.atomic():
        with django_assert_num_queries(QUERIES[dialect]["order_lock_row"]):
            locked = dialect.order_lock_row(order.pk)
        assert isinstance(locked, Order)
        assert columns_of(locked) == columns_of(Order.objects.get(pk=order.pk))
        # The hub's conflict thresholds ride along (None, None without the settings row).
        assert (locked.conflict_role_count_setting, locked.conflict_window_hours_setting) == (
            thresholds or (None, None)
        )
        assert not another_connection_can_lock(table, order.pk)

    assert another_connection_can_lock(table, order.pk)


def test_order_lock_row_of_no_order_is_none(dialect, db):
    with transaction.atomic():
        assert dialect.order_lock_row(-1) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_order_lock_row_on_postgresql_locks_that_order_row_only(dialect, make_order):
    """A row lock (FOR UPDATE OF the order table): other orders and the settings row read
    beside it stay free. SQLite's lock is the whole database, so this holds on PostgreSQL only."""
    order, other = make_order(State.PAID), make_order(State.PAID)
    HubSettings.objects.get_or_create(pk=1)
    with transaction.atomic():
        dialect.order_lock_row(order.pk)
        assert not another_connection_can_lock(Order._meta.db_table, order.pk)
        assert another_connection_can_lock(Order._meta.db_table, other.pk)
        assert another_connection_can_lock(HubSettings._meta.db_table, 1)


# --- the dispatching API -----------------------------------------------------------------------


def test_the_api_runs_this_databases_dialect(db):
    expected = sql_postgresql if connection.vendor == "postgresql" else sql_sqlite
    assert sql._dialect() is expected
    for name in ("rows_insert", "order_update_with_history", "order_lock_row"):
        assert callable(getattr(expected, name)) and callable(getattr(sql, name))
