"""The history rows of a batch of new orders, copied from their rows by the database: the batch
intake (services/intake.py) writes each order in its final state and records every step it
took to get there ("+" created, then one "~" per transition) without building the rows in
Python, where they were a fifth of an import's time (bench/import_orders.py).

    order_history_steps_insert(steps, at=, user=None)    steps: (order id, "+" or "~", state, version)

Each history row is the order's row as written, with the step's state and version, at time `at`
and by `user` (None: the system, no history user), in the order of `steps`: simple-history reads the latest
step by its key when the times are equal, so an order's "+" row gets a smaller key than its
"~" rows. PostgreSQL: one INSERT … SELECT joining the steps (as arrays) to the orders; the
portable twin (SQLite, the embedded mode): the same INSERT … SELECT once per step.
tests/services/test_sql_dialects.py holds both to the same assertions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from ...models import Order
from .common import TRACKED_COLUMNS, HistoricalOrder

Step = tuple[int, str, str, int]  # (order id, history type, state, version)


def order_history_steps_insert(steps: Sequence[Step], *, at: datetime, user: Any = None) -> None:
    """Append the steps' history rows (see the module's docstring)."""
    if not steps:
        return
    user_id = user.pk if user is not None else None
    if connection.vendor == "postgresql":
        postgresql_steps_insert(steps, at=at, user_id=user_id)
    else:
        portable_steps_insert(steps, at=at, user_id=user_id)


def _columns() -> tuple[str, str]:
    """(the history table's columns, the expressions that fill them): every tracked column from
    the order row `o`, but the state and version from the step `s`; then time, type and user."""
    quote = connection.ops.quote_name
    own = {Order._meta.get_field("state").column: "s.state", Order._meta.get_field("version").column: "s.version"}
    columns = ", ".join(quote(column) for column in TRACKED_COLUMNS)
    values = ", ".join(own.get(column, f"o.{quote(column)}") for column in TRACKED_COLUMNS)
    return f"{columns}, history_date, history_type, history_user_id", f"{values}, %s, s.history_type, %s"


def postgresql_steps_insert(steps: Sequence[Step], *, at: datetime, user_id: int | None) -> None:
    """One statement; for several steps the keys are taken from the sequence first, in the
    order of `steps` (an INSERT … SELECT does not promise the order it numbers its rows in)."""
    quote = connection.ops.quote_name
    table, key = HistoricalOrder._meta.db_table, HistoricalOrder._meta.pk.column
    columns, values = _columns()
    order_ids, kinds, states, versions = (list(column) for column in zip(*steps, strict=True))
    with connection.cursor() as cursor:
        if len(steps) == 1:  # one row (a single order's creation): the column's default numbers it
            keys, key_column, key_value = None, "", ""
        else:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, key, len(steps)],
            )
            keys = [value for (value,) in cursor.fetchall()]
            key_column, key_value = f"{quote(key)}, ", "s.history_id, "
        cursor.execute(
            f"INSERT INTO {quote(table)} ({key_column}{columns}) SELECT {key_value}{values} "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::integer[]) "
            "AS s(history_id, order_id, history_type, state, version) "
            f"JOIN {quote(Order._meta.db_table)} o ON o.id = s.order_id",
            [at, user_id, keys or [None], order_ids, kinds, states, versions],
        )
        if cursor.rowcount != len(steps):
            raise RuntimeError(f"{len(steps) - cursor.rowcount} history step(s) found no order")


def portable_steps_insert(steps: Sequence[Step], *, at: datetime, user_id: int | None) -> None:
    """One INSERT … SELECT per step, in the order of `steps` (keys ascending as they go)."""
    quote = connection.ops.quote_name
    columns, values = _columns()
    history_date = HistoricalOrder._meta.get_field("history_date").get_db_prep_save(at, connection)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {quote(HistoricalOrder._meta.db_table)} ({columns}) SELECT {values} "
            "FROM (SELECT %s AS history_type, %s AS state, %s AS version) s "
            f"JOIN {quote(Order._meta.db_table)} o ON o.id = %s",
            [(history_date, user_id, kind, state, version, order_id) for order_id, kind, state, version in steps],
        )
