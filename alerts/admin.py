from django import forms
from django.contrib import admin, messages
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from integrations.chat.base import ChatError, RobotConfig, chat_send
from orders.admin import ReadOnlyAdminMixin
from orders.forms import WriteOnlySecretsForm

from .models import ChatDelivery, ChatRobot, Notification, ReactionRule


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


class ReactionRuleForm(forms.ModelForm):
    class Meta:
        model = ReactionRule
        fields = [
            "name",
            "event_type",
            "kind",
            "params",
            "enabled",
            "recipient_cs_owner",
            "recipient_role",
            "recipient_users",
            "recipient_robots",
        ]
        widgets = {"recipient_users": forms.CheckboxSelectMultiple, "recipient_robots": forms.CheckboxSelectMultiple}


@admin.register(ReactionRule)
class ReactionRuleAdmin(admin.ModelAdmin):
    form = ReactionRuleForm
    list_display = ("name", "event_type", "kind", "recipients", "enabled", "updated_at")
    list_filter = ("event_type", "kind", "enabled")
    list_editable = ("enabled",)
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "event_type", "kind", "params", "enabled")}),
        (_("Who is told"), {"fields": ("recipient_cs_owner", "recipient_role", "recipient_users", "recipient_robots")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("recipient_users", "recipient_robots")

    @admin.display(description=_("Recipients"))
    def recipients(self, rule):
        parts = []
        if rule.recipient_cs_owner:
            parts.append(str(_("CS owner")))
        if rule.recipient_role:
            parts.append(rule.get_recipient_role_display())
        parts += [u.get_username() for u in rule.recipient_users.all()]
        parts += [r.name for r in rule.recipient_robots.all()]
        return ", ".join(parts) or "—"


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
