"""After-sales: returns, their review, and refunds that move money exactly once.

The order's own state still moves only through the transition service (request_return,
approve_return, reject_return, refund); these rows hold what the state cannot: reasons, items,
photos, the return label, amounts and the payment gateway's answer.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import Order, OrderEvent, OrderLine
from orders.states import Carrier


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # 退货触发, waiting for after-sales review
    APPROVED = "approved", _("Approved")  # 售后审核通过
    REJECTED = "rejected", _("Rejected")
    REFUNDED = "refunded", _("Refunded")  # the money went back: case closed


OPEN_RETURN_STATUSES = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED)


class ReturnSource(models.TextChoices):
    HUB = "hub", _("Customer service")
    CHANNEL = "channel", _("Channel webhook")


class LabelStatus(models.TextChoices):
    NONE = "", _("No label")
    PENDING = "pending", _("Being issued")
    ISSUED = "issued", _("Issued")
    FAILED = "failed", _("Failed")


class ReturnRequest(models.Model):
    """One after-sales case: the buyer wants to send something back."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns", verbose_name=_("order"))
    status = models.CharField(_("status"), max_length=16, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED)
    reason = models.TextField(_("reason"))
    # [{"sku": "A-1", "name": "…", "quantity": 1}]: what comes back, as text. For an order with
    # lines the same as the return's ReturnLine rows say (written from them); for an order
    # without lines (brought in before lines existed) the only record of the items.
    items = models.JSONField(_("items"), default=list, blank=True)
    source = models.CharField(_("requested via"), max_length=16, choices=ReturnSource.choices)
    channel_reference = models.CharField(_("channel's return id"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    request_event = models.ForeignKey(
        OrderEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("request event")
    )

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    # The after-sales rule that decided instead of a person ("repeat customer: 3+ delivered").
    decided_by_rule = models.CharField(_("decided by rule"), max_length=120, blank=True)

    label_status = models.CharField(
        _("return label"), max_length=16, choices=LabelStatus.choices, default=LabelStatus.NONE, blank=True
    )
    label_prepaid = models.BooleanField(_("prepaid label"), default=False)
    label_carrier = models.CharField(_("label carrier"), max_length=16, choices=Carrier.choices, blank=True)
    label_tracking_number = models.CharField(_("return tracking number"), max_length=64, blank=True)
    label_error = models.TextField(_("label error"), blank=True)

    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open after-sales case per order at a time.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["requested", "approved"]),
                name="return_one_open_per_order",
            ),
            models.UniqueConstraint(
                fields=["order", "channel_reference"],
                condition=~Q(channel_reference=""),
                name="return_channel_reference_unique",
            ),
        ]
        indexes = [models.Index(fields=["status", "requested_at"], name="return_status_idx")]

    def __str__(self) -> str:
        return f"{self.order.number} · {self.get_status_display()}"


class ReturnLine(models.Model):
    """How many units of one of the order's lines come back with a return. Written with the
    return by `aftersales.services.returns` (which checks that the line is the order's and that
    no more units come back than were bought and not already returned); never changed after."""

    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines", verbose_name=_("return")
    )
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="return_lines", verbose_name=_("order line")
    )
    quantity = models.PositiveIntegerField(_("quantity returned"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("returned line")
        verbose_name_plural = _("returned lines")
        ordering = ["return_request", "order_line__position"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="return_line_quantity_positive"),
            # A line is named once per return, with all its units coming back.
            models.UniqueConstraint(fields=["return_request", "order_line"], name="return_line_once_per_return"),
        ]

    def __str__(self) -> str:
        return f"{self.order_line.sku or self.order_line.name} × {self.quantity}"


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Being paid")  # recorded; the gateway call is in the outbox
    # Asked while the parcel is being intercepted (截单): paid once it is stopped, failed if it
    # reaches the buyer (who returns it, and is refunded through the return).
    HELD = "held", _("Waiting for the interception")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")


class Refund(models.Model):
    """Money going back to the buyer. Exactly once: one live refund per return (a database
    constraint), one idempotency key per refund (sent to the gateway, which refuses to pay the
    same key twice), and the order row locked while the amount is checked."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    return_request = models.ForeignKey(
        ReturnRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
        verbose_name=_("return"),
    )
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(_("currency"), max_length=3)
    reason = models.TextField(_("reason"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    gateway = models.CharField(_("payment gateway"), max_length=32, blank=True)
    gateway_reference = models.CharField(_("gateway reference"), max_length=128, blank=True)
    failure_reason = models.TextField(_("failure reason"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    # The event that recorded the request, and the one that recorded the money leaving.
    request_event = models.ForeignKey(OrderEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    paid_event = models.ForeignKey(OrderEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            # The guard against paying a return twice: whatever the application does, the
            # database holds at most one refund per return that is not failed.
            models.UniqueConstraint(
                fields=["return_request"],
                condition=Q(return_request__isnull=False) & ~Q(status="failed"),
                name="refund_once_per_return",
            ),
        ]
        indexes = [models.Index(fields=["order", "status"], name="refund_order_status_idx")]

    def __str__(self) -> str:
        return f"{self.order.number} · {self.amount} {self.currency} · {self.get_status_display()}"


class DuplicateRefundAttempt(models.Model):
    """Someone (or a retrying system) asked to refund what was already refunded. Kept for
    operations: the seed's worst incident was 237 orders refunded twice."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+", verbose_name=_("order"))
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    existing_refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="duplicate_attempts")
    attempted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attempted_at = models.DateTimeField(_("attempted at"), default=timezone.now)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("duplicate refund attempt")
        verbose_name_plural = _("duplicate refund attempts")
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.order.number} · {self.attempted_at:%Y-%m-%d %H:%M}"
