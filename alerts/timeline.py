"""The logistics watch's section of the order timeline page (orders.timeline.TIMELINE_SECTIONS):
the order's ship-by deadline and where it came from, its first shipping and first carrier scan
(on time or late), the parcel's latest scan and carrier status. One query per page; nothing for
an order the watch does not follow (unpaid, a gift)."""

from __future__ import annotations

from orders.timeline import TimelineSection

from .models import OrderWatch, WatchPhase


def _context(*, order, user) -> dict | None:
    # The page itself is already limited to the orders `user` may see.
    row = OrderWatch.objects.filter(order_id=order.pk).first()
    if row is None:
        return None
    on_time = None
    if row.ship_by is not None and row.first_scan_at is not None:
        on_time = row.first_scan_at <= row.ship_by
    return {
        "watch": row,
        "on_time": on_time,
        "awaiting_shipment": row.phase == WatchPhase.AWAITING_SHIPMENT,
    }


TIMELINE_SECTIONS = [TimelineSection(template="alerts/_timeline_watch.html", context=_context)]
