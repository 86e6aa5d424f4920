"""Writes of the notifications app: notifications for people and messages for chat robots about
an order's events (the notify reactions), a notification opened, all read, acted-on times stamped."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from orders.models import OrderEvent
from orders.outbox.services import outbox_batch_bulk_create
from orders.permissions import role_of
from orders.selectors import people_in_role, user_list_seeing_order
from orders.services.dispatch import dispatch_promise_text_for_event

from .models import Notification
from .privacy import mask_personal_data


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


def notification_text(event) -> str:
    """`OH20260128-00001 [2026-01-28 14:05] 王强 (仓储组) 打包完成`, in the hub's language; a packed
    event adds the dispatch promise (`14:05 已打包，今天 18:00 前发出`) so customer service can
    answer before the buyer asks."""
    with translation.override(settings.LANGUAGE_CODE):
        return _with_dispatch_promise(f"{event.order.number} {event.timeline_text()}", event)


def _with_dispatch_promise(text: str, event) -> str:
    promise = dispatch_promise_text_for_event(event)
    return f"{text} · {promise}" if promise else text


def chat_text(event) -> tuple[str, str]:
    """Title and body for a chat group: the order number, what happened, when, who, and the
    note with every email and phone number masked. No buyer contact data, ever."""
    order = event.order
    with translation.override(settings.LANGUAGE_CODE):
        title = f"{order.number} · {event.verb}"
        body = _with_dispatch_promise(event.timeline_text(), event)
        if event.note:
            body += "\n> " + event.note.replace("\n", " ")
    masked = mask_personal_data(body, also=(order.buyer_email, order.buyer_phone))
    return mask_personal_data(title, also=(order.buyer_email, order.buyer_phone)), masked


def notification_recipients(*, order, actor_id=None, cs_owner: bool = False, role: str = "", user_ids=()) -> list:
    """Active people a notify action names for this order: its CS owner, everyone in a role,
    named users. The actor is not told of their own action."""
    User = get_user_model()
    who = Q(pk__in=list(user_ids))
    if cs_owner and order.cs_owner_id:
        who |= Q(pk=order.cs_owner_id)
    if role:
        # People, not the service users of API clients that hold the role for its permissions.
        who |= Q(pk__in=people_in_role(role).order_by().values("pk"))
    users = User.objects.filter(who, is_active=True).distinct().order_by("pk").prefetch_related("groups")
    if actor_id:
        users = users.exclude(pk=actor_id)
    # Nobody is told about an order they may not see (customer service of another brand),
    # whatever the rule names: not in-app, not by email.
    return user_list_seeing_order(users=users, order=order)


def notifications_create(*, message, users, extra: str = "") -> int:
    """One in-app notification per person for this outbox message (at most one, whatever
    happens: the unique constraint stands behind ignore_conflicts). `extra`: the rule's own
    words, after the event's line."""
    event = message.event
    text = notification_text(event)
    if extra:
        text = f"{text} · {extra}"
    now = timezone.now()
    rows = [
        Notification(
            recipient=user,
            recipient_role=role_of(user) or "",
            order_id=event.order_id,
            event=event,
            outbox_message=message,
            text=text,
            event_at=event.occurred_at,
            created_at=now,
        )
        for user in users
    ]
    # With the other notices of the outbox batch, in one INSERT when it runs as one.
    outbox_batch_bulk_create(Notification, rows, ignore_conflicts=True)
    return len(rows)
