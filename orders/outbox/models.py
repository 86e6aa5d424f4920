"""The outbox's row: one reaction an event asked for, and what became of it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class OutboxMessage(models.Model):
    """One reaction an event triggered, written in the event's transaction so it cannot be lost.

    Delivery is at least once (on commit, then the re-dispatch sweep); the effect is exactly
    once: the worker locks the row, runs the reaction only while it is pending, and marks it
    done in the same transaction.
    """

    event = models.ForeignKey(
        "orders.OrderEvent", on_delete=models.PROTECT, related_name="outbox_messages", verbose_name=_("event")
    )
    # The subscription (an operations rule) that asked for it, kept as a plain id: the rule may
    # be edited or removed later, the message keeps what it was asked to do.
    rule_id = models.PositiveIntegerField(_("rule"), null=True, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )
    kind = models.CharField(_("reaction"), max_length=48)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    result = models.TextField(_("result"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    done_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        app_label = "orders"
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="outbox_pending_due_idx"),
            models.Index(fields=["status", "-created_at"], name="outbox_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
