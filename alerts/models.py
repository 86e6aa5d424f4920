"""Alerts and what decides them: reaction rules (data operations edit), alert kinds' settings,
thresholds. Notifications and chat robots are the notifications app's."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from orders.states import HUMAN_ROLES, Role, State


class AlertKind(models.TextChoices):
    STALE_ORDER = "stale_order", _("Stale order")
    CONFLICTING_EDITS = "conflicting_edits", _("Possible conflicting edits")
    SLA_BREACH = "sla_breach", _("Not shipped in the promised time")
    INTEGRATION_FAILURE = "integration_failure", _("Integration failure")
    DUPLICATE_REFUND = "duplicate_refund", _("Duplicate refund attempt")
    RISK_HOLD_WAITING = "risk_hold_waiting", _("Risk hold waiting too long")


class AlertSeverity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


ACTIVE_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


class Alert(models.Model):
    """Something operations must look at, about an order or an integration. At most one active
    (open or acknowledged) alert per kind and order, or per kind and integration: a sweep that
    finds the condition again updates it. It resolves itself when the condition clears, with the
    reason on record."""

    kind = models.CharField(_("kind"), max_length=32, choices=AlertKind.choices)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="alerts", verbose_name=_("order")
    )
    # "carrier:sf:upload_waybill", "channel:shopify": the integration when there is no order.
    integration = models.CharField(_("integration"), max_length=80, blank=True)
    severity = models.CharField(
        _("severity"), max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    assigned_role = models.CharField(
        _("assigned role"), max_length=32, choices=[(r.value, r.label) for r in HUMAN_ROLES], blank=True
    )
    title = models.CharField(_("title"), max_length=200)
    details = models.JSONField(_("details"), default=dict, blank=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    seen_count = models.PositiveIntegerField(_("times seen"), default=1)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # None with a resolved_at: the system resolved it because the condition cleared.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(_("resolution"), blank=True)
    # When it goes to the operations lead's chat if nobody acknowledged it; set at opening.
    escalate_at = models.DateTimeField(_("escalate at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "order"],
                condition=Q(status__in=["open", "acknowledged"]) & Q(order__isnull=False),
                name="alert_one_active_per_kind_order",
            ),
            models.UniqueConstraint(
                fields=["kind", "integration"],
                condition=Q(status__in=["open", "acknowledged"]) & ~Q(integration=""),
                name="alert_one_active_per_kind_integration",
            ),
            models.CheckConstraint(
                condition=Q(order__isnull=False) | ~Q(integration=""), name="alert_about_order_or_integration"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind", "-opened_at"], name="alert_board_idx"),
            models.Index(
                fields=["escalate_at"],
                condition=Q(status="open", escalated_at__isnull=True),
                name="alert_escalation_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AlertKindSettings(models.Model):
    """What operations decide per alert kind: on or off, how bad, whose it is, when it
    escalates and to which chat robots. Edited in the admin, every change audited."""

    kind = models.CharField(_("kind"), max_length=32, choices=AlertKind.choices, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    severity = models.CharField(
        _("severity"), max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    assigned_role = models.CharField(
        _("assigned role"),
        max_length=32,
        choices=[(r.value, r.label) for r in HUMAN_ROLES],
        default=Role.OPERATIONS,
    )
    escalation_minutes = models.PositiveIntegerField(
        _("escalate after (minutes)"),
        default=30,
        help_text=_("Not acknowledged within this time: the operations lead's chat robots are told."),
    )
    robots = models.ManyToManyField(
        "notifications.ChatRobot", verbose_name=_("escalate to robots"), blank=True, related_name="alert_kinds"
    )
    # Kind-specific thresholds: {"minutes": 120} for a risk hold, for example.
    params = models.JSONField(_("thresholds"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("last updated at"), auto_now=True)

    history = HistoricalRecords(m2m_fields=[robots])

    class Meta:
        verbose_name = _("alert kind settings")
        verbose_name_plural = _("alert kind settings")
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()


class StaleThreshold(models.Model):
    """How long an order may sit in one state before it is stale, where it differs from the
    hub's default (orders.HubSettings.stale_after_minutes)."""

    state = models.CharField(_("state"), max_length=32, choices=State.choices, unique=True)
    minutes = models.PositiveIntegerField(_("stale after (minutes)"), validators=[MinValueValidator(1)])
    updated_at = models.DateTimeField(_("last updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("stale threshold per state")
        verbose_name_plural = _("stale thresholds per state")
        ordering = ["state"]

    def __str__(self) -> str:
        return f"{self.get_state_display()}: {self.minutes}"
