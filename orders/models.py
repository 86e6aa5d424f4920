"""The order, its append-only timeline, attachments and shipments.

State changes go through `orders.services.transition.order_transition` only: the fine state is
a protected django-fsm field, and the derived statuses are columns the database computes.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Case, ExpressionWrapper, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from .permissions import actor_may_take
from .states import (
    CS_BOARD_STATUSES,
    STATE_MAP,
    TRANSITIONS,
    Carrier,
    Channel,
    ExceptionReason,
    MainStatus,
    PaymentStatus,
    Priority,
    Role,
    State,
    WarehouseStage,
)

# The longest window for "changed by many roles" (HubSettings.conflict_window_hours).
CONFLICT_WINDOW_MAX_HOURS = 31 * 24


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove a row that is part of the record."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")


class AppendOnlyModel(models.Model):
    """Rows are inserted once and never updated or deleted (also enforced by a database trigger
    on PostgreSQL, see the migration)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class DirectStateChangeError(Exception):
    """Raised when code tries to write an order's state around the transition service."""


class OrderQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # A bulk UPDATE would skip the lock, the version, the permission check and the event.
        if "state" in kwargs or "version" in kwargs:
            raise DirectStateChangeError("Order state changes go through orders.services.transition.order_transition")
        return super().update(**kwargs)


