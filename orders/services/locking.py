"""Row locks and the version check, shared by every write to an order."""

from __future__ import annotations

from ..exceptions import OrderNotFound, StaleOrderError
from ..models import Order
from ..permissions import user_display_name
from .sql import order_lock_row


def order_lock(order_id) -> Order:
    """Lock one order row until the transaction ends (FOR UPDATE on the order table only).
    Where several orders move together, lock them in primary-key order."""
    try:
        order_id = int(order_id)
    except (ValueError, TypeError):
        raise OrderNotFound(order_id) from None
    order = order_lock_row(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


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
