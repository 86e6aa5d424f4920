"""Reads of the alerts app: the bell, the inbox and the cross-role latency KPI."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from django.db.models import QuerySet

from notifications.models import Notification


def _addressed_to(user) -> QuerySet[Notification]:
    """The user's notifications about orders they still see: one told about a brand's order
    before being moved to another brand no longer finds it in the bell or the inbox."""
    from orders.selectors import order_visibility_q

    return Notification.objects.filter(recipient=user).filter(order_visibility_q(user, prefix="order__"))


def notification_unread_count(*, user) -> int:
    return _addressed_to(user).filter(read_at__isnull=True).count()


def notification_inbox(*, user, limit: int = 50) -> QuerySet[Notification]:
    return _addressed_to(user).select_related("order", "event").order_by("-created_at", "-id")[:limit]


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def cross_role_latency(*, since: datetime, until: datetime, shop_ids: list[int] | None = None) -> list[dict]:
    """Per (acting role → notified role): how long from the event to the recipient acting on
    the order, and from the event to the notification being delivered, p50 and p95 seconds.
    `shop_ids`: only the orders of these shops (a brand's), None for all."""
    notifications = Notification.objects.filter(event_at__gte=since, event_at__lt=until)
    if shop_ids is not None:
        notifications = notifications.filter(order__shop_id__in=shop_ids)
    rows = notifications.values_list("event__actor_role", "recipient_role", "event_at", "created_at", "acted_at")
    delivered = defaultdict(list)
    acted = defaultdict(list)
    for from_role, to_role, event_at, created_at, acted_at in rows.iterator(chunk_size=2000):
        key = (from_role, to_role)
        delivered[key].append((created_at - event_at).total_seconds())
        if acted_at is not None:
            acted[key].append((acted_at - event_at).total_seconds())
    report = []
    for key in sorted(delivered):
        d = sorted(delivered[key])
        a = sorted(acted.get(key, []))
        report.append(
            {
                "from_role": key[0],
                "to_role": key[1],
                "notifications": len(d),
                "delivered_p50_s": _percentile(d, 0.5),
                "delivered_p95_s": _percentile(d, 0.95),
                "acted": len(a),
                "acted_p50_s": _percentile(a, 0.5) if a else None,
                "acted_p95_s": _percentile(a, 0.95) if a else None,
            }
        )
    return report


# --- The alert board ------------------------------------------------------------------------

ALERT_BOARD_LIMIT = 200


def alert_visibility_q(user):
    """The alerts `user` may see: those about an integration, and those about an order they may
    see (customer service: their brands' orders; see orders.selectors.shop_ids_visible_to)."""
    from django.db.models import Q

    from orders.selectors import order_visibility_q

    about_order = order_visibility_q(user, prefix="order__")
    return about_order if not about_order else (Q(order__isnull=True) | about_order)


def alert_list_for_board(*, limit: int = ALERT_BOARD_LIMIT, user=None):
    """Active alerts, open before acknowledged, newest first, with what a card shows in the
    same query (the order, who acknowledged). Filters narrow it further."""
    from django.db.models import Case, IntegerField, Value, When

    from .models import ACTIVE_ALERT_STATUSES, Alert, AlertStatus

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
    from django.db.models import Count, Max, Sum
    from django.utils import timezone

    from .models import ACTIVE_ALERT_STATUSES, Alert

    row = (
        Alert.objects.filter(status__in=ACTIVE_ALERT_STATUSES)
        .filter(alert_visibility_q(user))
        .aggregate(n=Count("id"), top=Max("id"), versions=Sum("version"), seen=Sum("seen_count"))
    )
    minute = int((now or timezone.now()).timestamp() // 60)
    return f"{row['n']}.{row['top'] or 0}.{row['versions'] or 0}.{row['seen'] or 0}.{minute}"


def alert_open_counts() -> dict:
    """Open alerts by kind and severity, for the operations board's header: one GROUP BY."""
    from django.db.models import Count

    from .models import Alert, AlertKind, AlertSeverity, AlertStatus

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
