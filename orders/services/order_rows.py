"""Saving a locked order row together with its field-history row."""

from __future__ import annotations

from ..models import Order

HistoricalOrder = Order.history.model
_TRACKED = [f.attname for f in HistoricalOrder.tracked_fields]


def order_save_locked(order: Order, *, update_fields: list[str], actor, at) -> None:
    """UPDATE the order and append its django-simple-history row (same user and time as the
    event). The history row is written here rather than by the library's post_save handler,
    which rebuilds its history manager on every save: a third of the transition's Python time."""
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
