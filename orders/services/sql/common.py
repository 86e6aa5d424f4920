"""What both dialects share: the history model's tracked columns and the order lock's
statement, which Django compiles for whichever database the connection is."""

from __future__ import annotations

from django.db import connection
from django.db.models import Subquery

from ...models import HubSettings, Order

HistoricalOrder = Order.history.model
TRACKED = [f.attname for f in HistoricalOrder.tracked_fields]
TRACKED_COLUMNS = [f.column for f in HistoricalOrder.tracked_fields]


# The thresholds of "changed by many roles" ride along with the lock, read in the same
# statement: the save of a change works out until when the order is contested from them
# (orders/conflicts.py, services/order_rows.py) without another round trip.
HUB_SETTINGS_WITH_LOCK = {
    f"{name}_setting": Subquery(HubSettings.objects.filter(pk=1).values(name)[:1])
    for name in ("conflict_role_count", "conflict_window_hours")
}

# The lock's statement, compiled once per database vendor: Django takes 0.8 ms to compile a
# query of every order column, more than PostgreSQL takes to run it, on every transition.
_LOCK_STATEMENTS: dict[str, OrderLockStatement] = {}
_ANY_ID = -424242  # stands for the order id while compiling; it is the last parameter


class OrderLockStatement:
    """The order lock compiled for one vendor: its SQL and parameters (the order id to be
    appended), and what turns a fetched row into an Order (the fields' converters, then
    `from_db`), which RawQuerySet would otherwise work out again on every call."""

    def __init__(self, sql: str, params: list, converters: dict, annotations: dict[str, int]) -> None:
        self.sql = sql
        self.params = params
        self._converters = list(converters.items())
        self._annotations = list(annotations.items())
        self._field_count = len(Order._meta.concrete_fields)
        self._attnames = [f.attname for f in Order._meta.concrete_fields]

    def order_from_row(self, row) -> Order:
        values = list(row)
        for position, (converters, expression) in self._converters:
            value = values[position]
            for converter in converters:
                value = converter(value, expression, connection)
            values[position] = value
        order = Order.from_db(connection.alias, self._attnames, values[: self._field_count])
        for name, position in self._annotations:
            setattr(order, name, values[position])
        return order


def order_lock_statement() -> OrderLockStatement:
    """The order lock for this connection's vendor. On PostgreSQL Django compiles `FOR UPDATE
    OF` the order table; SQLite has no row locks, and Django leaves the clause out there."""
    vendor = connection.vendor
    if vendor not in _LOCK_STATEMENTS:
        queryset = Order.objects.select_for_update(of=("self",)).annotate(**HUB_SETTINGS_WITH_LOCK).filter(pk=_ANY_ID)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        if not params or params[-1] != _ANY_ID:
            raise RuntimeError("the order lock's statement does not end with the order id")
        selected = [expression for expression, _sql, _alias in compiler.select]
        fields = [getattr(expression, "target", None) for expression in selected[: len(Order._meta.concrete_fields)]]
        if fields != list(Order._meta.concrete_fields):
            raise RuntimeError("the order lock's statement does not select the order's columns in model order")
        _LOCK_STATEMENTS[vendor] = OrderLockStatement(
            sql, list(params[:-1]), compiler.get_converters(selected), dict(compiler.annotation_col_map)
        )
    return _LOCK_STATEMENTS[vendor]


def order_lock_row_fetch(order_id: int) -> Order | None:
    """Run the lock on a plain cursor and build the order from its row."""
    lock = order_lock_statement()
    with connection.cursor() as cursor:
        cursor.execute(lock.sql, [*lock.params, order_id])
        row = cursor.fetchone()
    return None if row is None else lock.order_from_row(row)
