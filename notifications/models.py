"""Who hears about what: in-app notifications, the chat robots of groups and what was sent to them.

The tables keep the names they had when these models lived in the alerts app (`alerts_…`): the
move was a change of code, not of data (migrations 0001 here and alerts 0006).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.states import Role


class RobotKind(models.TextChoices):
    WECOM = "wecom", _("WeCom group robot")
    DINGTALK = "dingtalk", _("DingTalk custom robot")


class ChatRobot(models.Model):
    """A chat group's robot. The webhook URL (it carries the key) and the signing secret are
    write-only: the admin never shows them back, and neither do logs or errors."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=RobotKind.choices)
    webhook_url = models.CharField(_("webhook URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "alerts_chatrobot"
        verbose_name = _("chat robot")
        verbose_name_plural = _("chat robots")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<ChatRobot {self.pk} {self.kind} {self.name!r}>"

    @property
    def masked_url(self) -> str:
        """Scheme and host only: enough to tell robots apart, nothing to misuse."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.webhook_url)
        return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "…"


class Notification(models.Model):
    """An in-app message to one person about one event. Its timestamps are the KPI's raw data:
    event committed → notification delivered → read → the recipient acted on the order."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("recipient")
    )
    recipient_role = models.CharField(_("recipient role"), max_length=32, choices=Role.choices)
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+", verbose_name=_("order"))
    event = models.ForeignKey("orders.OrderEvent", on_delete=models.PROTECT, related_name="+", verbose_name=_("event"))
    outbox_message = models.ForeignKey(
        "orders.OutboxMessage", on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    text = models.TextField(_("text"))
    event_at = models.DateTimeField(_("event committed at"))
    created_at = models.DateTimeField(_("delivered at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    acted_at = models.DateTimeField(_("acted at"), null=True, blank=True)

    class Meta:
        db_table = "alerts_notification"
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["outbox_message", "recipient"], name="notification_once_per_recipient")
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox_idx"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread_idx"),
            models.Index(fields=["created_at"], condition=Q(acted_at__isnull=True), name="notification_unacted_idx"),
        ]

    def __str__(self) -> str:
        return self.text


class ChatDelivery(models.Model):
    """One message sent to one chat robot (or refused by it), for the record."""

    robot = models.ForeignKey(ChatRobot, on_delete=models.CASCADE, related_name="deliveries")
    outbox_message = models.OneToOneField(
        "orders.OutboxMessage", on_delete=models.PROTECT, related_name="chat_delivery"
    )
    text = models.TextField(_("text"))
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        db_table = "alerts_chatdelivery"
        verbose_name = _("chat delivery")
        verbose_name_plural = _("chat deliveries")
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"{self.robot} @ {self.sent_at:%Y-%m-%d %H:%M}"
