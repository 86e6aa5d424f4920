"""The board pages' filters (django-filter): what goes beyond a plain field match (mine /
unassigned, stale, one search box) calls the same selector functions the admin boards use."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import Order, Warehouse
from .selectors import (
    BoardClock,
    brand_list_for_user,
    order_filter_brand,
    order_filter_exception_reason,
    order_filter_ops_kind,
    order_filter_owner,
    order_filter_stale,
    order_search,
)
from .states import (
    CS_BOARD_STATUSES,
    WAREHOUSE_BOARD_STAGES,
    Channel,
    ExceptionReason,
    MainStatus,
    Priority,
    State,
    WarehouseStage,
)

OWNER_CHOICES = (
    ("mine", pgettext_lazy("owner", "Mine")),
    ("unassigned", pgettext_lazy("owner", "Unassigned")),
    ("all", pgettext_lazy("owner", "All owners")),
)
STALE_CHOICES = (("yes", _("Stale only")), ("no", _("Not stale")))


def _brands_of_viewer(request):
    return brand_list_for_user(user=request.user if request is not None else None)


def _brand_filter():
    # The viewer's brands only (customer service: theirs), by code in the URL, applied as
    # `shop_id IN (the brand's shops)` on the order row.
    return django_filters.ModelChoiceFilter(
        queryset=_brands_of_viewer,
        to_field_name="code",
        method="filter_brand",
        label=_("Brand"),
        empty_label=_("All brands"),
    )


class _BoardFilterSet(django_filters.FilterSet):
    """Filters that need the viewer (mine, their brands) and the page's clock (stale)."""

    def __init__(self, data=None, *args, request=None, clock: BoardClock, **kwargs):
        super().__init__(data, *args, request=request, **kwargs)
        self.clock = clock

    def filter_brand(self, queryset, name, value):
        return order_filter_brand(queryset, brand=value) if value else queryset

    def filter_search(self, queryset, name, value):
        return order_search(queryset, term=value)

    def filter_stale(self, queryset, name, value):
        return order_filter_stale(queryset, clock=self.clock, stale=value == "yes") if value else queryset


class CustomerServiceBoardFilter(_BoardFilterSet):
    q = django_filters.CharFilter(
        method="filter_search",
        label=_("Search"),
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Order no., channel order id, tracking no., email, phone")}
        ),
    )
    owner = django_filters.ChoiceFilter(
        choices=OWNER_CHOICES, method="filter_owner", label=_("Owner"), empty_label=None, null_value=None
    )
    brand = _brand_filter()
    main_status = django_filters.ChoiceFilter(
        choices=[(s.value, s.label) for s in MainStatus if s in CS_BOARD_STATUSES],
        label=_("Main status"),
        empty_label=_("Any status"),
    )
    channel = django_filters.ChoiceFilter(choices=Channel.choices, label=_("Channel"), empty_label=_("Any channel"))
    priority = django_filters.ChoiceFilter(choices=Priority.choices, label=_("Priority"), empty_label=_("Any priority"))
    stale = django_filters.ChoiceFilter(
        choices=STALE_CHOICES, method="filter_stale", label=_("Stale"), empty_label=_("Stale or not")
    )

    class Meta:
        model = Order
        fields = ["q", "owner", "brand", "main_status", "channel", "priority", "stale"]

    def __init__(self, data=None, *args, **kwargs):
        # Customer service starts from its own orders.
        data = data.copy() if data is not None else None
        if data is not None and not data.get("owner"):
            data["owner"] = "mine"
        super().__init__(data, *args, **kwargs)

    @property
    def qs(self):
        # Opened with no query string the filterset is unbound, and django-filter then filters
        # nothing: "mine" must hold on the first visit too.
        if not self.is_bound and not hasattr(self, "_qs"):
            self._qs = order_filter_owner(self.queryset.all(), user=self.request.user, owner="mine")
        return super().qs

    def filter_owner(self, queryset, name, value):
        return order_filter_owner(queryset, user=self.request.user, owner=value)


class WarehouseBoardFilter(_BoardFilterSet):
    q = django_filters.CharFilter(
        method="filter_search",
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Order no. or tracking no.")}),
    )
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.filter(is_active=True), label=_("Warehouse"), empty_label=_("All warehouses")
    )
    warehouse_stage = django_filters.ChoiceFilter(
        choices=[(s.value, s.label) for s in WarehouseStage if s in WAREHOUSE_BOARD_STAGES],
        label=_("Stage"),
        empty_label=_("All stages"),
    )
    priority = django_filters.ChoiceFilter(choices=Priority.choices, label=_("Priority"), empty_label=_("Any priority"))
    brand = _brand_filter()
    stale = django_filters.ChoiceFilter(
        choices=STALE_CHOICES, method="filter_stale", label=_("Stale"), empty_label=_("Stale or not")
    )

    class Meta:
        model = Order
        fields = ["q", "warehouse", "warehouse_stage", "priority", "brand", "stale"]


OPS_KIND_CHOICES = (
    ("stale", _("Stale")),
    ("conflicting", _("Changed by many roles")),
    ("risk_hold", _("Risk hold")),
)


class OperationsBoardFilter(_BoardFilterSet):
    q = django_filters.CharFilter(
        method="filter_search",
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Order no., tracking no., email, phone")}),
    )
    kind = django_filters.ChoiceFilter(
        choices=OPS_KIND_CHOICES, method="filter_kind", label=_("Why listed"), empty_label=_("Every reason")
    )
    state = django_filters.ChoiceFilter(choices=State.choices, label=_("Fine state"), empty_label=_("Any state"))
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.filter(is_active=True), label=_("Warehouse"), empty_label=_("All warehouses")
    )
    channel = django_filters.ChoiceFilter(choices=Channel.choices, label=_("Channel"), empty_label=_("Any channel"))
    brand = _brand_filter()

    class Meta:
        model = Order
        fields = ["q", "kind", "state", "warehouse", "channel", "brand"]

    def filter_kind(self, queryset, name, value):
        return order_filter_ops_kind(queryset, clock=self.clock, kind=value) if value else queryset


class ExceptionBoardFilter(_BoardFilterSet):
    q = django_filters.CharFilter(
        method="filter_search",
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Order no., tracking no., email, phone")}),
    )
    reason = django_filters.ChoiceFilter(
        choices=ExceptionReason.choices, method="filter_reason", label=_("Reason"), empty_label=_("Every reason")
    )
    brand = _brand_filter()
    channel = django_filters.ChoiceFilter(choices=Channel.choices, label=_("Channel"), empty_label=_("Any channel"))

    class Meta:
        model = Order
        fields = ["q", "reason", "brand", "channel"]

    def filter_reason(self, queryset, name, value):
        user = self.request.user if self.request is not None else None
        return order_filter_exception_reason(queryset, reason=value, user=user) if value else queryset
