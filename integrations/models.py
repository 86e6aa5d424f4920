"""Accounts and records of the outside systems: carriers, webhooks, tracking."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import Order, Shipment, Shop, Warehouse
from orders.states import Carrier, Channel

from .carriers.base import Credentials
from .channels.shopify_admin import ShopifyAdminCredentials
from .payments.base import GatewayCredentials, gateway_class


class CarrierAccount(models.Model):
    """How to call one carrier for some warehouses. The secret is write-only in the admin."""

    name = models.CharField(_("name"), max_length=100)
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices)
    endpoint = models.URLField(_("endpoint"), max_length=300)
    app_key = models.CharField(
        _("partner id / app key"),
        max_length=120,
        help_text=_("SF partnerID, ZTO app key, Cainiao logistic_provider_id"),
    )
    app_secret = models.CharField(
        _("secret"), max_length=200, help_text=_("SF checkWord, ZTO app secret, Cainiao secret key")
    )
    extra = models.JSONField(
        _("extra settings"), default=dict, blank=True, help_text=_('e.g. {"monthly_card": "…"} or {"to_code": "…"}')
    )
    warehouses = models.ManyToManyField(
        Warehouse, verbose_name=_("warehouses"), blank=True, related_name="carrier_accounts"
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=10, help_text=_("Lower first, when several accounts serve a warehouse.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("carrier account")
        verbose_name_plural = _("carrier accounts")
        ordering = ["carrier", "priority", "id"]

    def __str__(self) -> str:
        return f"{self.get_carrier_display()} · {self.name}"

    def __repr__(self) -> str:
        return f"<CarrierAccount {self.pk} {self.carrier} {self.name!r}>"

    def credentials(self):
        return Credentials(endpoint=self.endpoint, app_key=self.app_key, app_secret=self.app_secret, extra=self.extra)


class WebhookSource(models.Model):
    """A sender of signed webhooks (a Shopify store, the WMS) and its secret (write-only).
    The secret may also come from the environment (SHOPIFY_WEBHOOK_SECRET, WMS_WEBHOOK_SECRET)."""

    class Kind(models.TextChoices):
        SHOPIFY = "shopify", "Shopify"
        WMS = "wms", _("Warehouse system (WMS)")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    secret = models.CharField(_("secret"), max_length=200)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("webhook source")
        verbose_name_plural = _("webhook sources")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.name}"

    def __repr__(self) -> str:
        return f"<WebhookSource {self.pk} {self.kind} {self.name!r}>"


class InboundDelivery(models.Model):
    """Every webhook delivery we accepted, once: a replay (same source and delivery id) is
    acknowledged and changes nothing."""

    source = models.CharField(_("source"), max_length=16)
    delivery_id = models.CharField(_("delivery id"), max_length=120)
    topic = models.CharField(_("topic"), max_length=60, blank=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("inbound delivery")
        verbose_name_plural = _("inbound deliveries")
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["source", "delivery_id"], name="inbound_delivery_once")]

    def __str__(self) -> str:
        return f"{self.source}:{self.delivery_id}"


class TrackingRecord(models.Model):
    """What a carrier said about a shipment, once per step. It never changes the shipment's
    tracking number; picked-up and delivered steps move the order as the system."""

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="tracking")
    kind = models.CharField(_("kind"), max_length=16)
    occurred_at = models.DateTimeField(_("occurred at"))
    description = models.CharField(_("description"), max_length=300, blank=True)
    location = models.CharField(_("location"), max_length=120, blank=True)
    carrier_code = models.CharField(_("carrier code"), max_length=32, blank=True)
    via = models.CharField(_("via"), max_length=8, choices=[("poll", _("query")), ("push", _("push"))])
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("tracking record")
        verbose_name_plural = _("tracking records")
        ordering = ["shipment", "occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "occurred_at", "kind", "carrier_code"], name="tracking_record_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.shipment} {self.kind} {self.occurred_at:%Y-%m-%d %H:%M}"


class GatewayCode(models.TextChoices):
    ALIPAY = "alipay", _("Alipay")


class PaymentGatewayAccount(models.Model):
    """How to call a payment gateway to pay refunds. The keys are write-only in the admin; at
    most one account per gateway is enabled, so "the" account is never a guess."""

    name = models.CharField(_("name"), max_length=100)
    gateway = models.CharField(_("gateway"), max_length=16, choices=GatewayCode.choices)
    endpoint = models.URLField(
        _("endpoint"), max_length=300, help_text=_("Alipay: https://openapi.alipay.com/gateway.do")
    )
    app_id = models.CharField(_("app id"), max_length=64)
    private_key = models.TextField(
        _("app private key"), help_text=_("RSA private key (PEM, or the Base64 text of Alipay's key tool).")
    )
    gateway_public_key = models.TextField(
        _("gateway public key"), help_text=_("The gateway's RSA public key, used to verify its answers.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment gateway account")
        verbose_name_plural = _("payment gateway accounts")
        ordering = ["gateway", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway"], condition=models.Q(enabled=True), name="payment_gateway_one_enabled"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_gateway_display()} · {self.name}"

    def __repr__(self) -> str:
        return f"<PaymentGatewayAccount {self.pk} {self.gateway} {self.name!r}>"

    def credentials(self):
        return GatewayCredentials(
            endpoint=self.endpoint,
            app_id=self.app_id,
            private_key=self.private_key,
            gateway_public_key=self.gateway_public_key,
        )

    def adapter(self, *, timeout: float = 15.0):
        return gateway_class(self.gateway)(self.credentials(), timeout=timeout)


class ShopifyAdminAccount(models.Model):
    """How the hub calls one Shopify shop's Admin API to write shipments back (发货回传). The
    shop domain is the shop's `external_shop_id`; the access token is write-only in the admin."""

    shop = models.OneToOneField(
        Shop,
        verbose_name=_("shop"),
        on_delete=models.PROTECT,
        related_name="shopify_admin_account",
        limit_choices_to={"channel": Channel.SHOPIFY},
    )
    access_token = models.CharField(
        _("Admin API access token"),
        max_length=200,
        help_text=_("The custom app's Admin API access token (shpat_…), with the fulfilment write scopes."),
    )
    api_version = models.CharField(
        _("API version"), max_length=16, default="2025-01", help_text=_("e.g. 2025-01; sent in the URL.")
    )
    base_url = models.URLField(
        _("base URL"),
        max_length=300,
        blank=True,
        help_text=_("Leave blank to call https://<shop domain>. Only for a proxy in between."),
    )
    notify_customer = models.BooleanField(
        _("notify the customer"), default=True, help_text=_("Shopify emails the buyer the tracking number.")
    )
    enabled = models.BooleanField(
        _("write shipments back"), default=True, help_text=_("Off: shipments of this shop are not sent to Shopify.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Shopify Admin API account")
        verbose_name_plural = _("Shopify Admin API accounts")
        ordering = ["shop__name"]

    def __str__(self) -> str:
        return f"Shopify · {self.shop.name}"

    def __repr__(self) -> str:
        return f"<ShopifyAdminAccount {self.pk} shop={self.shop_id}>"

    def credentials(self) -> ShopifyAdminCredentials:
        return ShopifyAdminCredentials(
            shop_domain=self.shop.external_shop_id,
            access_token=self.access_token,
            api_version=self.api_version,
            base_url=self.base_url,
        )


class WriteBackStatus(models.TextChoices):
    PENDING = "pending", _("Being written back")
    ACKNOWLEDGED = "acknowledged", _("Written back")
    FAILED = "failed", _("Write-back failed")


class ChannelWriteBack(models.Model):
    """One shipment written back to its channel through the channel's API: what the channel
    calls it (the Shopify fulfilment id), how many attempts it took, what went wrong last, and
    when the channel acknowledged it. One row per shipment: a re-shipment is a row of its own,
    which updates the fulfilment its predecessor created."""

    class Operation(models.TextChoices):
        CREATED = "created", _("fulfilment created")
        ADOPTED = "adopted", _("fulfilment found on the channel")
        TRACKING_UPDATED = "tracking_updated", _("tracking number updated")

    shipment = models.OneToOneField(
        Shipment, verbose_name=_("shipment"), on_delete=models.PROTECT, related_name="channel_writeback"
    )
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=WriteBackStatus.choices, default=WriteBackStatus.PENDING
    )
    operation = models.CharField(_("what was done"), max_length=20, choices=Operation.choices, blank=True)
    channel_fulfilment_id = models.CharField(_("id on the channel"), max_length=120, blank=True)
    # Every fulfilment it made or changed: a parcel of a merged order (合单) carries several
    # Shopify orders. [{"order": gid, "fulfilment": gid, "operation": …}]
    fulfilments = models.JSONField(_("fulfilments on the channel"), default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel write-back")
        verbose_name_plural = _("channel write-backs")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["order", "-created_at"], name="writeback_order_idx")]

    def __str__(self) -> str:
        return f"{self.shipment} → {self.get_channel_display()} ({self.get_status_display()})"


