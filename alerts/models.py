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
    # 物流预警, the logistics watch (alerts/watch.py).
    SHIP_BY_DUE_SOON = "ship_by_due_soon", _("Ship-by deadline soon")
    NOT_COLLECTED = "not_collected", _("Not collected by the carrier")  # 揽收超时
    TRACKING_SILENT = "tracking_silent", _("No carrier scan while in transit")
    DELIVERY_EXCEPTION = "delivery_exception", _("Delivery exception")
    RETURNED_TO_SENDER = "returned_to_sender", _("Returned to sender")


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


class ShopShipRule(models.Model):
    """A shop's own promise to its buyers (per shop, operations edit it): paid orders leave
    within this many hours, and a shipped parcel is collected by the carrier within that many.
    The ship-by deadline of an order is the earlier of this rule and its warehouse's promised
    ship time (alerts/watch.py). Shopify shops: enter the processing time set in the shop's
    Shopify admin (Shipping and delivery → processing time) here, in hours; the hub does not
    read it from Shopify."""

    shop = models.OneToOneField(
        "orders.Shop", on_delete=models.CASCADE, related_name="ship_rule", verbose_name=_("shop")
    )
    ship_within_hours = models.PositiveSmallIntegerField(
        _("ship within (hours after payment)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "The shop's promise: paid orders are handed to the carrier within this many hours. "
            "For a Shopify shop, its processing time in hours. Empty: only the warehouse's promise counts."
        ),
    )
    collect_within_hours = models.PositiveSmallIntegerField(
        _("collected within (hours after shipping)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Shipped parcels not scanned by the carrier within this many hours raise an alert. "
            "Empty: the alert kind's default."
        ),
    )
    updated_at = models.DateTimeField(_("last updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("shop ship rule")
        verbose_name_plural = _("shop ship rules")
        ordering = ["shop__name"]

    def __str__(self) -> str:
        return str(self.shop)


class WatchPhase(models.TextChoices):
    """Where the parcel of a watched order is, as the logistics watch sees it."""

    AWAITING_SHIPMENT = "awaiting_shipment", _("Awaiting shipment")
    AWAITING_COLLECTION = "awaiting_collection", _("Shipped, awaiting the carrier's first scan")
    IN_TRANSIT = "in_transit", _("With the carrier")
    DONE = "done", _("Delivered or closed")


class DeadlineSource(models.TextChoices):
    SHOP = "shop", _("the shop's rule")
    WAREHOUSE = "warehouse", _("the warehouse's promise")
    DEFAULT = "default", _("the hub's default promise")


class OrderWatch(models.Model):
    """物流预警: one row per order the logistics watch follows, from payment to delivery (gift
    orders travel in their main order's parcel and have none). Written by the order's own
    events (paid, allocated, shipped, picked up, delivered, closed) and by the carriers' scans
    of its current parcel, so the sweeps read a few indexed columns of the open rows instead of
    the orders' timelines (alerts/watch.py). UTC stored; shown in Asia/Shanghai."""

    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, primary_key=True, related_name="watch", verbose_name=_("order")
    )
    # Copied from the order: the KPI counts per shop and the sweeps take per-shop thresholds.
    shop = models.ForeignKey("orders.Shop", on_delete=models.PROTECT, related_name="+", verbose_name=_("shop"))
    phase = models.CharField(_("phase"), max_length=24, choices=WatchPhase.choices)
    # The promise to ship runs from here (orders.selectors.order_promise_start's rule).
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    # The two promises the deadline was worked out from, kept so a changed rule or promise is
    # found and the deadline worked out again (alerts.watch.watch_deadlines_refresh).
    shop_hours = models.PositiveSmallIntegerField(_("shop's promise (hours)"), null=True, blank=True)
    warehouse = models.ForeignKey(
        "orders.Warehouse",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("warehouse"),
    )
    warehouse_hours = models.PositiveSmallIntegerField(_("warehouse's promise (hours)"), null=True, blank=True)
    ship_by = models.DateTimeField(_("ship by"), null=True, blank=True)
    ship_by_source = models.CharField(_("deadline from"), max_length=16, choices=DeadlineSource.choices, blank=True)
    # The first "ship" of the order, and the first carrier scan of any of its parcels: on time
    # means first_scan_at <= ship_by (the KPI). A re-shipment changes neither.
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    first_scan_at = models.DateTimeField(_("first carrier scan at"), null=True, blank=True)
    # The parcel now travelling (a re-shipment starts a new one).
    shipment = models.ForeignKey(
        "orders.Shipment", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("parcel")
    )
    parcel_shipped_at = models.DateTimeField(_("parcel shipped at"), null=True, blank=True)
    # The parcel's latest sign of life: its latest carrier scan, or the hand-over to the
    # courier recorded by the warehouse while no scan came yet.
    last_scan_at = models.DateTimeField(_("last carrier scan at"), null=True, blank=True)
    carrier_status = models.CharField(_("carrier status"), max_length=16, blank=True)
    carrier_code = models.CharField(_("carrier code"), max_length=32, blank=True)
    carrier_status_at = models.DateTimeField(_("carrier status at"), null=True, blank=True)
    carrier_note = models.CharField(_("carrier note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("last updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("logistics watch")
        verbose_name_plural = _("logistics watch")
        indexes = [
            # Each sweep reads only its phase's rows, by the column its condition is on.
            models.Index(
                fields=["ship_by"],
                condition=Q(phase="awaiting_shipment", ship_by__isnull=False),
                name="watch_ship_by_open_idx",
            ),
            models.Index(
                fields=["parcel_shipped_at"], condition=Q(phase="awaiting_collection"), name="watch_collection_open_idx"
            ),
            models.Index(fields=["last_scan_at"], condition=Q(phase="in_transit"), name="watch_silent_open_idx"),
            models.Index(
                fields=["carrier_status_at"],
                condition=Q(phase="in_transit", carrier_status__in=["exception", "returned"]),
                name="watch_carrier_trouble_idx",
            ),
            # The deadline's refresh when a shop rule or a warehouse promise changes.
            models.Index(
                fields=["shop", "shop_hours"], condition=Q(phase="awaiting_shipment"), name="watch_shop_basis_idx"
            ),
            models.Index(
                fields=["warehouse", "warehouse_hours"],
                condition=Q(phase="awaiting_shipment"),
                name="watch_warehouse_basis_idx",
            ),
            # The KPI: orders first shipped in the period, per shop.
            models.Index(fields=["shipped_at", "shop"], condition=Q(shipped_at__isnull=False), name="watch_kpi_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} · {self.get_phase_display()}"
