"""PostgreSQL's versions: the hot paths the benchmarks measure (bench/transition.py,
bench/import_orders.py). Their portable twins with the same effects are in sqlite.py."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model

from ...models import Order
from .common import TRACKED_COLUMNS, HistoricalOrder, order_lock_statement


def rows_insert(model: type[Model], objs: list[Any]) -> None:
    """The keys are taken from the table's sequence in one query, then the rows go in with
    COPY (the same values bulk_create would send, without its per-value ORM overhead: a third
    of the import's time)."""
    if not objs:
        return
    meta = model._meta
    table = meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, meta.pk.column, len(objs)],
        )
        keys = [key for (key,) in cursor.fetchall()]
    for obj, key in zip(objs, keys, strict=True):
        setattr(obj, meta.pk.attname, key)
    fields = [f for f in meta.concrete_fields if not f.generated]
    getters: list[Callable[..., Any]] = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            getters.append(lambda obj, f=f: f.pre_save(obj, True))
        elif f.get_internal_type() == "JSONField":
            getters.append(lambda obj, f=f: f.get_db_prep_save(getattr(obj, f.attname), connection))
        else:
            getters.append(operator.attrgetter(f.attname))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    statement = f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            copy.write_row([get(obj) for get in getters])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def order_update_with_history(order: Order, update_fields: list[str], *, actor, at) -> None:
    """The UPDATE and the history row in one statement, the history copied from the row the
    UPDATE leaves: one round trip and no model machinery on the hottest write (each transition
    and edit), where two saves through the ORM cost a quarter of the transition's time
    (bench/transition.py). Django's save() has no other work here: the order has no save
    signals but the history's, which this replaces."""
    fields = [cast(Field, Order._meta.get_field(name)) for name in update_fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    values = [field.get_db_prep_save(getattr(order, field.attname), connection) for field in fields]
    tracked = ", ".join(quote(column) for column in TRACKED_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH changed AS (UPDATE {quote(Order._meta.db_table)} SET {assignments} WHERE id = %s "
            f"RETURNING {tracked}) "
            f"INSERT INTO {quote(HistoricalOrder._meta.db_table)} "
            f"({tracked}, history_date, history_type, history_user_id) "
            f"SELECT {tracked}, %s, '~', %s FROM changed",
            [*values, order.pk, at, actor.pk if actor is not None else None],
        )
        if cursor.rowcount != 1:  # the row is locked by the caller: it cannot be gone
            raise RuntimeError(f"order {order.pk} was not saved")


def order_lock_row(order_id: int) -> Order | None:
    """SELECT … FOR UPDATE OF the order table, run raw from the statement compiled once."""
    sql, params = order_lock_statement()
    found = list(Order.objects.raw(sql, [*params, order_id]))
    return found[0] if found else None
