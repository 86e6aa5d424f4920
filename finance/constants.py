"""Finance's statuses in one place (its timeline event types are in finance/events.py). Imports
no models, so anything can import it."""

from __future__ import annotations

from django.db import models
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
