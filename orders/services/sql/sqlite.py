"""The portable twins of postgresql.py, for SQLite (the embedded mode): the same effects
through the ORM and standard SQL, which any database Django supports can run.

SQLite has no row locks: the base settings open every transaction with BEGIN IMMEDIATE, which
takes the database's write lock, so a transaction that locks an order already excludes every
other writer until it ends (coarser than PostgreSQL's row lock, never weaker)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model

from ...models import Order, OrderEvent
from .common import TRACKED_COLUMNS, HistoricalOrder, order_lock_row_fetch


def rows_insert(model: type[Model], objs: list[Any]) -> None:
    model._default_manager.bulk_create(objs, batch_size=1000)


def order_update_with_history(order: Order, update_fields: list[str], *, actor, at, event=None) -> None:
    # simple-history's own post_save row is skipped: the one below carries the event's user
    # and time, as PostgreSQL's statement does.
    order.skip_history_when_saving = True
    try:
        order.save(update_fields=update_fields)
    finally:
        del order.skip_history_when_saving
    # Copied from the row as saved, as PostgreSQL's statement copies what its UPDATE left (not
    # from the object, which may hold changes that were not among update_fields).
    quote = connection.ops.quote_name
    tracked = ", ".join(quote(column) for column in TRACKED_COLUMNS)
    history_date = HistoricalOrder._meta.get_field("history_date").get_db_prep_save(at, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(HistoricalOrder._meta.db_table)} "
            f"({tracked}, history_date, history_type, history_user_id) "
            f"SELECT {tracked}, %s, '~', %s FROM {quote(Order._meta.db_table)} WHERE id = %s",
            [history_date, actor.pk if actor is not None else None, order.pk],
        )
    if event is not None:
        rows_insert(OrderEvent, [event])


def order_lock_row(order_id: int) -> Order | None:
    return order_lock_row_fetch(order_id)
