"""Shipments written back to Shopify (发货回传): a shipped parcel must not show unshipped on the
shop.

- `writeback_enqueue_for_events(events)`: the event listener (IntegrationsConfig). In the
  shipment's own transaction, a `ship` or `reship` of a Shopify order whose shop has an enabled
  Admin API account gets one outbox message of kind `shopify_fulfilment_write`, once per event
  (key "event:<id>:kind:shopify_fulfilment_write"; a shipment is one event, so this is once per
  shipment). It is a calls-lane integration: retried, and alerted when it fails for good.
- `shopify_fulfilment_write(message)`: the reaction. A first shipment creates the fulfilment
  (fulfillmentCreate over the order's open fulfilment orders, with our carrier and tracking
  number); a re-shipment changes the tracking number of the fulfilment its predecessor created
  (fulfillmentTrackingInfoUpdate). Before creating it reads the order's fulfilments and adopts
  one that already carries our tracking number: an earlier attempt whose answer was lost, or
  someone who fulfilled it by hand with our number. Everything is recorded on the shipment's
  `ChannelWriteBack` row (the fulfilment id, attempts, last error, when acknowledged), and an
  acknowledged shipment goes on the order's timeline (`channel_written_back`).

Outcomes: Shopify throttled (THROTTLED, or HTTP 429) → retried when its cost extension says
the bucket has refilled; 5xx, timeouts, connection trouble → retried with the outbox's
back-off; a refused token, an order Shopify does not have, `userErrors`, nothing left to
fulfil → failed at once with Shopify's words (the outbox then alerts the tech lead and writes
`reaction_failed` on the timeline). "Already fulfilled" with our tracking number is success.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.events import order_event_create
from orders.models import Order, OrderEvent, OutboxMessage, OutboxStatus, Shipment
from orders.outbox.kinds import ReactionFailed, ReactionRetryLater
from orders.outbox.services import outbox_enqueue_for_event, outbox_enqueue_once
from orders.states import Carrier, Channel

from ..channels.shopify_admin import (
    ShopifyAdmin,
    ShopifyGiveUp,
    ShopifyRetryLater,
    ShopifyUserErrors,
    TrackingInfo,
    shopify_order_gid,
)
from ..events import CHANNEL_WRITTEN_BACK, SHIPMENT_ACTIONS, SHOPIFY_FULFILMENT_WRITE
from ..models import ChannelWriteBack, ShopifyAdminAccount, WriteBackStatus

logger = logging.getLogger(__name__)

# Shopify's names of our carriers, from its list of supported tracking companies (spelled as
# there: Shopify builds the tracking link for a name it knows). "Other" is not on the list:
# Shopify shows the number without a link.
SHOPIFY_TRACKING_COMPANIES: dict[str, str] = {
    Carrier.SF: "SF Express",
    Carrier.ZTO: "ZTO Express",
    Carrier.CAINIAO: "Cainiao",
    Carrier.OTHER: "Other",
}
# Our own tracking links, sent as `url` so the buyer's link works whatever Shopify knows.
TRACKING_URLS: dict[str, str] = {
    Carrier.SF: "https://www.sf-express.com/chn/sc/waybill/waybill-detail/{number}",
    Carrier.ZTO: "https://www.zto.com/?num={number}",
    Carrier.CAINIAO: "https://global.cainiao.com/newDetail.htm?mailNoList={number}",
}


def writeback_enqueue_for_events(events) -> None:
    """The event listener: a write-back message for each shipment of a Shopify shop that has
    an enabled Admin API account. One query per batch that holds a Shopify shipment, none
    otherwise."""
    shipping = [e for e in events if e.action in SHIPMENT_ACTIONS and e.order.channel == Channel.SHOPIFY]
    if not shipping:
        return
    shop_ids = {e.order.shop_id for e in shipping}
    enabled = set(
        ShopifyAdminAccount.objects.filter(shop_id__in=shop_ids, enabled=True).values_list("shop_id", flat=True)
    )
    for event in shipping:
        if event.order.shop_id in enabled:
            outbox_enqueue_once(event, key=f"kind:{SHOPIFY_FULFILMENT_WRITE}", kind=SHOPIFY_FULFILMENT_WRITE)


def shopify_tracking_info(shipment: Shipment) -> TrackingInfo:
    template = TRACKING_URLS.get(shipment.carrier)
    return TrackingInfo(
        company=SHOPIFY_TRACKING_COMPANIES.get(shipment.carrier, "Other"),
        number=shipment.tracking_number,
        url=template.format(number=shipment.tracking_number) if template else "",
    )


def _shipment_of(message) -> Shipment | None:
    return Shipment.objects.filter(event_id=message.event_id).select_related("order__shop").first()


def _writeback_row(shipment: Shipment) -> ChannelWriteBack:
    # The outbox holds the message's row lock while this runs: one writer per shipment.
    row, _created = ChannelWriteBack.objects.get_or_create(
        shipment=shipment, defaults={"order_id": shipment.order_id, "channel": shipment.order.channel}
    )
    return row


@dataclass(frozen=True)
class ShopifyTarget:
    """One Shopify order a parcel carries, and which of its units: None for every unit still to
    fulfil, else {Shopify line item id: units}."""

    order_gid: str
    units: dict[str, int] | None


def shopify_targets(order) -> list[ShopifyTarget]:
    """The Shopify orders (and units) the hub order's parcel carries. An order that is all its
    own lines and was never split is its Shopify order, every unit still to fulfil. Otherwise
    (拆单: a part split off, or the original after a split; 合单: the order kept in a merge)
    its lines say it: each line belongs to the order it was bought on (`OrderLine.origin_order`,
    else the order itself), and is fulfilled there by its line id on Shopify and its units."""
    lines = list(order.lines.select_related("origin_order").order_by("position"))
    foreign = [line for line in lines if line.origin_order_id not in (None, order.pk)]
    if not foreign and order.split_from_id is None and not order.split_parts.exists():
        return [ShopifyTarget(shopify_order_gid(order.external_id), None)]
    grouped: dict[int, tuple[Order, dict[str, int]]] = {}
    for line in lines:
        origin = line.origin_order if line in foreign else order
        if not line.platform_line_id:
            raise ShopifyGiveUp(
                _("Line %(position)s (%(item)s) has no line id on Shopify: its units cannot be fulfilled there.")
                % {"position": line.position, "item": line.sku or line.name}
            )
        units = grouped.setdefault(origin.pk, (origin, {}))[1]
        line_gid = f"gid://shopify/LineItem/{line.platform_line_id}"
        units[line_gid] = units.get(line_gid, 0) + line.quantity
    if not grouped:
        raise ShopifyGiveUp(_("The order has no lines to fulfil on Shopify."))
    return [ShopifyTarget(shopify_order_gid(origin.external_id), units) for origin, units in grouped.values()]


def _predecessor_fulfilments(shipment: Shipment) -> list[str]:
    """For a re-shipment: the Shopify fulfilments the order's latest earlier shipment created or
    adopted, or [] when none was acknowledged (the re-shipment then creates its own). Raises
    ReactionRetryLater while that earlier write-back is still under way: it must land first, or
    the two would race to fulfil the same order."""
    earlier = (
        Shipment.objects.filter(order_id=shipment.order_id, sequence__lt=shipment.sequence)
        .order_by("-sequence")
        .first()
    )
    if earlier is None:
        return []
    row = ChannelWriteBack.objects.filter(shipment=earlier).first()
    if row is not None and row.status == WriteBackStatus.ACKNOWLEDGED and row.fulfilments:
        return [entry["fulfilment"] for entry in row.fulfilments]
    in_flight = OutboxMessage.objects.filter(
        event_id=earlier.event_id, kind=SHOPIFY_FULFILMENT_WRITE, status=OutboxStatus.PENDING
    ).exists()
    if in_flight:
        waiting = _("Waiting for the write-back of the earlier shipment %(tracking)s.")
        raise ReactionRetryLater(waiting % {"tracking": earlier.tracking_number})
    # Not written back (failed, or never sent): its own predecessor's fulfilments are the ones.
    return _predecessor_fulfilments(earlier) if earlier.sequence > 1 else []


def _units_picked(state, target: ShopifyTarget) -> dict[str, list[tuple[str, int]]]:
    """{fulfilment order id: [(fulfilment order line id, units)]} for the target's units, from
    the fulfilment orders that can still take them; ReactionFailed if some are not there."""
    assert target.units is not None
    wanted = dict(target.units)
    picks: dict[str, list[tuple[str, int]]] = {}
    for fo in state.fulfillable:
        for line in fo.lines:
            take = min(wanted.get(line.line_item_id, 0), line.remaining)
            if take > 0:
                picks.setdefault(fo.id, []).append((line.id, take))
                wanted[line.line_item_id] -= take
    short = {line_gid: units for line_gid, units in wanted.items() if units > 0}
    if short:
        raise ReactionFailed(
            _("Shopify: order %(order)s has not these units left to fulfil: %(units)s.")
            % {"order": target.order_gid, "units": ", ".join(f"{k} × {v}" for k, v in short.items())}
        )
    return picks


def _adopt_or_create(admin: ShopifyAdmin, *, target: ShopifyTarget, tracking: TrackingInfo, notify: bool):
    """(fulfilment, operation): the Shopify order's fulfilment that carries our number, else a
    new one of the target's units from the fulfilment orders that can still take them."""
    state = admin.order_fulfilments(target.order_gid)
    existing = state.fulfilment_with_number(tracking.number)
    if existing is not None:
        return existing, ChannelWriteBack.Operation.ADOPTED
    open_orders = state.fulfillable
    if not open_orders:
        others = ", ".join(
            f"{f.id} ({', '.join(t.number for t in f.tracking) or _('no tracking number')})"
            for f in state.fulfilments
            if f.alive
        )
        raise ReactionFailed(
            _(
                "Shopify: order %(order)s has nothing left to fulfil and no fulfilment with our tracking "
                "number %(tracking)s (fulfilments there: %(others)s)."
            )
            % {"order": target.order_gid, "tracking": tracking.number, "others": others or _("none")}
        )
    try:
        if target.units is None:
            created = admin.fulfilment_create(
                fulfilment_order_ids=[fo.id for fo in open_orders], tracking=tracking, notify_customer=notify
            )
        else:
            created = admin.fulfilment_create(
                fulfilment_order_lines=_units_picked(state, target), tracking=tracking, notify_customer=notify
            )
    except ShopifyUserErrors as refused:
        # Fulfilled meanwhile (a person in the Shopify admin, or our own earlier call whose
        # answer was lost)? With our number that is success; otherwise Shopify's word stands.
        again = admin.order_fulfilments(target.order_gid).fulfilment_with_number(tracking.number)
        if again is not None:
            return again, ChannelWriteBack.Operation.ADOPTED
        raise ReactionFailed(refused.message) from None
    return created, ChannelWriteBack.Operation.CREATED


