"""Reads of the notifications app: the bell, the inbox and the order timeline's section."""

from __future__ import annotations

from django.db.models import QuerySet

from orders.models import Order
from orders.selectors import order_visibility_q

from .models import Notification


def _addressed_to(user) -> QuerySet[Notification]:
    """The user's notifications about orders they still see: one told about a brand's order
    before being moved to another brand no longer finds it in the bell or the inbox."""
    return Notification.objects.filter(recipient=user).filter(order_visibility_q(user, prefix="order__"))


def notification_unread_count(*, user) -> int:
    return _addressed_to(user).filter(read_at__isnull=True).count()


def notification_inbox(*, user, limit: int = 50) -> QuerySet[Notification]:
    return _addressed_to(user).select_related("order", "event").order_by("-created_at", "-id")[:limit]


def notifications_for_order_timeline(*, order: Order, user) -> QuerySet[Notification]:
    """The order's notifications a user may see: all of them with `notifications.view_notification`,
    else the ones addressed to the user. Oldest first."""
    notifications = Notification.objects.filter(order=order).select_related("recipient").order_by("created_at", "id")
    if user.has_perm("notifications.view_notification"):
        return notifications
    return notifications.filter(recipient=user)
