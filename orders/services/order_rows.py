"""Saving a locked order row together with its field-history row."""

from __future__ import annotations

from ..conflicts import DEFAULT_ROLE_COUNT, DEFAULT_WINDOW_HOURS, role_change_record
from ..models import HubSettings, Order
from ..permissions import role_of
from ..states import Role

HistoricalOrder = Order.history.model
_TRACKED = [f.attname for f in HistoricalOrder.tracked_fields]


def order_save_locked(order: Order, *, update_fields: list[str], actor, at) -> None:
    """UPDATE the order and append its django-simple-history row (same user and time as the
    event). The history row is written here rather than by the library's post_save handler,
    which rebuilds its history manager on every save: a third of the transition's Python time.
    Every caller saves a change to the order (a move or edited details): the acting role is
    recorded for "changed by many roles" (orders/conflicts.py)."""
    role = role_of(actor)
    if role != Role.SYSTEM:  # the system is not a person: its changes do not count
        role_count, window_hours = _conflict_settings(order)
        role_change_record(order, role=role, at=at, role_count=role_count, window_hours=window_hours)
        update_fields = [*update_fields, "role_changed_at", "contested_until"]
    order.skip_history_when_saving = True
    try:
        order.save(update_fields=update_fields)
    finally:
        del order.skip_history_when_saving
    HistoricalOrder.objects.create(
        history_date=at,
        history_type="~",
        history_user=actor,
        **{name: getattr(order, name) for name in _TRACKED},
    )
    order.sync_derived_fields()


def _conflict_settings(order: Order) -> tuple[int, int]:
    """The hub's conflict thresholds, as read with the row lock (services/locking.py), else
    read now (an order locked by other means), else the defaults (no settings row yet)."""
    role_count = getattr(order, "conflict_role_count_setting", None)
    window_hours = getattr(order, "conflict_window_hours_setting", None)
    if not hasattr(order, "conflict_role_count_setting"):
        settings_row = HubSettings.objects.filter(pk=1).only("conflict_role_count", "conflict_window_hours").first()
        if settings_row is not None:
            role_count, window_hours = settings_row.conflict_role_count, settings_row.conflict_window_hours
    return role_count or DEFAULT_ROLE_COUNT, window_hours or DEFAULT_WINDOW_HOURS
