"""Reconciliation: comparing the hub with another system's export (platform, WMS, finance,
carrier), recorded run by run. The carrier and WMS runs are the physical truth behind the
status-accuracy KPI."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Source(models.TextChoices):
    PLATFORM = "platform", _("Sales platform")
    WMS = "wms", _("Warehouse system")
    FINANCE = "finance", _("Finance ledger")
    CARRIER = "carrier", _("Carrier tracking")


# The sources that see the parcel itself: what they say is the physical truth.
PHYSICAL_SOURCES = (Source.WMS, Source.CARRIER)


class SourceMapping(models.Model):
    """How one export's columns and status words map onto the hub: edited by operations in the
    admin; each source has a default one."""

    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    name = models.CharField(_("name"), max_length=80)
    is_default = models.BooleanField(_("default for the source"), default=False)
    # {"number": "订单号", "external_id": "平台订单号", "status": "订单状态", "amount": "实付金额",
    #  "payment": "支付状态", "tracking_number": "运单号"}: hub field → the export's column.
    columns = models.JSONField(_("columns"), default=dict)
    # {"已发货": "shipped", "交易成功": "delivered"}: the export's status word → the hub's main status.
    statuses = models.JSONField(_("status words"), default=dict, blank=True)
    payment_statuses = models.JSONField(_("payment words"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("last updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("export mapping")
        verbose_name_plural = _("export mappings")
        ordering = ["source", "name"]
        constraints = [
            models.UniqueConstraint(fields=["source", "name"], name="mapping_name_unique_per_source"),
            models.UniqueConstraint(
                fields=["source"], condition=models.Q(is_default=True), name="mapping_one_default_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} · {self.name}"


class ReconciliationRun(models.Model):
    """One `manage.py reconcile` run: who, when, which file, what it found and fixed."""

    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    mapping = models.ForeignKey(SourceMapping, on_delete=models.PROTECT, null=True, blank=True, related_name="runs")
    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64)
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    fix = models.BooleanField(_("fixes applied"), default=False)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    orders_compared = models.PositiveIntegerField(_("orders compared"), default=0)
    # {"missing_in_hub": 3, "missing_in_source": 1, "status_mismatch": 2, "amount_mismatch": 0,
    #  "payment_mismatch": 0, "tracking_mismatch": 1}
    differences = models.JSONField(_("differences"), default=dict, blank=True)
    # For the status-accuracy KPI: rows whose status could be compared, and those that matched.
    status_compared = models.PositiveIntegerField(_("statuses compared"), default=0)
    status_matched = models.PositiveIntegerField(_("statuses matched"), default=0)
    fixed = models.PositiveIntegerField(_("fixed"), default=0)
    not_fixed = models.PositiveIntegerField(_("not fixed"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["source", "-finished_at"], name="recon_source_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} · {self.file_name}"
