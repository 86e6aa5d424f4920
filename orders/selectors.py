"""Reads: timelines, available actions, shipments. Constant query counts, no N+1."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import Attachment, Order, OrderEvent, Shipment


def order_timeline(*, order_id: int) -> QuerySet[OrderEvent]:
    """The order's events, oldest first, with their attachments (two queries)."""
    return (
        OrderEvent.objects.filter(order_id=order_id)
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("occurred_at", "id")
    )


def order_shipments(*, order_id: int) -> QuerySet[Shipment]:
    return Shipment.objects.filter(order_id=order_id).select_related("event").order_by("sequence")


def order_list_for_admin() -> QuerySet[Order]:
    return Order.objects.select_related("cs_owner", "warehouse")
