"""The returns section of the order timeline page (orders.timeline.TIMELINE_SECTIONS): each of
the order's returns with what comes back (the lines and units, or the items as text for an
order without lines), its status and a link to the return's page. Two queries per page."""

from __future__ import annotations

from django.db.models import Prefetch

from orders.timeline import TimelineSection

from .models import ReturnLine, ReturnRequest


def _context(*, order, user) -> dict | None:
    if not user.has_perm("aftersales.view_returnrequest"):
        return None
    lines = ReturnLine.objects.select_related("order_line").order_by("order_line__position", "pk")
    returns = list(
        ReturnRequest.objects.filter(order=order)
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by("requested_at", "pk")
    )
    if not returns:
        return None
    return {"returns": returns}


TIMELINE_SECTIONS = [TimelineSection(template="aftersales/_timeline_returns.html", context=_context)]
