"""Finance's to-invoice list: one row per order, written by the packed reaction and moved by
finance through finance.services only (each move locks the row, checks the version, and writes
an event on the order's timeline)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import Order

from .constants import InvoiceStatus


class InvoiceRequest(models.Model):
    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, related_name="invoice_request", verbose_name=_("order")
    )
    status = models.CharField(
        _("invoice status"), max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.PENDING
    )
    # What the order was worth when it was listed: the invoice is for this amount.
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    # 发票抬头 / 税号: filled by finance when the buyer wants a company invoice.
    buyer_title = models.CharField(_("invoice title"), max_length=100, blank=True)
    buyer_tax_id = models.CharField(_("buyer tax id"), max_length=20, blank=True)
    invoice_number = models.CharField(_("invoice number"), max_length=20, blank=True)
    note = models.TextField(_("note"), blank=True)

    added_at = models.DateTimeField(_("added at"), default=timezone.now)
    requested_at = models.DateTimeField(_("requested at"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cancelled by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    # Optimistic locking: every change bumps it; a form sends the version it showed.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    updated_at = models.DateTimeField(_("last updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last updated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("invoice request")
        verbose_name_plural = _("to-invoice list")
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice_number"], condition=~Q(invoice_number=""), name="invoice_number_unique"
            ),
            models.CheckConstraint(
                condition=~Q(status=InvoiceStatus.ISSUED) | ~Q(invoice_number=""), name="invoice_issued_has_number"
            ),
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_known"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_amount_not_negative"),
        ]
        indexes = [
            # The list: one status (or the open ones), oldest first.
            models.Index(fields=["status", "added_at"], name="invoice_list_idx"),
            # "All statuses" and date ranges.
            models.Index(fields=["added_at"], name="invoice_added_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order.number} ({self.get_status_display()})"
