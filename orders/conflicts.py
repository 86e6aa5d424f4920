"""Contested orders: changed by `conflict_role_count` or more roles of people within
`conflict_window_hours` (HubSettings), the operations board's "changed by many roles".

Every save of a change records the acting role's time in `Order.role_changed_at` and works out
`Order.contested_until` from it (services/order_rows.py): the moment the order stops counting,
when the oldest of its last `conflict_role_count` roles' changes leaves the window. Reading
"contested now" is then `contested_until >= now` on a small index. The system is not a person
and does not count; a note, a photo or finance's invoice steps leave the order as it was and
do not count either (they do not save the order).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .events import ORDER_DETAILS_UPDATED
from .states import TRANSITIONS_BY_ACTION

# What counts as changing an order: moves and edited details (the events of the saves that
# record a role, services/order_rows.py).
CONTESTED_ACTIONS = (*TRANSITIONS_BY_ACTION, ORDER_DETAILS_UPDATED)


def contested_until(role_changed_at: dict[str, str], *, role_count: int, window_hours: int) -> datetime | None:
    """Until when an order whose roles last changed it at `role_changed_at` ({role: ISO time})
    counts as contested: the `role_count`-th most recent of those times plus the window; None
    while fewer roles ever changed it."""
    if len(role_changed_at) < role_count:
        return None
    times = sorted((datetime.fromisoformat(value) for value in role_changed_at.values()), reverse=True)
    return times[role_count - 1] + timedelta(hours=window_hours)


def role_change_record(order, *, role: str | None, at: datetime, role_count: int, window_hours: int) -> None:
    """Note on `order` (not saved) that a person in `role` changed it at `at`."""
    order.role_changed_at = {**(order.role_changed_at or {}), str(role or ""): at.isoformat()}
    order.contested_until = contested_until(order.role_changed_at, role_count=role_count, window_hours=window_hours)
