"""Bulk-shipping upload files (批量发货) for the channels the hub has no API for (Taobao/Tmall,
JD, Pinduoduo, Douyin Shop): the operator downloads one per shop and uploads it in the
platform's back office, which marks the orders shipped with our tracking numbers.

`shipment_upload_file_create(shop_id=…, scope=…, day=…, actor=…)` makes the file of a shop's
shipments that are in no file yet, "since the last file" (all of them) or those recorded on one
Shanghai day, keeps it (`ShipmentUploadFile`, downloadable again) and marks each shipment
exported (`ShipmentUploadLine`, unique on the shipment): a shipment goes in one file, never
two, and none is forgotten. A re-shipment is a new shipment, so its number goes in the next
file. The shop's row is locked while the file is made, so two operators clicking at once get
two files with different shipments (the second may be refused as having nothing new).

Refused, changing nothing (`UploadFileRefused`, a translated message): an unknown or inactive
shop, a shop of a channel with an API write-back (Shopify) or with no known template, a day
missing for "for a day", nothing new to export. Shipments of orders that have no order id on
the channel cannot be matched by the platform: they are left out, not marked, and named in the
result so someone fixes the order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Shipment, Shop
from orders.states import Channel

from ..channels.upload_templates import upload_file_render, upload_template_for
from ..models import ShipmentUploadFile, ShipmentUploadLine, UploadScope

SHANGHAI = ZoneInfo("Asia/Shanghai")


class UploadFileRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class UploadFileResult:
    upload_file: ShipmentUploadFile
    # Hub order numbers whose shipments were left out: no order id on the channel.
    skipped: list[str] = field(default_factory=list)


def upload_shops():
    """The shops an upload file can be made for: active, on a channel with a template."""
    from ..channels.upload_templates import UPLOAD_TEMPLATES

    return Shop.objects.filter(is_active=True, channel__in=list(UPLOAD_TEMPLATES)).select_related("brand")


def channel_order_ids(order) -> list[str]:
    """The platform orders a hub order's parcel carries, by their ids on the channel: the
    order's own, and for 拆单/合单 those its lines were bought on (`OrderLine.origin_order`: a
    part split off carries the original's, the order kept in a merge each merged order's). Empty
    when none has an id on the channel. Reads the order's lines (prefetch them with their
    origin orders for many)."""
    ids: list[str] = []
    lines = list(order.lines.all())
    origins = [line.origin_order if line.origin_order_id not in (None, order.pk) else order for line in lines]
    for origin in origins or [order]:
        channel_id = origin.external_id.strip()
        if channel_id and channel_id not in ids:
            ids.append(channel_id)
    return ids


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)
    return start, start + dt.timedelta(days=1)


def shipment_upload_file_create(*, shop_id: int, scope: str, day: dt.date | None = None, actor) -> UploadFileResult:
    if scope not in UploadScope.values:
        raise UploadFileRefused(_("Unknown scope “%(scope)s”.") % {"scope": scope})
    if scope == UploadScope.DAY and day is None:
        raise UploadFileRefused(_("Choose the day the file is for."))
    with transaction.atomic(durable=True):
        shop = Shop.objects.select_for_update().filter(pk=shop_id).first()
        if shop is None or not shop.is_active:
            raise UploadFileRefused(_("There is no active shop %(id)s.") % {"id": shop_id})
        template = upload_template_for(shop.channel)
        if template is None:
            if shop.channel == Channel.SHOPIFY:
                raise UploadFileRefused(
                    _(
                        "%(shop)s is a Shopify shop: its shipments are written back through Shopify's API, "
                        "not by an upload file."
                    )
                    % {"shop": shop}
                )
            raise UploadFileRefused(
                _("The hub has no bulk-shipping template for %(channel)s (shop %(shop)s).")
                % {"channel": Channel(shop.channel).label, "shop": shop}
            )
        shipments = (
            Shipment.objects.filter(order__shop_id=shop.pk, upload_lines__isnull=True)
            .select_related("order")
            .prefetch_related("order__lines__origin_order")
            .order_by("created_at", "pk")
        )
        if scope == UploadScope.DAY:
            assert day is not None
            start, end = _day_bounds(day)
            shipments = shipments.filter(created_at__gte=start, created_at__lt=end)
        chosen: list[tuple[Shipment, str]] = []
        skipped: list[str] = []
        for shipment in shipments:
            ids = channel_order_ids(shipment.order)
            if ids:
                chosen.extend((shipment, channel_id) for channel_id in ids)
            else:
                skipped.append(shipment.order.number)
        if not chosen:
            if skipped:
                raise UploadFileRefused(
                    _("Nothing to export for %(shop)s: the orders %(numbers)s have no order id on the channel.")
                    % {"shop": shop, "numbers": ", ".join(skipped)}
                )
            if scope == UploadScope.DAY:
                raise UploadFileRefused(
                    _("Nothing new to export for %(shop)s on %(day)s: every shipment of that day is in a file already.")
                    % {"shop": shop, "day": day}
                )
            raise UploadFileRefused(
                _("Nothing new to export for %(shop)s: every shipment is in a file already.") % {"shop": shop}
            )
        rows = [(channel_id, template.carrier_name(s.carrier), s.tracking_number) for s, channel_id in chosen]
        content = upload_file_render(template, rows)
        now = timezone.now()
        stamp = timezone.localtime(now, SHANGHAI).strftime("%Y%m%d-%H%M%S")
        label = day.strftime("%Y%m%d") if scope == UploadScope.DAY and day else _("since-last")
        file_name = f"{shop.code}-{shop.channel}-批量发货-{label}-{stamp}.{template.file_format}"
        upload_file = ShipmentUploadFile(
            shop=shop,
            channel=shop.channel,
            scope=scope,
            day=day if scope == UploadScope.DAY else None,
            file_name=file_name,
            content_type=template.content_type,
            line_count=len({s.pk for s, _channel_id in chosen}),
            created_by=actor,
            created_at=now,
        )
        upload_file.file.save(file_name, ContentFile(content), save=False)
        # The file is written before the rows: if they are refused, it must not stay behind.
        try:
            upload_file.save()
            ShipmentUploadLine.objects.bulk_create(
                ShipmentUploadLine(
                    upload_file=upload_file,
                    shipment=shipment,
                    order_id=shipment.order_id,
                    channel_order_id=row[0],
                    carrier_name=row[1],
                    tracking_number=row[2],
                )
                for (shipment, _channel_id), row in zip(chosen, rows, strict=True)
            )
        except Exception:
            upload_file.file.delete(save=False)
            raise
    return UploadFileResult(upload_file=upload_file, skipped=skipped)
