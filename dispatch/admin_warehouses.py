"""What dispatch adds to the warehouse list in the admin (orders/admin_warehouses.py): the open
proposal for each warehouse's promise, a link to review it. Declared on DispatchConfig, since
orders does not import dispatch."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from orders.admin_warehouses import WarehouseColumn

from .models import OPEN_STATUSES, PromiseProposal


def _open_proposal_annotate(queryset: QuerySet) -> QuerySet:
    open_proposal = PromiseProposal.objects.filter(warehouse=OuterRef("pk"), status__in=OPEN_STATUSES)
    return queryset.annotate(
        open_proposal_id=Subquery(open_proposal.values("pk")[:1]),
        open_proposal_hours=Subquery(open_proposal.values("proposed_hours")[:1]),
    )


@admin.display(description=_("Proposed promise"))
def open_proposal(warehouse):
    proposal_id = getattr(warehouse, "open_proposal_id", None)
    if proposal_id is None:
        return "—"
    url = reverse("admin:dispatch_promiseproposal_change", args=[proposal_id])
    hours = warehouse.open_proposal_hours
    if hours is None:
        return format_html('<a href="{}">{}</a>', url, _("too few orders"))
    return format_html('<a href="{}">{}</a>', url, _("%(hours)s h — review") % {"hours": hours})


WAREHOUSE_COLUMNS = [WarehouseColumn(display=open_proposal, annotate=_open_proposal_annotate)]