class UploadScope(models.TextChoices):
    SINCE_LAST = "since_last", _("Since the last file")
    DAY = "day", _("For a day")


class ShipmentUploadFile(models.Model):
    """A bulk-shipping upload file (批量发货) made for one shop of a channel without an API
    here: kept, listable and downloadable again. Its lines say which shipments it carried."""

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="upload_files")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    scope = models.CharField(_("scope"), max_length=16, choices=UploadScope.choices)
    day = models.DateField(_("day (Shanghai)"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="shipment-uploads/%Y/%m/")
    file_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    line_count = models.PositiveIntegerField(_("shipments"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("made by"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("made at"), default=timezone.now)

    class Meta:
        verbose_name = _("shipment upload file")
        verbose_name_plural = _("shipment upload files")
        ordering = ["-created_at", "-id"]
        permissions = [("make_shipmentuploadfile", _("Can make a shipment upload file"))]

    def __str__(self) -> str:
        return self.file_name


class ShipmentUploadLine(models.Model):
    """One platform order of a shipment in an upload file (a merged parcel carries several).
    Unique on the shipment and the platform order: a shipment goes in one file only, so nothing
    is written back twice; a re-shipment is a new shipment, so its number goes in the next file."""

    upload_file = models.ForeignKey(
        ShipmentUploadFile, verbose_name=_("file"), on_delete=models.PROTECT, related_name="lines"
    )
    shipment = models.ForeignKey(
        Shipment, verbose_name=_("shipment"), on_delete=models.PROTECT, related_name="upload_lines"
    )
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="+")
    channel_order_id = models.CharField(_("order id on the channel"), max_length=64)
    carrier_name = models.CharField(_("logistics company, as the platform spells it"), max_length=60)
    tracking_number = models.CharField(_("tracking number"), max_length=64)

    class Meta:
        verbose_name = _("shipment upload line")
        verbose_name_plural = _("shipment upload lines")
        ordering = ["upload_file", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "channel_order_id"], name="shipment_upload_line_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel_order_id} {self.tracking_number}"
