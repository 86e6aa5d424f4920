"""Row locks and the version check, shared by every write to an order."""

from __future__ import annotations

from django.db import connection
from django.db.models import Subquery

from ..exceptions import OrderNotFound, StaleOrderError
from ..models import HubSettings, Order
from ..permissions import user_display_name

# The thresholds of "changed by many roles" ride along with the lock, read in the same
# statement: the save of a change works out until when the order is contested from them
# (orders/conflicts.py) without another round trip.
HUB_SETTINGS_WITH_LOCK = {
    f"{name}_setting": Subquery(HubSettings.objects.filter(pk=1).values(name)[:1])
    for name in ("conflict_role_count", "conflict_window_hours")
}


# The lock's statement, compiled once per database vendor: Django takes 0.8 ms to compile a
# query of every order column, more than PostgreSQL takes to run it, on every transition.
_LOCK_STATEMENTS: dict[str, tuple[str, list]] = {}
_ANY_ID = -424242  # stands for the order id while compiling; it is the last parameter


def _lock_statement() -> tuple[str, list]:
    if connection.vendor not in _LOCK_STATEMENTS:
        queryset = Order.objects.select_for_update(of=("self",)).annotate(**HUB_SETTINGS_WITH_LOCK).filter(pk=_ANY_ID)
        sql, params = queryset.query.get_compiler(connection=connection).as_sql()
        if not params or params[-1] != _ANY_ID:
            raise RuntimeError("the order lock's statement does not end with the order id")
        _LOCK_STATEMENTS[connection.vendor] = (sql, list(params[:-1]))
    return _LOCK_STATEMENTS[connection.vendor]


def order_lock(order_id) -> Order:
    """Lock one order row until the transaction ends (FOR UPDATE on the order table only).
    Where several orders move together, lock them in primary-key order."""
    try:
        order_id = int(order_id)
    except (ValueError, TypeError):
        raise OrderNotFound(order_id) from None
    sql, params = _lock_statement()
    found = list(Order.objects.raw(sql, [*params, order_id]))
    if not found:
        raise OrderNotFound(order_id)
    return found[0]


def order_check_version(order: Order, expected_version) -> None:
    """Refuse a write based on an older view of the order, naming who changed it and when."""
    if expected_version is None or int(expected_version) == order.version:
        return
    # The event that made the current version: notes and failed reactions come later without
    # changing the order, and must not be named as the change.
    last = order.events.filter(order_version=order.version).order_by("occurred_at", "id").first()
    if last is not None:
        changed_by = last.actor_display
    else:
        changed_by = user_display_name(order.updated_by)
    raise StaleOrderError(
        number=order.number,
        changed_by=changed_by,
        changed_at=order.updated_at,
        expected=int(expected_version),
        actual=order.version,
    )
