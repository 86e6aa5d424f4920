"""Saving a locked order row together with its field-history row."""

from __future__ import annotations

from ..conflicts import role_change_record
from ..models import Order, OrderEvent
from ..permissions import role_of
from ..selectors import hub_settings_get
from ..states import Role
from .sql import order_update_with_history


def order_save_locked(order: Order, *, update_fields: list[str], actor, at, event: OrderEvent | None = None) -> None:
    """UPDATE the order and append its django-simple-history row (same user and time as the
    event). The history row is written here rather than by the library's post_save handler,
    which rebuilds its history manager on every save: a third of the transition's Python time;
    on PostgreSQL in the same statement as the UPDATE (services/sql/).
    With `event` (built by orders.events.order_event_build from the order as changed, not yet
    saved), the event is inserted with them, on PostgreSQL in that same statement; the caller
    then hands it to orders.events.order_events_recorded, as for any saved event.
    Every caller saves a change to the order (a move or edited details): the acting role is
    recorded for "changed by many roles" (orders/conflicts.py)."""
    role = role_of(actor)
    if role != Role.SYSTEM:  # the system is not a person: its changes do not count
        role_count, window_hours = _conflict_settings(order)
        role_change_record(order, role=role, at=at, role_count=role_count, window_hours=window_hours)
        update_fields = [*update_fields, "role_changed_at", "contested_until"]
    order_update_with_history(order, update_fields, actor=actor, at=at, event=event)
    order.sync_derived_fields()


def _conflict_settings(order: Order) -> tuple[int, int]:
    """The hub's conflict thresholds, as read with the row lock (services/locking.py); read now
    for an order locked by other means, or before the settings row exists."""
    role_count = getattr(order, "conflict_role_count_setting", None)
    window_hours = getattr(order, "conflict_window_hours_setting", None)
    if role_count is None or window_hours is None:
        settings_row = hub_settings_get()
        role_count, window_hours = settings_row.conflict_role_count, settings_row.conflict_window_hours
    return role_count, window_hours
