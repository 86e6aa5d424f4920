"""The write-back section of the order timeline page (orders.timeline.TIMELINE_SECTIONS): for
each shipment, whether the sales channel has it — written back to Shopify (or being, or
failed, with the last error), or in which bulk-shipping upload file it went."""

from __future__ import annotations

from orders.models import Shipment
from orders.states import Channel
from orders.timeline import TimelineSection

from .channels.upload_templates import upload_template_for
from .models import ShopifyAdminAccount


def _context(*, order, user) -> dict | None:
    shipments = list(
        Shipment.objects.filter(order_id=order.pk)
        .select_related("channel_writeback")
        .prefetch_related("upload_lines__upload_file")
        .order_by("sequence")
    )
    if not shipments:
        return None
    api_account = (
        ShopifyAdminAccount.objects.filter(shop_id=order.shop_id, enabled=True).exists()
        if order.channel == Channel.SHOPIFY
        else False
    )
    rows = []
    for shipment in shipments:
        rows.append(
            {
                "shipment": shipment,
                "writeback": getattr(shipment, "channel_writeback", None),
                "upload_line": next(iter(shipment.upload_lines.all()), None),
            }
        )
    return {
        "rows": rows,
        "channel_label": Channel(order.channel).label if order.channel in Channel.values else order.channel,
        "by_api": order.channel == Channel.SHOPIFY,
        "api_account": api_account,
        "by_file": upload_template_for(order.channel) is not None,
    }


TIMELINE_SECTIONS = [TimelineSection(template="integrations/_timeline_writeback.html", context=_context)]
