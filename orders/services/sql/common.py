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
_LOCK_STATEMENTS: dict[str, tuple[str, list]] = {}
_ANY_ID = -424242  # stands for the order id while compiling; it is the last parameter


def order_lock_statement() -> tuple[str, list]:
    """(sql, params) of the order lock, the order id to be appended to params. On PostgreSQL
    Django compiles `FOR UPDATE OF` the order table; SQLite has no row locks, and Django leaves
    the clause out there."""
    vendor = connection.vendor
    if vendor not in _LOCK_STATEMENTS:
        queryset = Order.objects.select_for_update(of=("self",)).annotate(**HUB_SETTINGS_WITH_LOCK).filter(pk=_ANY_ID)
        sql, params = queryset.query.get_compiler(connection=connection).as_sql()
        if not params or params[-1] != _ANY_ID:
            raise RuntimeError("the order lock's statement does not end with the order id")
        _LOCK_STATEMENTS[vendor] = (sql, list(params[:-1]))
    return _LOCK_STATEMENTS[vendor]
