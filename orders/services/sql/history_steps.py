"""The history rows of a batch of new orders, copied from their rows by the database: the batch
intake (services/intake.py) writes each order in its final state and records every step it
took to get there ("+" created, then one "~" per transition) without building the rows in
Python, where they were a fifth of an import's time (bench/import_orders.py).

    order_history_steps_insert(steps, at=, user=None)    steps: (order id, "+" or "~", state, version)

Each history row is the order's row as written, with the step's state and version, at time `at`
and by `user` (None: the system, no history user). The rows are numbered by version, then in
the order of `steps`: simple-history reads the latest step by its key when the times are equal,
so an order's "+" row gets a smaller key than its "~" rows. PostgreSQL: one INSERT … SELECT
per version joining its steps to the orders; the portable twin (SQLite, the embedded mode):
the same INSERT … SELECT once per step.
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
    """One statement per version of the steps, the lower versions first: each row is numbered
    by the column's default, so an order's "+" row gets a smaller key than its "~" rows without
    asking the sequence for the keys beforehand. The ids and states go as one text parameter
    each (split by the database): as arrays psycopg would dump them value by value."""
    quote = connection.ops.quote_name
    columns, values = _columns()
    by_version: dict[int, list[Step]] = {}
    for step in steps:
        by_version.setdefault(step[3], []).append(step)
    written = 0
    with connection.cursor() as cursor:
        for version in sorted(by_version):
            group = by_version[version]
            order_ids, kinds, states, _versions = zip(*group, strict=True)
            cursor.execute(
                f"INSERT INTO {quote(HistoricalOrder._meta.db_table)} ({columns}) SELECT {values} "
                "FROM (SELECT u.*, %s::integer AS version FROM unnest(string_to_array(%s, ',')::bigint[], "
                "string_to_array(%s, ','), string_to_array(%s, ',')) AS u(order_id, history_type, state)) s "
                f"JOIN {quote(Order._meta.db_table)} o ON o.id = s.order_id",
                [at, user_id, version, ",".join(map(str, order_ids)), ",".join(kinds), ",".join(states)],
            )
            written += cursor.rowcount
    if written != len(steps):
        raise RuntimeError(f"{len(steps) - written} history step(s) found no order")


def portable_steps_insert(steps: Sequence[Step], *, at: datetime, user_id: int | None) -> None:
    """One INSERT … SELECT per step, by version, then in the order of `steps` (keys ascending
    as they go)."""
    quote = connection.ops.quote_name
    columns, values = _columns()
    history_date = HistoricalOrder._meta.get_field("history_date").get_db_prep_save(at, connection)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {quote(HistoricalOrder._meta.db_table)} ({columns}) SELECT {values} "
            "FROM (SELECT %s AS history_type, %s AS state, %s AS version) s "
            f"JOIN {quote(Order._meta.db_table)} o ON o.id = %s",
            [
                (history_date, user_id, kind, state, version, order_id)
                for order_id, kind, state, version in sorted(steps, key=lambda step: step[3])
            ],
        )
