"""Accounts and records of the outside systems: carriers, webhooks, tracking."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import Order, Shipment, Warehouse
from orders.states import Carrier

from .carriers.base import Credentials
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
