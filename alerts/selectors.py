"""Reads of the alerts app: the bell, the inbox and the cross-role latency KPI."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from django.db.models import QuerySet

from .models import Notification


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notification_inbox(*, user, limit: int = 50) -> QuerySet[Notification]:
    return (
        Notification.objects.filter(recipient=user)
        .select_related("order", "event")
        .order_by("-created_at", "-id")[:limit]
    )


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def cross_role_latency(*, since: datetime, until: datetime) -> list[dict]:
    """Per (acting role → notified role): how long from the event to the recipient acting on
    the order, and from the event to the notification being delivered, p50 and p95 seconds."""
    rows = Notification.objects.filter(event_at__gte=since, event_at__lt=until).values_list(
        "event__actor_role", "recipient_role", "event_at", "created_at", "acted_at"
    )
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
