"""Row locks and the version check, shared by every write to an order."""

from __future__ import annotations

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


def order_lock(order_id) -> Order:
    """Lock one order row until the transaction ends (FOR UPDATE on the order table only).
    Where several orders move together, lock them in primary-key order."""
    try:
        return Order.objects.select_for_update(of=("self",)).annotate(**HUB_SETTINGS_WITH_LOCK).get(pk=order_id)
    except (Order.DoesNotExist, ValueError, TypeError):
        raise OrderNotFound(order_id) from None


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
