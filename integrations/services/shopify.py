"""Shopify order deliveries: each applied once through the intake service and recorded in the
same transaction (InboundDelivery, source "shopify"). The webhook view checks the signature
and the headers and translates what this returns or raises into HTTP."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from orders.exceptions import OrderError
from orders.models import Shop
from orders.services.intake import IntakeResult, order_intake_in_transaction
from orders.states import Channel

from ..channels.shopify import shopify_order_parse
from ..models import InboundDelivery

logger = logging.getLogger(__name__)

SOURCE = "shopify"
# Shopify's financial_status values that mean money went back to the buyer (or never came).
SHOPIFY_REFUND_STATUSES = frozenset({"refunded", "partially_refunded", "voided"})
DELIVERY_ID_MAX = InboundDelivery._meta.get_field("delivery_id").max_length


@dataclass(frozen=True)
class ShopifyOrderReceipt:
    """What became of one delivery: the intake's result, or None for a delivery already
    applied (a replay changes nothing)."""

    result: IntakeResult | None

    @property
    def duplicate(self) -> bool:
        return self.result is None


def shopify_delivery_seen(*, delivery_id: str) -> bool:
    return InboundDelivery.objects.filter(source=SOURCE, delivery_id=delivery_id).exists()


def shopify_order_receive(*, body: bytes, topic: str, delivery_id: str, shop: Shop | None) -> ShopifyOrderReceipt:
    """Apply one order delivery (`body`, a whole order, under any of SHOPIFY_ORDER_TOPICS) as the
    system: create the order if the hub does not have it, then bring its payment and
    cancellation forward. A delivery id already recorded changes nothing; otherwise the change
    and the delivery's record are written in one transaction.

    Raises ShopifyPayloadError for a body that is not a valid order, and the intake's OrderError
    when the hub refuses the change: in both cases nothing is written and the delivery is not
    recorded, so Shopify's retry gets the same answer."""
    if shopify_delivery_seen(delivery_id=delivery_id):
        return ShopifyOrderReceipt(result=None)
    parsed = shopify_order_parse(body)
    note = f"Shopify {topic} · {parsed.name or parsed.external_id} · webhook {delivery_id}"
    for attempt in (1, 2):
        try:
            with transaction.atomic(durable=True):
                result = order_intake_in_transaction(
                    channel=Channel.SHOPIFY,
                    external_id=parsed.external_id,
                    fields=parsed.fields,
                    paid=parsed.paid,
                    cancelled=parsed.cancelled,
                    source_note=note,
                    cancel_reason=parsed.cancel_reason,
                    shop=shop,
                    lines=parsed.lines,
                    # The buyer paid what Shopify says: a total the lines do not explain is
                    # recorded for someone to look at, not a reason to refuse the order.
                    lines_must_add_up=False,
                    refund_requested=parsed.financial_status in SHOPIFY_REFUND_STATUSES,
                )
                InboundDelivery.objects.create(
                    source=SOURCE,
                    delivery_id=delivery_id,
                    topic=topic,
                    order=result.order,
                    outcome=f"{result.outcome}: {', '.join(result.actions) or '-'}"[:200],
                )
            break
        except OrderError as exc:
            logger.info("shopify: %s for order %s refused: %s", topic, parsed.external_id, exc.message)
            raise
        except IntegrityError:
            # Two deliveries at once: the same delivery (its id is taken), or two topics that
            # both created the same new order. Once more sees what the other one committed.
            if shopify_delivery_seen(delivery_id=delivery_id):
                return ShopifyOrderReceipt(result=None)
            if attempt == 2:
                raise
    logger.info("shopify: %s %s -> %s %s", topic, parsed.external_id, result.order.number, result.outcome)
    return ShopifyOrderReceipt(result=result)
