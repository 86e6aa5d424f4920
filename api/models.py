"""The open API's records: the integrations that call in (API clients), the ones the hub calls
out to (webhook subscriptions) and the log of every delivery attempt."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.states import HUMAN_ROLES


def _role_choices():
    return [(role.value, role.label) for role in HUMAN_ROLES]


class ApiClient(models.Model):
    """An integration (the ERP, the WMS, a script) that calls the API with a bearer token.

    It acts through a service user of its own, in its role's group, so every rule that holds
    for people of that role (which actions, the timeline's actor) holds for it unchanged. The
    token is shown once, when the client is created; only its SHA-256 is kept, with a short
    prefix to find the row by."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    role = models.CharField(_("role"), max_length=32, choices=_role_choices)
    brands = models.ManyToManyField(
        "orders.Brand",
        verbose_name=_("brands"),
        blank=True,
        related_name="api_clients",
        help_text=_(
            "The brands whose orders it sees. Required for a customer-service client; for the other "
            "roles, empty means every brand (as people of those roles see)."
        ),
    )
    service_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client", editable=False
    )
    token_prefix = models.CharField(_("token prefix"), max_length=16, unique=True, editable=False)
    token_hash = models.CharField(_("token hash"), max_length=64, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        _("requests per minute"),
        default=600,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WebhookSubscription(models.Model):
    """An outbound webhook: the hub POSTs the events of the chosen types (of the chosen brands)
    to `url`, signed with `secret`, through the outbox (retried with back-off)."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200)
    event_types = models.JSONField(
        _("event types"), default=list, help_text=_('The timeline event types to send, e.g. ["pack", "ship"].')
    )
    brands = models.ManyToManyField(
        "orders.Brand",
        verbose_name=_("brands"),
        blank=True,
        related_name="webhook_subscriptions",
        help_text=_("Only these brands' orders; empty: every brand."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one subscription: what was sent and what came back."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("subscription")
    )
    event = models.ForeignKey(
        "orders.OrderEvent", on_delete=models.PROTECT, related_name="webhook_deliveries", verbose_name=_("event")
    )
    # The outbox row that made the attempt, kept as a plain id (the outbox is the orders app's).
    outbox_message_id = models.PositiveBigIntegerField(_("outbox message"), db_index=True)
    delivery_id = models.CharField(_("delivery id"), max_length=120)
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    ok = models.BooleanField(_("delivered"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    error = models.CharField(_("error"), max_length=300, blank=True)
    response_excerpt = models.CharField(_("response excerpt"), max_length=500, blank=True)
    attempted_at = models.DateTimeField(_("attempted at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["subscription", "-attempted_at"], name="webhook_delivery_sub_idx")]

    def __str__(self) -> str:
        return f"{self.subscription} · {self.delivery_id} #{self.attempt}"
