"""The notifications section of the order timeline page (orders.timeline.TIMELINE_SECTIONS):
whom the order's events told, delivered, read and acted on."""

from __future__ import annotations

from orders.timeline import TimelineSection

from .selectors import notifications_for_order_timeline


def _context(*, order, user) -> dict | None:
    notifications = list(notifications_for_order_timeline(order=order, user=user))
    # Someone who may not see all of the order's notifications and got none sees no section.
    if not notifications and not user.has_perm("notifications.view_notification"):
        return None
    return {"notifications": notifications, "user": user}


TIMELINE_SECTIONS = [TimelineSection(template="notifications/_timeline_section.html", context=_context)]
