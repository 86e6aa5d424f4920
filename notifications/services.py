"""Writes of the notifications app: a notification opened, all read, acted-on times stamped."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import Notification


def notification_open(*, notification_id: int, user) -> Notification:
    """Mark read (once) and hand back the notification so the caller can open its order."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id, recipient=user)
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def notifications_stamp_acted(*, window_days: int = 7) -> int:
    """Set `acted_at` to the first event the recipient recorded on the order after being told:
    one set-based UPDATE over the recent, not yet acted notifications."""
    from django.db.models import Min, OuterRef, Subquery

    from orders.models import OrderEvent

    first_action = (
        OrderEvent.objects.filter(
            order_id=OuterRef("order_id"), actor_id=OuterRef("recipient_id"), occurred_at__gte=OuterRef("event_at")
        )
        .values("order_id")
        .annotate(first=Min("occurred_at"))
        .values("first")[:1]
    )
    since = timezone.now() - timedelta(days=window_days)
    return (
        Notification.objects.filter(acted_at__isnull=True, created_at__gte=since)
        .annotate(first=Subquery(first_action))
        .filter(first__isnull=False)
        .update(acted_at=Subquery(first_action))
    )