def shopify_fulfilment_write(message) -> str:
    """The reaction (integrations.reactions): write the message's shipment back to Shopify."""
    shipment = _shipment_of(message)
    if shipment is None:
        raise ReactionFailed(_("This event carries no shipment to write back."))
    order = shipment.order
    account = ShopifyAdminAccount.objects.filter(shop_id=order.shop_id).select_related("shop").first()
    if account is None or not account.enabled:
        raise ReactionFailed(
            _("Shop %(shop)s has no enabled Shopify Admin API account: nothing can be written back.")
            % {"shop": order.shop.name}
        )
    if not account.shop.external_shop_id:
        raise ReactionFailed(
            _("Shop %(shop)s has no Shopify shop domain (its “shop id on the channel”).") % {"shop": order.shop.name}
        )
    row = _writeback_row(shipment)
    if row.status == WriteBackStatus.ACKNOWLEDGED:
        return f"already written back: {row.channel_fulfilment_id}"
    tracking = shopify_tracking_info(shipment)
    admin = ShopifyAdmin(account.credentials(), timeout=settings.ORDERHUB_SHOPIFY_ADMIN_TIMEOUT)
    done: list[dict] = []
    try:
        previous = _predecessor_fulfilments(shipment) if shipment.sequence > 1 else []
        if previous:
            for fulfilment_id in previous:
                updated = admin.fulfilment_tracking_update(
                    fulfilment_id=fulfilment_id, tracking=tracking, notify_customer=account.notify_customer
                )
                done.append({"fulfilment": updated.id, "operation": ChannelWriteBack.Operation.TRACKING_UPDATED})
        else:
            # Each target is idempotent by itself (adopted by our number when there already), so
            # a retry after one of several went through does the rest.
            for target in shopify_targets(order):
                fulfilment, operation = _adopt_or_create(
                    admin, target=target, tracking=tracking, notify=account.notify_customer
                )
                done.append({"order": target.order_gid, "fulfilment": fulfilment.id, "operation": operation})
    except ShopifyRetryLater as exc:
        raise ReactionRetryLater(exc.message, retry_after=exc.retry_after) from None
    except ShopifyGiveUp as exc:
        raise ReactionFailed(exc.message) from None
    operation = done[0]["operation"]
    fulfilment_ids = [entry["fulfilment"] for entry in done]

    now = timezone.now()
    row.status = WriteBackStatus.ACKNOWLEDGED
    row.operation = operation
    row.channel_fulfilment_id = fulfilment_ids[0]
    row.fulfilments = done
    row.attempts = message.attempts
    row.last_error = ""
    row.acknowledged_at = now
    row.updated_at = now
    row.save()
    event = order_event_create(
        order=order,
        action=CHANNEL_WRITTEN_BACK,
        from_state=order.state,
        actor=None,
        occurred_at=now,
        note=_("Shopify: %(operation)s, %(company)s %(tracking)s")
        % {"operation": row.get_operation_display(), "company": tracking.company, "tracking": tracking.number},
        data={
            "channel": Channel.SHOPIFY,
            "shipment": shipment.pk,
            "tracking_number": shipment.tracking_number,
            "fulfilment_id": fulfilment_ids[0],
            "fulfilments": done,
            "operation": operation,
            "attempts": message.attempts,
        },
    )
    outbox_enqueue_for_event(event)
    return f"Shopify {operation}: {', '.join(fulfilment_ids)} ({tracking.company} {tracking.number})"


