"""The SQL that differs by database, in one place.

Each operation has PostgreSQL's version (postgresql.py: sequences, COPY, a data-modifying
WITH, a lock statement run raw; the hot paths the benchmarks measure) and a portable twin
(sqlite.py: the embedded mode) with the same effects: the same rows, the same keys set on the
objects, the same history rows, a lock that excludes other writers.
tests/services/test_sql_dialects.py runs the same assertions on both.

    rows_insert(model, objs)                                     new rows, keys set on objs
    order_update_with_history(order, update_fields, actor=, at=[, event=])
                                                                 UPDATE + its history row (+ event)
    order_lock_row(order_id) -> Order | None                     lock and read one order

The dialect is chosen by the connection's vendor at each call (an attribute read), so a
process that talks to another database, as the tests do, gets that database's version.
Dialect code stays here: callers (services/intake.py, order_rows.py, locking.py) only call
these functions."""

from __future__ import annotations

from datetime import datetime
from types import ModuleType
from typing import Any

from django.db import connection
from django.db.models import Model

from ...models import Order, OrderEvent
from . import postgresql, sqlite

__all__ = ["order_lock_row", "order_update_with_history", "rows_insert"]


def _dialect() -> ModuleType:
    return postgresql if connection.vendor == "postgresql" else sqlite


def rows_insert(model: type[Model], objs: list[Any]) -> None:
    """INSERT new rows of `model` and set their primary keys on `objs`, which then count as
    saved (a model whose key is not numbered by the table, like a one-to-one key, brings its own).
    As with bulk_create, no save signals are sent."""
    _dialect().rows_insert(model, objs)


def order_update_with_history(
    order: Order, update_fields: list[str], *, actor: Any, at: datetime, event: OrderEvent | None = None
) -> None:
    """UPDATE `update_fields` of the (locked) order's row and append its simple-history row
    ("~", user `actor`, time `at`), instead of simple-history's post_save row. With `event`
    (the unsaved OrderEvent that records the change, from orders.events.order_event_build),
    insert it as well and set its key: on PostgreSQL in the same statement. No save signals
    are sent for it, as for rows_insert."""
    _dialect().order_update_with_history(order, update_fields, actor=actor, at=at, event=event)


def order_lock_row(order_id: int) -> Order | None:
    """Lock the order's row until the transaction ends and read it, with the hub's conflict
    thresholds as `conflict_role_count_setting` and `conflict_window_hours_setting`; None when
    there is no such order. Where several orders move together, lock them in key order."""
    return _dialect().order_lock_row(order_id)
