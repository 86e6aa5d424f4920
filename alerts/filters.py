"""The alert board's filters."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from orders.selectors import brand_list_for_user, order_filter_brand
from orders.states import HUMAN_ROLES

from .models import Alert, AlertKind, AlertSeverity, AlertStatus


class AlertBoardFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=AlertKind.choices, label=_("Kind"), empty_label=_("Any kind"))
    severity = django_filters.ChoiceFilter(
        choices=AlertSeverity.choices, label=_("Severity"), empty_label=_("Any severity")
    )
    status = django_filters.ChoiceFilter(
        choices=[(s.value, s.label) for s in (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)],
        label=_("Status"),
        empty_label=_("Open or acknowledged"),
    )
    assigned_role = django_filters.ChoiceFilter(
        choices=[(r.value, r.label) for r in HUMAN_ROLES], label=_("Assigned role"), empty_label=_("Any role")
    )

    # Alerts about the orders of one brand (customer service: one of theirs).
    brand = django_filters.ModelChoiceFilter(
        queryset=lambda request: brand_list_for_user(user=request.user if request is not None else None),
        to_field_name="code",
        method="filter_brand",
        label=_("Brand"),
        empty_label=_("All brands"),
    )

    class Meta:
        model = Alert
        fields = ["kind", "severity", "status", "assigned_role", "brand"]

    def filter_brand(self, queryset, name, value):
        return order_filter_brand(queryset, brand=value, prefix="order__") if value else queryset
