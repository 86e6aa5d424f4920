"""Saving a locked order row together with its field-history row."""

from __future__ import annotations

from django.db import connection

from ..conflicts import role_change_record
from ..models import Order
from ..permissions import role_of
from ..selectors import hub_settings_get
from ..states import Role

HistoricalOrder = Order.history.model
_TRACKED = [f.attname for f in HistoricalOrder.tracked_fields]
_TRACKED_COLUMNS = [f.column for f in HistoricalOrder.tracked_fields]


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
    if connection.vendor == "postgresql":
        _update_with_history_row(order, update_fields, actor=actor, at=at)
    else:
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


def _update_with_history_row(order: Order, update_fields: list[str], *, actor, at) -> None:
    """The UPDATE and the history row in one statement, the history copied from the row the
    UPDATE leaves: one round trip and no model machinery on the hottest write (each transition
    and edit), where two saves through the ORM cost a quarter of the transition's time
    (bench/transition.py). Django's save() has no other work here: the order has no save
    signals but the history's, which this replaces."""
    fields = [Order._meta.get_field(name) for name in update_fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    values = [field.get_db_prep_save(getattr(order, field.attname), connection) for field in fields]
    tracked = ", ".join(quote(column) for column in _TRACKED_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH changed AS (UPDATE {quote(Order._meta.db_table)} SET {assignments} WHERE id = %s "
            f"RETURNING {tracked}) "
            f"INSERT INTO {quote(HistoricalOrder._meta.db_table)} "
            f"({tracked}, history_date, history_type, history_user_id) "
            f"SELECT {tracked}, %s, '~', %s FROM changed",
            [*values, order.pk, at, actor.pk if actor is not None else None],
        )
        if cursor.rowcount != 1:  # the row is locked by the caller: it cannot be gone
            raise RuntimeError(f"order {order.pk} was not saved")


def _conflict_settings(order: Order) -> tuple[int, int]:
    """The hub's conflict thresholds, as read with the row lock (services/locking.py); read now
    for an order locked by other means, or before the settings row exists."""
    role_count = getattr(order, "conflict_role_count_setting", None)
    window_hours = getattr(order, "conflict_window_hours_setting", None)
    if role_count is None or window_hours is None:
        settings_row = hub_settings_get()
        role_count, window_hours = settings_row.conflict_role_count, settings_row.conflict_window_hours
    return role_count, window_hours
