from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from orders.admin import ReadOnlyAdminMixin
from orders.forms import WriteOnlySecretsForm

from .models import CarrierAccount, InboundDelivery, PaymentGatewayAccount, TrackingRecord, WebhookSource
from .payments.alipay import load_private_key, load_public_key
from .payments.base import PaymentGiveUp


class CarrierAccountForm(WriteOnlySecretsForm):
    secret_fields = ("app_secret",)
    endpoint = forms.URLField(label=_("endpoint"), max_length=300, assume_scheme="https")

    class Meta:
        model = CarrierAccount
        fields = ["name", "carrier", "endpoint", "app_key", "app_secret", "extra", "warehouses", "priority", "enabled"]


@admin.register(CarrierAccount)
class CarrierAccountAdmin(admin.ModelAdmin):
    form = CarrierAccountForm
    list_display = ("name", "carrier", "endpoint", "app_key", "secret_set", "priority", "enabled")
    list_filter = ("carrier", "enabled")
    filter_horizontal = ("warehouses",)

    @admin.display(description=_("Secret"), boolean=True)
    def secret_set(self, account):
        return bool(account.app_secret)


class PaymentGatewayAccountForm(WriteOnlySecretsForm):
    secret_fields = ("private_key", "gateway_public_key")
    endpoint = forms.URLField(label=_("endpoint"), max_length=300, assume_scheme="https")

    class Meta:
        model = PaymentGatewayAccount
        fields = ["name", "gateway", "endpoint", "app_id", "private_key", "gateway_public_key", "enabled"]

    def clean(self):
        """A key that cannot be read is refused now, not at the first refund."""
        data = super().clean()
        for name, load in (("private_key", load_private_key), ("gateway_public_key", load_public_key)):
            if data.get(name) and name not in self.errors:
                try:
                    load(data[name])
                except PaymentGiveUp as exc:
                    self.add_error(name, exc.message)
        return data


@admin.register(PaymentGatewayAccount)
class PaymentGatewayAccountAdmin(admin.ModelAdmin):
    """Refunds are paid through the enabled account of a gateway. Its keys are write-only."""

    form = PaymentGatewayAccountForm
    list_display = ("name", "gateway", "endpoint", "app_id", "keys_set", "enabled")
    list_filter = ("gateway", "enabled")

    @admin.display(description=_("Keys"), boolean=True)
    def keys_set(self, account):
        return bool(account.private_key and account.gateway_public_key)


class WebhookSourceForm(WriteOnlySecretsForm):
    secret_fields = ("secret",)

    class Meta:
        model = WebhookSource
        fields = ["kind", "name", "secret", "enabled"]


@admin.register(WebhookSource)
class WebhookSourceAdmin(admin.ModelAdmin):
    form = WebhookSourceForm
    list_display = ("name", "kind", "enabled")
    list_filter = ("kind", "enabled")


class ReadOnly(ReadOnlyAdminMixin, admin.ModelAdmin):
    actions = None


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(ReadOnly):
    list_display = ("received_at", "source", "topic", "delivery_id", "order", "outcome")
    list_filter = ("source", "topic")
    search_fields = ("=delivery_id", "=order__number")
    list_select_related = ("order",)


@admin.register(TrackingRecord)
class TrackingRecordAdmin(ReadOnly):
    list_display = ("occurred_at", "shipment", "kind", "description", "location", "via")
    list_filter = ("kind", "via")
    search_fields = ("=shipment__tracking_number",)
    list_select_related = ("shipment",)
