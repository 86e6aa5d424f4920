from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from orders.admin import ReadOnlyAdminMixin
from orders.forms import WriteOnlySecretsForm
from orders.states import Channel

from .models import (
    CarrierAccount,
    ChannelWriteBack,
    InboundDelivery,
    PaymentGatewayAccount,
    ShipmentUploadFile,
    ShipmentUploadLine,
    ShopifyAdminAccount,
    TrackingRecord,
    UploadScope,
    WebhookSource,
)
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


class ShopifyAdminAccountForm(WriteOnlySecretsForm):
    secret_fields = ("access_token",)
    base_url = forms.URLField(
        label=_("base URL"),
        max_length=300,
        required=False,
        assume_scheme="https",
        help_text=ShopifyAdminAccount._meta.get_field("base_url").help_text,
    )

    class Meta:
        model = ShopifyAdminAccount
        fields = ["shop", "access_token", "api_version", "base_url", "notify_customer", "enabled"]

    def clean_shop(self):
        shop = self.cleaned_data["shop"]
        if shop.channel != Channel.SHOPIFY:
            raise forms.ValidationError(_("Only a Shopify shop has a Shopify Admin API account."))
        if not shop.external_shop_id:
            raise forms.ValidationError(
                _("Set the shop's “shop id on the channel” to its Shopify domain (example.myshopify.com) first.")
            )
        return shop


@admin.register(ShopifyAdminAccount)
class ShopifyAdminAccountAdmin(admin.ModelAdmin):
    """Shipments of the shop are written back to Shopify through this account. The token is
    write-only."""

    form = ShopifyAdminAccountForm
    list_display = ("shop", "shop_domain", "api_version", "token_set", "notify_customer", "enabled")
    list_filter = ("enabled",)
    list_select_related = ("shop__brand",)
    actions = ["write_back_recent_shipments"]

    @admin.action(
        description=_("Write back the last 7 days' shipments not sent to Shopify yet"),
        permissions=["change"],
    )
    def write_back_recent_shipments(self, request, queryset):
        from .services.writeback import WriteBackRefused, shopify_writeback_backfill

        for account in queryset.select_related("shop"):
            try:
                queued = shopify_writeback_backfill(shop_id=account.shop_id)
            except WriteBackRefused as exc:
                self.message_user(request, f"{account.shop}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request,
                gettext("%(shop)s: %(count)d shipments queued for Shopify.") % {"shop": account.shop, "count": queued},
                messages.SUCCESS if queued else messages.INFO,
            )

    @admin.display(description=_("Shop domain"))
    def shop_domain(self, account):
        return account.shop.external_shop_id

    @admin.display(description=_("Token"), boolean=True)
    def token_set(self, account):
        return bool(account.access_token)


@admin.register(ChannelWriteBack)
class ChannelWriteBackAdmin(ReadOnly):
    list_display = (
        "created_at",
        "order",
        "shipment",
        "channel",
        "status",
        "operation",
        "channel_fulfilment_id",
        "attempts",
        "acknowledged_at",
        "last_error",
    )
    list_filter = ("status", "channel", "operation")
    search_fields = ("=order__number", "=shipment__tracking_number", "=channel_fulfilment_id")
    list_select_related = ("order", "shipment")


class UploadFileMakeForm(forms.Form):
    shop = forms.ModelChoiceField(label=_("shop"), queryset=None)
    scope = forms.ChoiceField(
        label=_("shipments"), choices=UploadScope.choices, initial=UploadScope.SINCE_LAST, widget=forms.RadioSelect
    )
    day = forms.DateField(
        label=_("day (Shanghai)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Only for “for a day”: the shipments recorded that day not yet in a file."),
    )

    def __init__(self, *args, **kwargs):
        from .services.upload_files import upload_shops

        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = upload_shops()
        self.fields["day"].initial = timezone.localdate()


class ShipmentUploadLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ShipmentUploadLine
    fields = ("order", "channel_order_id", "carrier_name", "tracking_number")
    readonly_fields = fields
    extra = 0


@admin.register(ShipmentUploadFile)
class ShipmentUploadFileAdmin(ReadOnly):
    """Bulk-shipping upload files (批量发货): made per shop from the "Make an upload file" page,
    kept, downloadable again. Never changed or deleted: they are what was sent to the platform."""

    change_list_template = "admin/integrations/shipmentuploadfile/change_list.html"
    list_display = ("created_at", "shop", "channel", "scope", "day", "line_count", "created_by", "download")
    list_filter = ("channel", "scope", "shop")
    list_select_related = ("shop__brand", "created_by")
    inlines = [ShipmentUploadLineInline]
    fields = ("shop", "channel", "scope", "day", "file_name", "line_count", "created_by", "created_at", "download")
    readonly_fields = fields

    @admin.display(description=_("File"))
    def download(self, upload_file):
        url = reverse("admin:integrations_shipmentuploadfile_download", args=[upload_file.pk])
        return format_html('<a href="{}">{}</a>', url, upload_file.file_name)

    def get_urls(self):
        return [
            path(
                "make/",
                self.admin_site.admin_view(self.make_view),
                name="integrations_shipmentuploadfile_make",
            ),
            path(
                "<int:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="integrations_shipmentuploadfile_download",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_make": request.user.has_perm(MAKE_UPLOAD_FILE)}
        return super().changelist_view(request, extra_context)

    def make_view(self, request):
        from .services.upload_files import UploadFileRefused, shipment_upload_file_create

        if not request.user.has_perm(MAKE_UPLOAD_FILE):
            raise PermissionDenied
        form = UploadFileMakeForm(request.POST or None, initial={"shop": request.GET.get("shop")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = shipment_upload_file_create(
                    shop_id=data["shop"].pk, scope=data["scope"], day=data.get("day"), actor=request.user
                )
            except UploadFileRefused as exc:
                messages.error(request, exc.message)
            else:
                made = result.upload_file
                messages.success(
                    request,
                    gettext("Made %(name)s with %(count)d shipments: download it and upload it on the platform.")
                    % {"name": made.file_name, "count": made.line_count},
                )
                if result.skipped:
                    messages.warning(
                        request,
                        gettext("Left out (no order id on the channel, fix the order first): %(numbers)s")
                        % {"numbers": ", ".join(result.skipped)},
                    )
                return HttpResponseRedirect(reverse("admin:integrations_shipmentuploadfile_change", args=[made.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Make a bulk-shipping upload file"),
            "form": form,
        }
        return render(request, "admin/integrations/shipmentuploadfile/make.html", context)

    def download_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        upload_file = ShipmentUploadFile.objects.filter(pk=object_id).first()
        if upload_file is None:
            raise Http404(gettext("There is no such upload file."))
        return FileResponse(
            upload_file.file.open("rb"),
            as_attachment=True,
            filename=upload_file.file_name,
            content_type=upload_file.content_type,
        )


MAKE_UPLOAD_FILE = "integrations.make_shipmentuploadfile"
