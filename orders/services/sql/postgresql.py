"""PostgreSQL's versions: the hot paths the benchmarks measure (bench/transition.py,
bench/import_orders.py). Their portable twins with the same effects are in sqlite.py."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model

from ...models import Order, OrderEvent
from .common import TRACKED_COLUMNS, HistoricalOrder, order_lock_row_fetch


def rows_insert(model: type[Model], objs: list[Any]) -> None:
    """The keys are taken from the table's sequence in one query, then the rows go in with
    COPY (the same values bulk_create would send, without its per-value ORM overhead: a third
    of the import's time)."""
    if not objs:
        return
    meta = model._meta
    table = meta.db_table
    if meta.auto_field is not None and meta.pk is meta.auto_field:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, meta.pk.column, len(objs)],
            )
            keys = [key for (key,) in cursor.fetchall()]
        for obj, key in zip(objs, keys, strict=True):
            setattr(obj, meta.pk.attname, key)
    elif any(getattr(obj, meta.pk.attname) is None for obj in objs):
        raise ValueError(f"{model.__name__} rows need their keys: the table numbers none")
    fields = [f for f in meta.concrete_fields if not f.generated]
    # Every value read in one call (operator.attrgetter of all the names, in C), then the few
    # that need the field's own preparation put in their places.
    values = operator.attrgetter(*(f.attname for f in fields))
    prepared: list[tuple[int, Callable[..., Any]]] = []
    for index, f in enumerate(fields):
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            prepared.append((index, lambda obj, f=f: f.pre_save(obj, True)))
        elif f.get_internal_type() == "JSONField":
            prepared.append((index, lambda obj, f=f: f.get_db_prep_save(getattr(obj, f.attname), connection)))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    statement = f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            read = values(obj)
            row: list[Any] = list(read) if len(fields) > 1 else [read]
            for index, prepare in prepared:
                row[index] = prepare(obj)
            copy.write_row(row)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def order_update_with_history(order: Order, update_fields: list[str], *, actor, at, event=None) -> None:
    """The UPDATE and the history row in one statement, the history copied from the row the
    UPDATE leaves: one round trip and no model machinery on the hottest write (each transition
    and edit), where two saves through the ORM cost a quarter of the transition's time
    (bench/transition.py). Django's save() has no other work here: the order has no save
    signals but the history's, which this replaces. With `event`, the event goes in the same
    statement too: a transition's whole write is one round trip."""
    statement = _update_statement(tuple(update_fields), with_event=event is not None)
    params = [field.get_db_prep_save(getattr(order, field.attname), connection) for field in statement.fields]
    params += [order.pk, at, actor.pk if actor is not None else None]
    if event is not None:
        params += [get(event) for get in statement.event_values]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        if event is None:
            saved = cursor.rowcount
        else:
            event_id, saved = cursor.fetchone()
        if saved != 1:  # the row is locked by the caller: it cannot be gone
            raise RuntimeError(f"order {order.pk} was not saved")
    if event is not None:
        event.pk = event_id
        event._state.adding = False
        event._state.db = connection.alias


class _UpdateStatement:
    """One shape of the order's UPDATE (its fields, with or without the event), built once:
    the SQL text and the getters of the event's values."""

    def __init__(self, update_fields: tuple[str, ...], *, with_event: bool) -> None:
        self.fields = [cast(Field, Order._meta.get_field(name)) for name in update_fields]
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in self.fields)
        tracked = ", ".join(quote(column) for column in TRACKED_COLUMNS)
        history = (
            f"INSERT INTO {quote(HistoricalOrder._meta.db_table)} "
            f"({tracked}, history_date, history_type, history_user_id) "
            f"SELECT {tracked}, %s, '~', %s FROM changed"
        )
        changed = (
            f"changed AS (UPDATE {quote(Order._meta.db_table)} SET {assignments} WHERE id = %s RETURNING {tracked})"
        )
        self.event_values: list[Callable[..., Any]] = []
        if not with_event:
            self.sql = f"WITH {changed} {history}"
            return
        event_fields = [f for f in OrderEvent._meta.concrete_fields if not f.primary_key and not f.generated]
        self.event_values = [_value_getter(f) for f in event_fields]
        columns = ", ".join(quote(f.column) for f in event_fields)
        placeholders = ", ".join("%s" for _f in event_fields)
        # Every part of a WITH runs to completion whatever the main statement reads; the count
        # of `changed` rides back with the event's key so that a missing order still raises.
        self.sql = (
            f"WITH {changed}, history AS ({history}) "
            f"INSERT INTO {quote(OrderEvent._meta.db_table)} ({columns}) VALUES ({placeholders}) "
            f"RETURNING {quote(OrderEvent._meta.pk.column)}, (SELECT count(*) FROM changed)"
        )


_UPDATE_STATEMENTS: dict[tuple[tuple[str, ...], bool], _UpdateStatement] = {}


def _update_statement(update_fields: tuple[str, ...], *, with_event: bool) -> _UpdateStatement:
    key = (update_fields, with_event)
    statement = _UPDATE_STATEMENTS.get(key)
    if statement is None:
        statement = _UPDATE_STATEMENTS[key] = _UpdateStatement(update_fields, with_event=with_event)
    return statement


def _value_getter(field: Field) -> Callable[..., Any]:
    """The value an INSERT sends for `field` of an object, as the ORM's save would."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), connection)
    return lambda obj: field.get_db_prep_save(getattr(obj, field.attname), connection)


def order_lock_row(order_id: int) -> Order | None:
    """SELECT … FOR UPDATE OF the order table, from the statement compiled once, on a plain
    cursor (a RawQuerySet maps its columns to the model again on every call)."""
    return order_lock_row_fetch(order_id)
