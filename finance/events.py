"""Finance's timeline event types (the order's state does not move). Imports no models, so
anything can import it; declared on FinanceConfig (orders.plugins)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from orders.plugins import EventType

# Timeline event types (not state changes: the order's state does not move).
INVOICE_LISTED = "invoice_listed"
INVOICE_REQUESTED = "invoice_marked_requested"
INVOICE_ISSUED = "invoice_issued"
INVOICE_CANCELLED = "invoice_cancelled"
INVOICE_DETAILS_UPDATED = "invoice_details_updated"

EVENT_TYPES = [
    EventType(INVOICE_LISTED, _("added the order to the to-invoice list"), _("Added to the to-invoice list")),
    EventType(
        INVOICE_REQUESTED,
        _("marked the invoice requested"),
        _("Invoice marked requested (submitted to the invoicing system)"),
    ),
    EventType(INVOICE_ISSUED, _("recorded the issued invoice"), _("Invoice issued")),
    EventType(INVOICE_CANCELLED, _("took the order off the to-invoice list"), _("Taken off the to-invoice list")),
    EventType(
        INVOICE_DETAILS_UPDATED,
        _("updated the invoice title and tax id"),
        _("Invoice title or tax id updated"),
    ),
]
