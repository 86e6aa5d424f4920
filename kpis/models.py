"""The three health KPIs of the seed's acceptance test: status accuracy, cross-role latency and
manual interventions. Interventions are tagged as they happen (kpis/interventions.py), the
thresholds are operations' to edit, and one row per day keeps the history the dashboard draws."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from orders.states import Role


class InterventionKind(models.TextChoices):
    FORCED_STATUS = "forced_status", _("Status forced by an administrator")
    TRACKING_REENTERED = "tracking_reentered", _("Tracking number re-entered")
    RECONCILIATION_FIX = "reconciliation_fix", _("Reconciliation fix applied by a person")


class ManualIntervention(models.Model):
    """One correction made by hand, tagged from the timeline event that recorded it."""

    kind = models.CharField(_("kind"), max_length=32, choices=InterventionKind.choices)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+", verbose_name=_("order"))
    event = models.OneToOneField(
        "orders.OrderEvent", on_delete=models.PROTECT, related_name="+", verbose_name=_("event")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_role = models.CharField(_("actor role"), max_length=32, choices=Role.choices, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        verbose_name = _("manual intervention")
        verbose_name_plural = _("manual interventions")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["occurred_at"], name="intervention_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.order_id}"


class KpiThresholds(models.Model):
    """What "healthy" means: one row (pk=1), edited by operations in the admin, every change
    kept. Without the row the seed's values apply."""

    accuracy_min_percent = models.DecimalField(
        _("status accuracy at least (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("99.20"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    latency_p95_max_seconds = models.PositiveIntegerField(
        _("cross-role latency p95 at most (seconds)"), default=90, validators=[MinValueValidator(1)]
    )
    interventions_max_per_day = models.DecimalField(
        _("manual interventions at most (per day)"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("3"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    updated_at = models.DateTimeField(_("last updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("KPI thresholds")
        verbose_name_plural = _("KPI thresholds")
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="kpi_thresholds_singleton")]

    def __str__(self) -> str:
        return str(_("KPI thresholds"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> KpiThresholds:
        """The row, or the seed's defaults (unsaved) when operations never edited them."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class KpiDaily(models.Model):
    """The three KPIs for one local day, refreshed hourly for today and yesterday by beat
    (kpis.tasks.kpi_daily_refresh): the dashboard's history in one query."""

    day = models.DateField(_("day"), unique=True)
    accuracy_percent = models.FloatField(_("status accuracy (%)"), null=True, blank=True)
    status_compared = models.PositiveIntegerField(_("statuses compared"), default=0)
    status_matched = models.PositiveIntegerField(_("statuses matched"), default=0)
    latency_p50_seconds = models.FloatField(_("latency p50 (s)"), null=True, blank=True)
    latency_p95_seconds = models.FloatField(_("latency p95 (s)"), null=True, blank=True)
    latency_samples = models.PositiveIntegerField(_("latency samples"), default=0)
    interventions = models.PositiveIntegerField(_("manual interventions"), default=0)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("daily KPIs")
        verbose_name_plural = _("daily KPIs")
        ordering = ["-day"]

    def __str__(self) -> str:
        return self.day.isoformat()
