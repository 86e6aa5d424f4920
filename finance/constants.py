"""Finance's statuses and timeline event types in one place. Imports no models, so anything can
import it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class InvoiceStatus(models.TextChoices):
    """An order's way through finance's to-invoice list."""

    # 待开票: added when the order is packed.
    PENDING = "pending", pgettext_lazy("invoice", "To invoice")
    # 开票申请: finance submitted it to the invoicing system.
    REQUESTED = "requested", pgettext_lazy("invoice", "Requested")
    # 已开票: the invoice exists, with its number.
    ISSUED = "issued", pgettext_lazy("invoice", "Issued")
    # 已撤销: taken off the list before an invoice was issued (the order was refunded).
    CANCELLED = "cancelled", pgettext_lazy("invoice", "Cancelled")


# What finance still has to do: the list opens on these.
OPEN_STATUSES = (InvoiceStatus.PENDING, InvoiceStatus.REQUESTED)

# Timeline event types (not state changes: the order's state does not move).
INVOICE_LISTED = "invoice_listed"
INVOICE_REQUESTED = "invoice_marked_requested"
INVOICE_ISSUED = "invoice_issued"
INVOICE_CANCELLED = "invoice_cancelled"
INVOICE_DETAILS_UPDATED = "invoice_details_updated"


def finance_event_types_register() -> None:
    from orders.events import event_type_register

    event_type_register(
        INVOICE_LISTED, verb=_("added the order to the to-invoice list"), label=_("Added to the to-invoice list")
    )
    event_type_register(
        INVOICE_REQUESTED,
        verb=_("marked the invoice requested"),
        label=_("Invoice marked requested (submitted to the invoicing system)"),
    )
    event_type_register(INVOICE_ISSUED, verb=_("recorded the issued invoice"), label=_("Invoice issued"))
    event_type_register(
        INVOICE_CANCELLED,
        verb=_("took the order off the to-invoice list"),
        label=_("Taken off the to-invoice list"),
    )
    event_type_register(
        INVOICE_DETAILS_UPDATED,
        verb=_("updated the invoice title and tax id"),
        label=_("Invoice title or tax id updated"),
    )
