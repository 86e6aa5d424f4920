"""Chat robots (their URL and secret write-only), and the record of notifications and chat
messages sent."""

from django import forms
from django.contrib import admin, messages
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from integrations.chat.base import ChatError, RobotConfig, chat_send
from orders.admin import ReadOnlyAdminMixin
from orders.forms import WriteOnlySecretsForm

from .models import ChatDelivery, ChatRobot, Notification


class ChatRobotForm(WriteOnlySecretsForm):
    """The URL (it carries the key) and the signing secret are write-only."""

    secret_fields = ("webhook_url", "secret")
    optional_secrets = ("secret",)

    class Meta:
        model = ChatRobot
        fields = ["name", "kind", "webhook_url", "secret", "enabled"]
        help_texts = {"secret": _("DingTalk robots with “signed” security: the SEC… secret.")}

    def clean(self):
        data = super().clean()
        url = data.get("webhook_url")
        if url and not self.has_error("webhook_url"):
            try:
                URLValidator(schemes=["https", "http"])(url)
            except forms.ValidationError as exc:
                self.add_error("webhook_url", exc)
        if data.get("kind") == "dingtalk" and not data.get("secret"):
            self.add_error("secret", _("DingTalk robots need their signing secret."))
        return data


@admin.register(ChatRobot)
class ChatRobotAdmin(admin.ModelAdmin):
    form = ChatRobotForm
    list_display = ("name", "kind", "masked_url", "enabled", "created_at")
    list_filter = ("kind", "enabled")
    actions = ["send_test_message"]

    @admin.display(description=_("Webhook"))
    def masked_url(self, robot):
        return robot.masked_url

    @admin.action(description=_("Send a test message"), permissions=["change"])
    def send_test_message(self, request, queryset):
        for robot in queryset:
            config = RobotConfig(kind=robot.kind, url=robot.webhook_url, secret=robot.secret)
            try:
                chat_send(config, title="OrderHub", text=str(_("Test message from OrderHub: this robot works.")))
            except ChatError as exc:
                self.message_user(request, f"{robot.name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, _("%(name)s: sent.") % {"name": robot.name}, messages.SUCCESS)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "recipient", "recipient_role", "text", "read_at", "acted_at")
    list_filter = ("recipient_role", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("=order__number", "recipient__username")
    list_select_related = ("recipient",)
    show_full_result_count = False
    actions = None


@admin.register(ChatDelivery)
class ChatDeliveryAdmin(NotificationAdmin):
    list_display = ("sent_at", "robot", "text")
    list_filter = ("robot",)
    search_fields = ("text",)
    list_select_related = ("robot",)