class Brand(models.Model):
    """A brand whose shops the hub serves (an agency serves many). Customer-service staff are
    assigned to brands and see only their brands' orders; operations and admins see all."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer-service staff"),
        blank=True,
        related_name="brands",
        help_text=_("Customer-service staff who work this brand's orders (and see only their brands' orders)."),
    )

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Shop(models.Model):
    """A brand's store on one channel. Orders from the channel without a shop of their own
    belong to the channel's default shop."""

    brand = models.ForeignKey(Brand, verbose_name=_("brand"), on_delete=models.PROTECT, related_name="shops")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    code = models.SlugField(_("code"), max_length=48, unique=True)
    name = models.CharField(_("name"), max_length=100)
    external_shop_id = models.CharField(
        _("shop id on the channel"),
        max_length=120,
        blank=True,
        help_text=_("e.g. the Shopify shop domain; webhooks naming it are this shop's."),
    )
    # Write-only in the admin, like every secret.
    webhook_secret = models.CharField(_("webhook secret"), max_length=200, blank=True)
    import_mapping = models.JSONField(
        _("import column mapping"),
        default=dict,
        blank=True,
        help_text=_("Optional: the hub's import column → this shop's export column, for its CSV/Excel files."),
    )
    is_channel_default = models.BooleanField(
        _("default shop of the channel"),
        default=False,
        help_text=_("Orders from the channel that name no shop belong here."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["brand__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel"], condition=Q(is_channel_default=True), name="shop_one_default_per_channel"
            ),
            models.UniqueConstraint(
                fields=["channel", "external_shop_id"],
                condition=~Q(external_shop_id=""),
                name="shop_external_id_unique_per_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} · {self.name}"


class Warehouse(models.Model):
    class Kind(models.TextChoices):
        OWN = "own", _("Own warehouse")
        OUTSOURCED = "outsourced", _("Outsourced warehouse")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.OWN)
    region = models.CharField(_("region"), max_length=40, blank=True, help_text=_("e.g. East China, South China"))
    # The sender on waybills.
    contact_name = models.CharField(_("contact name"), max_length=60, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    province = models.CharField(_("province"), max_length=40, blank=True)
    city = models.CharField(_("city"), max_length=40, blank=True)
    district = models.CharField(_("district"), max_length=40, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    # When parcels leave: packed before the cut-off on a working day, they go with that day's
    # carrier pickup; otherwise with the next working day's.
    time_zone = models.CharField(
        _("time zone"), max_length=48, default="Asia/Shanghai", help_text=_("The warehouse's local time zone.")
    )
    cutoff_time = models.TimeField(
        _("daily cut-off time"),
        default=datetime.time(16, 0),
        help_text=_("Orders packed before this local time leave with the same day's pickup."),
    )
    pickup_time = models.TimeField(
        _("carrier pickup time"),
        default=datetime.time(18, 0),
        help_text=_("When the booked carrier pickup collects the day's parcels (local time)."),
    )
    working_days = models.CharField(
        _("working days"),
        max_length=7,
        default="12345",
        validators=[RegexValidator(r"^[1-7]{1,7}$", _("Give the working days as digits 1 (Monday) to 7 (Sunday)."))],
        help_text=_("ISO weekday digits, 1 = Monday … 7 = Sunday; e.g. 123456 for Monday to Saturday."),
    )
    # The promise: paid orders leave within this many hours (the SLA sweep checks it).
    promised_ship_hours = models.PositiveSmallIntegerField(
        _("promised ship time (hours)"),
        default=48,
        validators=[MinValueValidator(1)],
        help_text=_("Paid orders allocated here must be shipped within this many hours of payment."),
    )

    wms_url = models.URLField(
        _("WMS request URL"),
        blank=True,
        help_text=_(
            "Where the hub sends this warehouse's requests (an interception, 截单), signed like the "
            "WMS webhook. Empty: the warehouse sees them on its board only."
        ),
    )

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


def _derived(column: int, output_field: models.Field) -> models.GeneratedField:
    """A stored column the database computes from the fine state through STATE_MAP."""
    whens = [When(state=state, then=Value(str(values[column]))) for state, values in STATE_MAP.items()]
    return models.GeneratedField(
        expression=Case(*whens, default=Value(""), output_field=output_field),
        output_field=output_field,
        db_persist=True,
    )


def _transition_methods() -> type:
    """django-fsm transition methods, one per row of the TRANSITIONS table.

    They only move the state; everything else (lock, version, permission, event) is the
    transition service's job. Permissions are checked by the service too, from the same table.
    """

    def make(t):
        def method(self, **data):
            return None

        # django-fsm names the transition after the function when decorating: name it first.
        method.__name__ = method.__qualname__ = t.action
        method.__doc__ = f"{t.action}: {', '.join(t.sources)} -> {t.target}"
        return transition(field="state", source=list(t.sources), target=t.target)(method)

    return type("OrderTransitions", (), {t.action: make(t) for t in TRANSITIONS})


OrderTransitions = _transition_methods()


# Where the parcel goes: the address fields of an order, in the order forms show them.
SHIPPING_FIELDS = (
    "recipient_name",
    "recipient_phone",
    "ship_province",
    "ship_city",
    "ship_district",
    "ship_address",
    "ship_postcode",
)


class Order(FSMModelMixin, OrderTransitions, models.Model):
    number = models.CharField(_("order number"), max_length=32, unique=True, editable=False)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(_("external order id"), max_length=64, blank=True)
    buyer_email = models.EmailField(_("buyer email"), blank=True)
    buyer_phone = models.CharField(_("buyer phone"), max_length=32, blank=True)
    # Where it goes (the receiver on waybills).
    recipient_name = models.CharField(_("recipient"), max_length=60, blank=True)
    recipient_phone = models.CharField(_("recipient phone"), max_length=32, blank=True)
    ship_province = models.CharField(_("province"), max_length=40, blank=True)
    ship_city = models.CharField(_("city"), max_length=40, blank=True)
    ship_district = models.CharField(_("district"), max_length=40, blank=True)
    ship_address = models.CharField(_("address"), max_length=200, blank=True)
    ship_postcode = models.CharField(_("postcode"), max_length=16, blank=True)
    ordered_at = models.DateTimeField(_("ordered at"), default=timezone.now)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    # What the amount holds besides the lines (orders/services/lines.py checks the sum): the
    # shipping charged to the buyer, and tax charged on top of the prices (0 where the prices
    # include it, as on Chinese channels).
    shipping_fee = models.DecimalField(
        _("shipping fee"), max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    tax_amount = models.DecimalField(
        _("tax on top of prices"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    # 买家留言: what the buyer wrote with the order (Shopify's note, Taobao's 买家留言).
    buyer_remark = models.TextField(_("buyer remark"), max_length=1000, blank=True)
    # What the parcel weighs by its lines (quantity × each line's weight), when every line has a
    # weight: carrier rules and the preview read one column instead of summing lines.
    weight_grams = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    # The carrier planned for the parcel (a rule's choice, by region, amount or weight): the
    # warehouse's ship form starts from it; the shipment records the carrier actually used.
    carrier = models.CharField(_("planned carrier"), max_length=16, choices=Carrier.choices, blank=True)

    state = FSMField(_("fine state"), max_length=32, choices=State.choices, default=State.SUBMITTED, protected=True)
    main_status = _derived(0, models.CharField(_("main status"), max_length=32, choices=MainStatus.choices))
    payment_status = _derived(1, models.CharField(_("payment status"), max_length=16, choices=PaymentStatus.choices))
    warehouse_stage = _derived(
        2,
        models.CharField(_("warehouse stage"), max_length=32, choices=WarehouseStage.choices, blank=True),
    )
    state_changed_at = models.DateTimeField(_("state changed at"), default=timezone.now)

    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT, null=True, blank=True
    )
    cs_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer-service owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_orders",
    )
    priority = models.SmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.NORMAL)
    main_order = models.ForeignKey(
        "self",
        verbose_name=_("main order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gifts",
        help_text=_("Set for gift orders only: the order this gift belongs to."),
    )
    # 拆单/合单 (orders/services/split_merge.py): the order this one was split off from, and the
    # order this one was merged into (then it is in state "merged" and holds no lines or money).
    split_from = models.ForeignKey(
        "self",
        verbose_name=_("split off from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="split_parts",
        editable=False,
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_parts",
        editable=False,
    )
    # The promise to ship runs from the payment; a part split off keeps its order's, and an
    # order others were merged into takes the earliest of theirs (alerts' SLA sweep reads it).
    promise_from = models.DateTimeField(_("promise runs from"), null=True, blank=True, editable=False)
    # Derived by the database from main_order: nobody sets "is gift" by hand.
    is_gift = models.GeneratedField(
        expression=ExpressionWrapper(Q(main_order__isnull=False), output_field=models.BooleanField()),
        output_field=models.BooleanField(_("gift order")),
        db_persist=True,
    )

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last updated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("last updated at"), default=timezone.now)
    # When each role of people last changed the order (a move or edited details), and until
    # when it counts as contested: changed by HubSettings.conflict_role_count roles within
    # conflict_window_hours. Kept by every save of a change (services/order_rows.py), so the
    # operations board finds contested orders through a small index instead of aggregating a
    # day of events on every view (orders/conflicts.py).
    role_changed_at = models.JSONField(_("last change by role"), default=dict, blank=True, editable=False)
    contested_until = models.DateTimeField(_("contested until"), null=True, blank=True, editable=False)

    objects = OrderQuerySet.as_manager()
    history = HistoricalRecords(
        excluded_fields=[
            "main_status",
            "payment_status",
            "warehouse_stage",
            "is_gift",
            "role_changed_at",
            "contested_until",
        ],
        # The history is read by order (its `id`, the timeline) and time, never by these: their
        # indexes only cost every transition and import a write each (bench/import_orders.py).
        no_db_index=[
            *("number", "shop", "warehouse", "cs_owner"),
            *("main_order", "split_from", "merged_into", "updated_by"),
        ],
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at", "-id"]
        permissions = [
            *((t.permission_codename, f"Can take action: {t.action}") for t in TRANSITIONS),
            ("split_order", "Can split an order into two"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="order_external_id_unique_per_channel",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(shipping_fee__gte=0, tax_amount__gte=0), name="order_charges_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(main_order__isnull=True) | ~Q(main_order=models.F("id")),
                name="order_not_its_own_main_order",
            ),
        ]
        indexes = [
            models.Index(fields=["main_status", "-ordered_at"], name="order_board_status_idx"),
            models.Index(fields=["cs_owner", "main_status"], name="order_owner_status_idx"),
            # What the customer-service board counts (its status, the brand scope, the owner) from
            # the index alone: on 5,000,000 orders the admin list's count of a brand-scoped
            # person's board went from 290-550 ms to 10-20 ms (bench/growth.py).
            models.Index(
                fields=["main_status", "shop", "cs_owner"],
                condition=Q(main_status__in=CS_BOARD_STATUSES),
                name="order_cs_board_count_idx",
            ),
            models.Index(fields=["warehouse", "warehouse_stage", "-priority"], name="order_wh_stage_idx"),
            models.Index(fields=["state", "state_changed_at"], name="order_state_changed_idx"),
            models.Index(fields=["buyer_email"], name="order_buyer_email_idx"),
            models.Index(fields=["buyer_phone"], name="order_buyer_phone_idx"),
            models.Index(fields=["external_id"], name="order_external_id_idx"),
            # The warehouse board: only the few orders in the warehouse, in the order it works.
            models.Index(
                fields=["warehouse_stage", "-priority", "ordered_at"],
                name="order_wh_board_idx",
                condition=~Q(warehouse_stage=""),
            ),
            # Contested orders: the few with a flag, whether or not it still holds.
            models.Index(
                fields=["contested_until"], name="order_contested_idx", condition=Q(contested_until__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def available_transitions_for(self, user):
        """The transitions `user` may take now (None = the system), in table order."""
        available = {t.name for t in self.get_available_state_transitions()}
        return [
            t
            for t in TRANSITIONS
            if t.action in available and actor_may_take(user, t) and (self.main_order_id or not t.gift_only)
        ]

    # Generated columns do not get Django's get_FOO_display(); these read the same choices.
    def get_main_status_display(self) -> str:
        return MainStatus(self.main_status).label

    def get_payment_status_display(self) -> str:
        return PaymentStatus(self.payment_status).label

    def get_warehouse_stage_display(self) -> str:
        return WarehouseStage(self.warehouse_stage).label

    def sync_derived_fields(self) -> None:
        """After an UPDATE the database has recomputed the generated columns; mirror them on
        this instance from the same mapping instead of reading the row again."""
        self.main_status, self.payment_status, self.warehouse_stage = (str(v) for v in STATE_MAP[self.state])

    @property
    def current_shipment(self) -> Shipment | None:
        return self.shipments.order_by("-sequence").first()


class OrderLine(models.Model):
    """What the buyer bought: one line of the order (a SKU, how many, at what price). Written
    with the order at intake (orders/services/lines.py builds them for one order and for a batch
    alike); a split or a merge moves lines between orders and says so on both timelines."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines", verbose_name=_("order"))
    position = models.PositiveSmallIntegerField(_("line number"))
    platform_line_id = models.CharField(_("line id on the channel"), max_length=64, blank=True)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    name = models.CharField(_("item"), max_length=255, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(
        _("unit price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    # The line's share of every discount (item and order discounts), in money.
    discount = models.DecimalField(
        _("discount"), max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    currency = models.CharField(_("currency"), max_length=3)
    # 赠品: sent with the order, carries no revenue (finance's views and exports leave it out).
    is_gift = models.BooleanField(_("gift line"), default=False)
    weight_grams = models.PositiveIntegerField(_("weight per unit (g)"), null=True, blank=True)
    # The order the buyer bought this line on, when a split or a merge moved it to another one:
    # its platform order, for write-back and reconciliation.
    origin_order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("bought on order"),
    )

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_line_position_unique"),
            models.UniqueConstraint(
                fields=["order", "platform_line_id"],
                condition=~Q(platform_line_id=""),
                name="order_line_platform_id_unique",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, discount__gte=0), name="order_line_money_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["sku"], name="order_line_sku_idx")]

    def __str__(self) -> str:
        return f"{self.sku or self.name} × {self.quantity}"

    @property
    def gross_amount(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def net_amount(self) -> Decimal:
        """What the buyer paid for the line: quantity × unit price less its discounts."""
        return self.gross_amount - self.discount

    @property
    def revenue(self) -> Decimal:
        """Finance's figure: a gift line carries none."""
        return Decimal("0") if self.is_gift else self.net_amount


class OrderException(models.Model):
    """异常订单: one reason an order waits for a person (orders.states.ExceptionReason), raised by
    intake, a rule, a webhook or a person and cleared by the role that owns it. Both are lines on
    the timeline (the events below). At most one open exception of each reason per order."""

    class Source(models.TextChoices):
        INTAKE = "intake", _("Intake")
        RULE = "rule", _("Rule")
        WEBHOOK = "webhook", _("Webhook")
        PERSON = "person", _("Person")
        SYSTEM = "system", _("System")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="exceptions", verbose_name=_("order"))
    reason = models.CharField(_("reason"), max_length=32, choices=ExceptionReason.choices)
    owner_role = models.CharField(_("owned by"), max_length=32, choices=Role.choices)
    detail = models.TextField(_("detail"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    source = models.CharField(_("raised by"), max_length=16, choices=Source.choices)
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now)
    raised_event = models.OneToOneField("OrderEvent", on_delete=models.PROTECT, related_name="exception_raised")
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cleared by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    cleared_note = models.TextField(_("clearing note"), blank=True)
    cleared_event = models.OneToOneField(
        "OrderEvent", on_delete=models.PROTECT, null=True, blank=True, related_name="exception_cleared"
    )

    class Meta:
        verbose_name = _("order exception")
        verbose_name_plural = _("order exceptions")
        ordering = ["raised_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "reason"], condition=Q(cleared_at__isnull=True), name="order_exception_open_once"
            ),
        ]
        indexes = [
            # The exception boards: the few open ones, by owner and reason, oldest first.
            models.Index(
                fields=["owner_role", "reason", "raised_at"],
                name="order_exception_open_idx",
                condition=Q(cleared_at__isnull=True),
            ),
            models.Index(fields=["order", "cleared_at"], name="order_exception_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.get_reason_display()}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class CustomerServiceBoard(Order):
    """The customer-service board in the admin: orders to review or still waiting to ship."""

    class Meta:
        proxy = True
        verbose_name = _("customer-service board")
        verbose_name_plural = _("customer-service board")


class WarehouseBoard(Order):
    """The warehouse's today board: packing, labelling, awaiting pickup."""

    class Meta:
        proxy = True
        verbose_name = _("warehouse board")
        verbose_name_plural = _("warehouse board")


class OperationsBoard(Order):
    """Operations' board: stale orders, orders many roles are changing, risk holds."""

    class Meta:
        proxy = True
        verbose_name = _("operations board")
        verbose_name_plural = _("operations board")


class ExceptionBoard(Order):
    """The exception queues (异常订单): orders waiting for a person, each role its reasons."""

    class Meta:
        proxy = True
        verbose_name = _("exception queue")
        verbose_name_plural = _("exception queue")


class HubSettings(models.Model):
    """The thresholds operations owns, one row, edited in the admin, every change audited."""

    stale_after_minutes = models.PositiveIntegerField(
        _("stale after (minutes)"),
        default=120,
        validators=[MinValueValidator(1)],
        help_text=_("An order waiting on someone with no state change for this long is shown red on the boards."),
    )
    conflict_role_count = models.PositiveSmallIntegerField(
        _("conflicting edits: roles"),
        default=3,
        validators=[MinValueValidator(2)],
        help_text=_(
            "An order changed by this many different roles within the window is flagged on the operations board."
        ),
    )
    conflict_window_hours = models.PositiveSmallIntegerField(
        _("conflicting edits: window (hours)"),
        default=24,
        # A month at most: a change of the thresholds re-reads that much of the timeline.
        validators=[MinValueValidator(1), MaxValueValidator(CONFLICT_WINDOW_MAX_HOURS)],
    )
    DEFAULT_AMOUNT_ANOMALY_FACTOR = 5
    amount_anomaly_factor = models.PositiveSmallIntegerField(
        _("amount anomaly: times the shop's usual"),
        default=DEFAULT_AMOUNT_ANOMALY_FACTOR,
        validators=[MinValueValidator(2)],
        help_text=_(
            "An order of more than this many times its shop's average amount (of its last 200 orders) "
            "waits in finance's exception queue."
        ),
    )
    duplicate_window_hours = models.PositiveSmallIntegerField(
        _("suspected duplicate: window (hours)"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24)],
        help_text=_(
            "Two orders of the same shop, buyer, amount and items within this many hours: the later one is "
            "a suspected duplicate."
        ),
    )
    archive_after_days = models.PositiveSmallIntegerField(
        _("archive delivered orders after (days)"),
        default=15,
        validators=[MinValueValidator(1)],
        help_text=_("Delivered orders with no open after-sales case are archived this many days after delivery."),
    )
    updated_at = models.DateTimeField(_("last updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("hub settings")
        verbose_name_plural = _("hub settings")

    def __str__(self) -> str:
        return str(_("Hub settings"))


class OrderNumberSequence(models.Model):
    """Per-day counter behind order numbers (OH20260128-00001). Incremented with one atomic
    upsert, so concurrent intake never hands out the same number twice."""

    day = models.DateField(primary_key=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last_value}"


class OrderEvent(AppendOnlyModel):
    """One line of an order's timeline: who did what, when, from which state to which."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events", verbose_name=_("order"))
    action = models.CharField(_("action"), max_length=32)
    from_state = models.CharField(_("from state"), max_length=32, choices=State.choices, blank=True)
    to_state = models.CharField(_("to state"), max_length=32, choices=State.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Snapshots: the record keeps the name and role as they were when it happened.
    actor_name = models.CharField(_("actor name"), max_length=150)
    actor_role = models.CharField(_("actor role"), max_length=32, choices=Role.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    order_version = models.PositiveIntegerField(_("order version"))
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["order", "occurred_at"], name="event_order_time_idx"),
            models.Index(fields=["occurred_at"], name="event_time_idx"),
        ]

    def __str__(self) -> str:
        return self.timeline_text()

    @property
    def verb(self) -> str:
        from .events import event_verb

        return event_verb(self.action)

    @property
    def actor_display(self) -> str:
        """张明 (客服组); the system has no name of its own, so it is shown by its role alone."""
        if self.actor_role == Role.SYSTEM:
            return self.get_actor_role_display()
        return f"{self.actor_name} ({self.get_actor_role_display()})"

    def timeline_text(self) -> str:
        """`[2026-01-28 14:22] 张明 (客服组) approved`, in the active language and local time."""
        when = timezone.localtime(self.occurred_at).strftime("%Y-%m-%d %H:%M")
        return f"[{when}] {self.actor_display} {self.verb}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return timezone.now().strftime("attachments/%Y/%m/") + filename


class Attachment(AppendOnlyModel):
    event = models.ForeignKey(OrderEvent, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("event"))
    file = models.FileField(_("file"), upload_to=attachment_path)
    original_name = models.CharField(_("original name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class InterceptionRoute(models.TextChoices):
    WAREHOUSE = "warehouse", _("Warehouse pulls the parcel")  # 仓库截单
    CARRIER = "carrier", _("Carrier's interception")  # 快递拦截 (SF, ZTO)
    MANUAL = "manual", _("Call the carrier")  # no interception API here: a task for a person


class InterceptionStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    INTERCEPTED = "intercepted", _("Intercepted")
    FAILED = "failed", _("Failed")


class Interception(models.Model):
    """截单: one request to stop an order's parcel, asked after the warehouse had the order, and
    its result. Opened by the `request_intercept` transition, closed by `confirm_intercept` or
    `fail_intercept` (orders.services.interception); at most one open per order. Who is asked
    follows where the parcel was: the warehouse (allocated, packed; also by the WMS request when
    the warehouse has a WMS URL) or the carrier (shipped, picked up)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="interceptions", verbose_name=_("order"))
    route = models.CharField(_("asked of"), max_length=16, choices=InterceptionRoute.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=InterceptionStatus.choices, default=InterceptionStatus.REQUESTED
    )
    from_state = models.CharField(_("state when asked"), max_length=32, choices=State.choices)
    reason = models.TextField(_("reason"))
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    requested_event = models.OneToOneField(OrderEvent, on_delete=models.PROTECT, related_name="interception_opened")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    # What the warehouse system or the carrier answered to the request (accepted, their id).
    answer = models.TextField(_("answer"), blank=True)
    resolved_event = models.OneToOneField(
        OrderEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="interception_closed"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("interception")
        verbose_name_plural = _("interceptions")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="requested"), name="interception_open_once_per_order"
            ),
        ]
        indexes = [
            # The boards: the few open ones by whom they are asked of, oldest first.
            models.Index(
                fields=["route", "requested_at"], name="interception_open_idx", condition=Q(status="requested")
            ),
            # The KPI page: results over a period.
            models.Index(fields=["resolved_at"], name="interception_resolved_idx", condition=~Q(status="requested")),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.get_route_display()} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status == InterceptionStatus.REQUESTED


class Shipment(AppendOnlyModel):
    """A tracking number, recorded once and never overwritten. A re-shipment is a new row."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments", verbose_name=_("order"))
    sequence = models.PositiveSmallIntegerField(_("shipment number"))
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices)
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    reason = models.TextField(_("re-shipment reason"), blank=True)
    event = models.OneToOneField(OrderEvent, on_delete=models.PROTECT, related_name="shipment")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["order", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "tracking_number"], name="shipment_tracking_unique"),
            models.UniqueConstraint(fields=["order", "sequence"], name="shipment_sequence_unique"),
        ]
        # "Where is the parcel OH…?" is asked with the tracking number alone.
        indexes = [models.Index(fields=["tracking_number"], name="shipment_tracking_idx")]

    def __str__(self) -> str:
        return f"{self.get_carrier_display()} {self.tracking_number}"


# The outbox's row lives with the outbox (orders/outbox/); imported here so it is a model of this app.
from .outbox.models import OutboxMessage, OutboxStatus  # noqa: E402, F401
