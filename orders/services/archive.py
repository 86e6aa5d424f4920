"""Closing the books on delivered orders: archived after N days (operations set N in the hub
settings) when no after-sales case is open. Selected set-based on the (state, state changed at)
index, then moved one by one through the transition service, one event per order, in batches
so a long backlog never holds a long transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import OrderError
from ..models import Order
from ..selectors import hub_settings_get
from ..states import State
from .transition import order_transition

ARCHIVABLE_STATES = (State.DELIVERED, State.INVOICE_REQUESTED)


@dataclass
class ArchiveRun:
    archived: int = 0
    skipped: int = 0


def orders_due_for_archive(*, now=None):
    """Main orders delivered more than N days ago with no open after-sales case, oldest first.
    Gift orders are left out: they follow their main order."""
    days = hub_settings_get().archive_after_days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    ReturnRequest = apps.get_model("aftersales", "ReturnRequest")
    open_case = ReturnRequest.objects.filter(order_id=OuterRef("pk"), status__in=["requested", "approved"])
    return (
        Order.objects.filter(state__in=ARCHIVABLE_STATES, state_changed_at__lt=cutoff, main_order__isnull=True)
        .exclude(Exists(open_case))
        .order_by("state_changed_at", "pk")
    )


def orders_archive_due(*, now=None, batch_size: int = 500) -> ArchiveRun:
    """Archive what is due, as the system. An order someone moved meanwhile (a return was
    requested a moment ago) is refused by the transition service and skipped, not forced."""
    run = ArchiveRun()
    days = hub_settings_get().archive_after_days
    note = _("Archived automatically: delivered more than %(days)d days ago, no open after-sales case.") % {
        "days": days
    }
    skipped_ids: set[int] = set()
    while True:
        batch = list(
            orders_due_for_archive(now=now).exclude(pk__in=skipped_ids).values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return run
        for order_id in batch:
            try:
                order_transition(order_id, "archive", actor=None, note=note)
            except OrderError:
                skipped_ids.add(order_id)
                run.skipped += 1
            else:
                run.archived += 1
