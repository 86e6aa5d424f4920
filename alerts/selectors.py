"""Reads of the alerts app: the alert board."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Max, Q, Sum, Value, When
from django.utils import timezone

from orders.selectors import order_visibility_q

from .models import ACTIVE_ALERT_STATUSES, Alert, AlertKind, AlertSeverity, AlertStatus

ALERT_BOARD_LIMIT = 200


def alert_visibility_q(user):
    """The alerts `user` may see: those about an integration, and those about an order they may
    see (customer service: their brands' orders; see orders.selectors.shop_ids_visible_to)."""
    about_order = order_visibility_q(user, prefix="order__")
    return about_order if not about_order else (Q(order__isnull=True) | about_order)


def alert_list_for_board(*, limit: int = ALERT_BOARD_LIMIT, user=None):
    """Active alerts, open before acknowledged, newest first, with what a card shows in the
    same query (the order, who acknowledged). Filters narrow it further."""

    return (
        Alert.objects.filter(status__in=ACTIVE_ALERT_STATUSES)
        .filter(alert_visibility_q(user))
        .select_related("order", "acknowledged_by")
        .annotate(
            open_first=Case(When(status=AlertStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        .order_by("open_first", "-opened_at", "-id")
    )


def alert_board_change_token(*, now=None, user=None) -> str:
    """Changes when an active alert opens, is touched, acknowledged or resolved: one aggregate
    (over the alerts `user` may see)."""

    row = (
        Alert.objects.filter(status__in=ACTIVE_ALERT_STATUSES)
        .filter(alert_visibility_q(user))
        .aggregate(n=Count("id"), top=Max("id"), versions=Sum("version"), seen=Sum("seen_count"))
    )
    minute = int((now or timezone.now()).timestamp() // 60)
    return f"{row['n']}.{row['top'] or 0}.{row['versions'] or 0}.{row['seen'] or 0}.{minute}"


def alert_open_counts() -> dict:
    """Open alerts by kind and severity, for the operations board's header: one GROUP BY."""

    rows = Alert.objects.filter(status=AlertStatus.OPEN).values_list("kind", "severity").annotate(n=Count("id"))
    by_kind: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    total = 0
    for kind, severity, n in rows.order_by():
        by_kind[kind] = by_kind.get(kind, 0) + n
        by_severity[severity] = by_severity.get(severity, 0) + n
        total += n
    return {
        "total": total,
        "by_kind": [
            {"kind": k, "label": AlertKind(k).label, "n": by_kind[k]} for k in AlertKind.values if k in by_kind
        ],
        "by_severity": [
            {"severity": s, "label": AlertSeverity(s).label, "n": by_severity[s]}
            for s in reversed(AlertSeverity.values)
            if s in by_severity
        ],
    }
