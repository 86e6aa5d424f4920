"""Brands and their shops in the admin. Operations and the admin manage them; customer service
may look. A shop's webhook secret is write-only (never rendered back), its import mapping is
checked against the channel's import columns, and a brand's staff are customer-service people.

Also the brand list filter the order admin and the admin boards share: a viewer's choices are
the brands whose orders they see, applied as `shop_id IN (…)`."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .forms import WriteOnlySecretsForm
from .import_columns import import_column_names, import_mapping_clean
from .models import Brand, Shop
from .selectors import brand_list_for_user, order_filter_brand, people_in_role
from .states import Role


class BrandFilter(admin.SimpleListFilter):
    """The brands this viewer sees (customer service: only theirs), as `shop_id IN (…)`."""

    title = _("brand")
    parameter_name = "brand"

    def lookups(self, request, model_admin):
        return [(brand.code, brand.name) for brand in brand_list_for_user(user=request.user)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        brand = brand_list_for_user(user=request.user).filter(code=self.value()).first()
        return order_filter_brand(queryset, brand=brand) if brand is not None else queryset.none()


class BrandForm(forms.ModelForm):
    class Meta:
        model = Brand
        fields = ["code", "name", "is_active", "staff"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "staff" in self.fields:
            # Only customer service is scoped by brand: anyone else would see every order anyway.
            self.fields["staff"].queryset = people_in_role(Role.CUSTOMER_SERVICE)


class ShopForm(WriteOnlySecretsForm):
    secret_fields = ("webhook_secret",)
    # A shop without a secret of its own is checked against the channel's secrets.
    optional_secrets = ("webhook_secret",)

    class Meta:
        model = Shop
        fields = [
            "brand",
            "channel",
            "code",
            "name",
            "external_shop_id",
            "webhook_secret",
            "import_mapping",
            "is_channel_default",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "import_mapping" in self.fields:
            channel = self.instance.channel if self.instance.pk else None
            columns = ", ".join(import_column_names(channel)) if channel else ""
            if columns:
                self.fields["import_mapping"].help_text = _(
                    "Optional: the hub's import column → this shop's header, e.g. "
                    '{"external_id": "店铺订单号"}. Columns of this channel: %(columns)s.'
                ) % {"columns": columns}

    def clean_external_shop_id(self):
        return (self.cleaned_data.get("external_shop_id") or "").strip().lower()

    def clean(self):
        data = super().clean()
        channel = data.get("channel")
        if self.instance.pk and channel and channel != self.instance.channel and self.instance.orders.exists():
            # Its orders came from the old channel: moving the shop would contradict them.
            self.add_error("channel", _("This shop has orders: its channel cannot change."))
        if channel and "import_mapping" in data:
            try:
                data["import_mapping"] = import_mapping_clean(channel, data.get("import_mapping"))
            except ValueError as exc:
                self.add_error("import_mapping", str(exc))
        return data


class ShopInline(admin.TabularInline):
    model = Shop
    extra = 0
    fields = ("code", "name", "channel", "external_shop_id", "is_channel_default", "is_active")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # Shops are added on their own page, where the secret and the mapping are checked.
        return False


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    form = BrandForm
    list_display = ("name", "code", "is_active", "staff_names", "shop_count")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    filter_horizontal = ("staff",)
    inlines = (ShopInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("staff", "shops")

    def has_delete_permission(self, request, obj=None):
        # Orders point at the brand's shops: a brand is made inactive, never deleted.
        return False

    @admin.display(description=_("Customer-service staff"))
    def staff_names(self, brand):
        return ", ".join(user.get_username() for user in brand.staff.all()) or "—"

    @admin.display(description=_("Shops"))
    def shop_count(self, brand):
        return len(brand.shops.all())


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    form = ShopForm
    list_display = (
        "name",
        "code",
        "brand",
        "channel",
        "external_shop_id",
        "secret_set",
        "is_channel_default",
        "is_active",
    )
    list_filter = ("brand", "channel", "is_channel_default", "is_active")
    search_fields = ("code", "name", "external_shop_id")
    list_select_related = ("brand",)

    def has_delete_permission(self, request, obj=None):
        # Orders point at the shop: it is made inactive, never deleted.
        return False

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if not self.has_change_permission(request, obj):
            # A read-only page would print the stored secret: it is never shown, to anyone.
            fields = [f for f in fields if f != "webhook_secret"]
        return fields

    @admin.display(description=_("Own webhook secret"), boolean=True)
    def secret_set(self, shop):
        return bool(shop.webhook_secret)
