"""Keeping `Order.contested_until` true when operations change the thresholds of "changed by
many roles" (HubSettings.conflict_role_count, conflict_window_hours). Each save of a change
keeps its own order's value (services/order_rows.py); this works the value out again for every
order it can matter for, after the thresholds changed."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ..conflicts import CONTESTED_ACTIONS, contested_until
from ..models import Order, OrderEvent
from ..selectors import hub_settings_get
from ..states import Role

REFRESH_BATCH = 1000


def orders_contested_refresh(*, now: datetime | None = None) -> int:
    """Work `contested_until` out again with the hub's current thresholds for the orders that
    can be contested now or later: those a person changed within the window, and those flagged
    now (the new thresholds may clear them). Older orders' values lie in the past whatever the
    thresholds, and the past does not come back. Each batch is locked, so a change saved at the
    same time is not overwritten with an older view. Returns how many orders changed."""
    now = now or timezone.now()
    settings_row = hub_settings_get()
    since = now - timedelta(hours=settings_row.conflict_window_hours)
    order_ids = set(
        OrderEvent.objects.filter(occurred_at__gte=since, action__in=CONTESTED_ACTIONS)
        .exclude(actor_role=Role.SYSTEM)
        .values_list("order_id", flat=True)
        .distinct()
    )
    order_ids |= set(Order.objects.filter(contested_until__gte=now).values_list("pk", flat=True))
    ordered = sorted(order_ids)  # locks in primary-key order, as every multi-order write takes them
    changed = 0
    for start in range(0, len(ordered), REFRESH_BATCH):
        with transaction.atomic():
            orders = list(
                Order.objects.select_for_update(of=("self",))
                .filter(pk__in=ordered[start : start + REFRESH_BATCH])
                .order_by("pk")
                .only("pk", "role_changed_at", "contested_until")
            )
            stale = []
            for order in orders:
                until = contested_until(
                    order.role_changed_at,
                    role_count=settings_row.conflict_role_count,
                    window_hours=settings_row.conflict_window_hours,
                )
                if until != order.contested_until:
                    order.contested_until = until
                    stale.append(order)
            Order.objects.bulk_update(stale, ["contested_until"])
            changed += len(stale)
    return changed
