"""The alert board's filters."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

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

    class Meta:
        model = Alert
        fields = ["kind", "severity", "status", "assigned_role"]