def _record_attempt(message, error: str, *, status: str) -> None:
    shipment = _shipment_of(message)
    if shipment is None:
        return
    row = _writeback_row(shipment)
    row.status = status
    row.attempts = message.attempts
    row.last_error = error[:2000]
    row.updated_at = timezone.now()
    row.save(update_fields=["status", "attempts", "last_error", "updated_at"])


def shopify_fulfilment_retrying(message, error: str) -> None:
    """The kind's on_retry hook: the attempt and its error, on the shipment's row."""
    _record_attempt(message, error, status=WriteBackStatus.PENDING)


def shopify_fulfilment_failed(message, error: str) -> None:
    """The kind's on_failure hook: the row says failed, with the last error."""
    _record_attempt(message, error, status=WriteBackStatus.FAILED)


class WriteBackRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


BACKFILL_DAYS = 7


def shopify_writeback_backfill(*, shop_id: int, days: int = BACKFILL_DAYS) -> int:
    """Write back the shop's shipments of the last `days` days that were recorded before it had
    an enabled Admin API account (a shop being connected): one outbox message each, with the
    same key the shipment's own would have had, so a shipment that has one already (done,
    pending or failed) gets no second. Returns how many were queued."""
    if not ShopifyAdminAccount.objects.filter(shop_id=shop_id, enabled=True).exists():
        raise WriteBackRefused(_("This shop has no enabled Shopify Admin API account."))
    since = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        events = list(
            OrderEvent.objects.filter(
                order__shop_id=shop_id,
                order__channel=Channel.SHOPIFY,
                action__in=SHIPMENT_ACTIONS,
                occurred_at__gte=since,
                shipment__isnull=False,
            )
            .exclude(outbox_messages__kind=SHOPIFY_FULFILMENT_WRITE)
            .select_related("order")
            .order_by("occurred_at", "pk")
        )
        for event in events:
            outbox_enqueue_once(event, key=f"kind:{SHOPIFY_FULFILMENT_WRITE}", kind=SHOPIFY_FULFILMENT_WRITE)
    return len(events)
