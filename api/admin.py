"""The open API in the admin (the tech lead's): API clients (the token shown once, at
creation; revocable; last use shown), webhook subscriptions (the secret write-only) and the
delivery log with a replay action."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from orders.admin import local_time
from orders.events import EVENT_TYPE_CHOICES
from orders.exceptions import OrderError
from orders.forms import WriteOnlySecretsForm

from .models import ApiClient, WebhookDelivery, WebhookSubscription
from .services.clients import api_client_create, api_client_revoke
from .services.webhooks import ALL_EVENTS, webhook_delivery_replay


class ApiClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ["name", "role", "brands", "rate_limit_per_minute"]

    def clean(self):
        data = super().clean()
        role = data.get("role") or (self.instance.role if self.instance.pk else "")
        if role == "customer_service" and "brands" in self.fields and not data.get("brands"):
            self.add_error("brands", _("A customer-service client works for chosen brands: pick one."))
        return data


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ("name", "role", "brand_list", "active", "last_used", "created", "rate_limit_per_minute")
    list_filter = ("role",)
    search_fields = ("name", "=token_prefix")
    filter_horizontal = ("brands",)
    actions = ["revoke"]
    readonly_fields = ("token_prefix", "service_user", "created_by", "created", "last_used", "revoked")

    def get_readonly_fields(self, request, obj=None):
        # The role is the service user's group: chosen once; a new role is a new client.
        return (*self.readonly_fields, "role") if obj is not None else self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("brands")

    @admin.display(description=_("Brands"))
    def brand_list(self, client):
        return ", ".join(b.code for b in client.brands.all()) or _("every brand")

    @admin.display(description=_("Active"), boolean=True)
    def active(self, client):
        return client.is_active

    @admin.display(description=_("Last used"), ordering="last_used_at")
    def last_used(self, client):
        return local_time(client.last_used_at) if client.last_used_at else "—"

    @admin.display(description=_("Created"), ordering="created_at")
    def created(self, client):
        return local_time(client.created_at)

    @admin.display(description=_("Revoked"))
    def revoked(self, client):
        return local_time(client.revoked_at) if client.revoked_at else "—"

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the timeline names its service user

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            if "name" in form.changed_data:
                # The name the timeline gives its next actions (earlier ones keep theirs).
                obj.service_user.first_name = obj.name[:150]
                obj.service_user.save(update_fields=["first_name"])
            return
        data = form.cleaned_data
        try:
            client, token = api_client_create(
                name=data["name"],
                role=data["role"],
                brands=data.get("brands") or (),
                rate_limit_per_minute=data["rate_limit_per_minute"],
                actor=request.user,
            )
        except OrderError as exc:
            # Checked again here under the service's rules; the form's own checks ran first.
            raise forms.ValidationError(exc.message) from exc
        obj.pk = client.pk
        obj.__dict__.update({k: v for k, v in client.__dict__.items() if not k.startswith("_")})
        request._api_token_created = token

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def response_add(self, request, obj, post_url_continue=None):
        token = getattr(request, "_api_token_created", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "client": obj,
            "token": token,
            "token_prefix_hint": f"ohk_{obj.token_prefix}_…",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/api/token_created.html", context)

    @admin.action(description=_("Revoke the selected clients' tokens"), permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        for client in queryset.filter(revoked_at__isnull=True):
            api_client_revoke(client_id=client.pk, actor=request.user)
            count += 1
        self.message_user(request, _("%(count)d tokens revoked.") % {"count": count})


class WebhookSubscriptionForm(WriteOnlySecretsForm):
    secret_fields = ("secret",)
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Every event of these types (of the chosen brands) is sent."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "secret", "event_types", "brands", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = [(ALL_EVENTS, _("Every event")), *EVENT_TYPE_CHOICES]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("name", "url", "types", "is_active")
    list_filter = ("is_active",)
    filter_horizontal = ("brands",)

    @admin.display(description=_("Event types"))
    def types(self, subscription):
        return ", ".join(subscription.event_types)

    def has_delete_permission(self, request, obj=None):
        return False  # made inactive instead: its deliveries point at it


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every attempt: status, HTTP code, duration, attempt, the answer's beginning. Read-only;
    "replay" sends the event again as a new delivery."""

    list_display = (
        "attempted",
        "subscription",
        "order_number",
        "event_type",
        "attempt",
        "ok",
        "status_code",
        "duration_ms",
        "error",
        "delivery_id",
    )
    list_filter = ("ok", "subscription")
    search_fields = ("=delivery_id", "=event__order__number")
    list_select_related = ("subscription", "event__order")
    show_full_result_count = False
    actions = ["replay"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Attempted"), ordering="attempted_at")
    def attempted(self, delivery):
        return local_time(delivery.attempted_at)

    @admin.display(description=_("Order"))
    def order_number(self, delivery):
        return delivery.event.order.number

    @admin.display(description=_("Event"))
    def event_type(self, delivery):
        return delivery.event.action

    def get_urls(self):
        replay = self.admin_site.admin_view(require_POST(self.replay_view))
        return [path("<int:pk>/replay/", replay, name="api_webhookdelivery_replay"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_replay": self.has_change_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def replay_view(self, request, pk: int):
        """The change page's replay button."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        delivery = get_object_or_404(WebhookDelivery, pk=pk)
        new_id = webhook_delivery_replay(delivery_id=delivery.pk, actor=request.user)
        self.message_user(request, _("Queued again as %(id)s.") % {"id": new_id})
        return redirect("admin:api_webhookdelivery_changelist")

    @admin.action(description=_("Replay: send the selected deliveries' events again"), permissions=["change"])
    def replay(self, request, queryset):
        ids = [webhook_delivery_replay(delivery_id=d.pk, actor=request.user) for d in queryset]
        self.message_user(
            request, _("%(count)d deliveries queued again: %(ids)s") % {"count": len(ids), "ids": ", ".join(ids)}
        )
        if any(not d.subscription.is_active for d in queryset):
            self.message_user(request, _("Inactive subscriptions send nothing until made active."), messages.WARNING)
