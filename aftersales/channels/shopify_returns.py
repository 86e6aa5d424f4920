"""Shopify return requests: the `returns/request` topic, delivered to the Shopify webhook endpoint
(`POST /webhooks/shopify/orders`, signed and checked there like every other topic).

Payload (a Return; EXTERNAL_APIS.md does not cover it, so this follows Shopify's Return webhook
as public apps receive it, read defensively):

    {"id": 246, "admin_graphql_api_id": "gid://shopify/Return/246", "name": "#1001-R1",
     "status": "requested",
     "order": {"id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/…"},
     "return_line_items": [{"id": 1, "quantity": 1, "return_reason": "defective",
        "return_reason_note": "…", "customer_note": "…",
        "fulfillment_line_item": {"line_item": {"id": 2, "sku": "CUP-01", "title": "保温杯"}}}]}

- The return id (`id`, else the number at the end of `admin_graphql_api_id`) is the case's
  channel reference: the same Shopify return for the same order is one case however often and
  under whichever delivery id it arrives.
- The order is found by its Shopify id (`order.id`, else `order.admin_graphql_api_id`, else a
  top-level `order_id`) among the hub's Shopify orders.
- Reason: each line's `return_reason` with its notes; items: SKU and title from the line item,
  the quantity from the return line, and the line item's id, which the return service matches
  to the order's line of that Shopify id (else by SKU): an item on none of the order's lines
  is refused like any return the hub cannot open. An order without lines keeps the items as
  text, as before lines existed.

Shopify's webhook endpoint (integrations) hands this topic to after-sales through the extension
point `integrations.shopify_topics` (SHOPIFY_TOPICS below), so integrations names no after-sales
module. The return is opened by `aftersales.services.returns` as the system (source "channel"), in one
transaction with the delivery record (InboundDelivery, source "shopify"). A replayed delivery
answers 200 {"duplicate": true}. A return the hub cannot open (order not in the hub, not
delivered, a return already open) is recorded as a refused delivery with the reason, written on
the order's timeline when the order is known (customer service sees the buyer's request), and
answered 200 {"refused": reason}: the refusal is final, and a non-2xx answer would only make
Shopify retry it for two days and then drop the subscription. A malformed payload answers 400
naming the field, like the order topics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone

from integrations.channels.shopify import ShopifyPayloadError, shopify_json_object
from integrations.models import InboundDelivery
from orders.events import order_event_create
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent
from orders.outbox.services import outbox_enqueue_for_event
from orders.states import Channel

from ..events import RETURN_REQUEST_REFUSED
from ..models import ReturnRequest, ReturnSource
from ..services.returns import return_request_create_in_transaction

logger = logging.getLogger(__name__)

SOURCE = "shopify"
SHOPIFY_RETURN_TOPICS = ("returns/request",)
_DELIVERY_ID_MAX = InboundDelivery._meta.get_field("delivery_id").max_length
_OUTCOME_MAX = InboundDelivery._meta.get_field("outcome").max_length
_REASON_MAX = 4000


@dataclass(frozen=True)
class ShopifyReturn:
    return_id: str
    name: str
    order_external_id: str
    reason: str
    items: list[dict]


def _digits(value) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit():
            return value
        # gid://shopify/Return/246
        tail = value.rsplit("/", 1)[-1]
        if value.startswith("gid://shopify/") and tail.isdigit():
            return tail
    return ""


def _text(data: dict, name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def shopify_return_parse(body: bytes) -> ShopifyReturn:
    data = shopify_json_object(body)
    return_id = _digits(data.get("id")) or _digits(data.get("admin_graphql_api_id"))
    if not return_id:
        raise ShopifyPayloadError("missing or malformed return id", "id")
    order = data.get("order") if isinstance(data.get("order"), dict) else {}
    order_id = _digits(order.get("id")) or _digits(order.get("admin_graphql_api_id")) or _digits(data.get("order_id"))
    if not order_id:
        raise ShopifyPayloadError("missing or malformed order id", "order.id")
    lines = data.get("return_line_items")
    if lines is None:
        lines = []
    if not isinstance(lines, list):
        raise ShopifyPayloadError("return_line_items must be a list", "return_line_items")

    items, reasons = [], []
    for index, line in enumerate(lines):
        field = f"return_line_items[{index}]"
        if not isinstance(line, dict):
            raise ShopifyPayloadError(f"{field} must be an object", field)
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ShopifyPayloadError(f"{field}.quantity must be a positive integer", f"{field}.quantity")
        fulfillment = line.get("fulfillment_line_item") if isinstance(line.get("fulfillment_line_item"), dict) else {}
        item = fulfillment.get("line_item") if isinstance(fulfillment.get("line_item"), dict) else {}
        if not item and isinstance(line.get("line_item"), dict):
            item = line["line_item"]
        sku = _text(item, "sku")[:64]
        name = (_text(item, "title") or _text(item, "name"))[:200]
        if not (sku or name):
            name = f"Shopify line item {_digits(item.get('id')) or _digits(line.get('id')) or index + 1}"
        items.append({"sku": sku, "name": name, "quantity": quantity, "platform_line_id": _digits(item.get("id"))})
        words = [_text(line, "return_reason") or "unknown"]
        words += [note for note in (_text(line, "return_reason_note"), _text(line, "customer_note")) if note]
        reasons.append(f"{name or sku} ×{quantity}: {' — '.join(words)}")
    name = _text(data, "name") or return_id
    reason = f"Shopify return {name}"
    if reasons:
        reason += ": " + "; ".join(reasons)
    elif note := _text(data, "customer_note"):
        reason += f": {note}"
    return ShopifyReturn(
        return_id=return_id, name=name, order_external_id=order_id, reason=reason[:_REASON_MAX], items=items
    )


def _seen(delivery_id: str) -> bool:
    return InboundDelivery.objects.filter(source=SOURCE, delivery_id=delivery_id).exists()


def _json(body: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def shopify_return_delivery(request, *, body: bytes, topic: str, shop=None) -> JsonResponse:
    """One signed `returns/request` delivery (the signature was checked by the caller). `shop`:
    a shop that signed with a secret of its own; its returns reach only its own orders."""
    delivery_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    if not delivery_id or len(delivery_id) > _DELIVERY_ID_MAX:
        return _json({"error": "missing or malformed X-Shopify-Webhook-Id", "field": "X-Shopify-Webhook-Id"}, 400)
    if _seen(delivery_id):
        return _json({"duplicate": True})
    try:
        parsed = shopify_return_parse(body)
    except ShopifyPayloadError as exc:
        return _json({"error": exc.message, **({"field": exc.field} if exc.field else {})}, 400)

    orders = Order.objects.filter(channel=Channel.SHOPIFY, external_id=parsed.order_external_id)
    if shop is not None:
        orders = orders.filter(shop=shop)
    order = orders.first()
    if order is None:
        return _refuse(
            delivery_id, topic, parsed, None, f"order {parsed.order_external_id} is not in the hub (Shopify id)"
        )
    try:
        with transaction.atomic(durable=True):
            case, created = return_request_create_in_transaction(
                order_id=order.pk,
                actor=None,
                reason=parsed.reason,
                items=parsed.items,
                source=ReturnSource.CHANNEL,
                channel_reference=parsed.return_id,
            )
            outcome = "opened" if created else "already recorded"
            InboundDelivery.objects.create(
                source=SOURCE,
                delivery_id=delivery_id,
                topic=topic,
                order=order,
                outcome=f"return {parsed.return_id}: {outcome} as #{case.pk} ({case.status})"[:_OUTCOME_MAX],
            )
    except OrderError as exc:
        return _refuse(delivery_id, topic, parsed, order, exc.message)
    except IntegrityError:
        # The same delivery at the same moment (its id is taken), or the same return under two
        # deliveries (the database's one-case-per-return): what the other one committed stands.
        if _seen(delivery_id):
            return _json({"duplicate": True})

        case = ReturnRequest.objects.filter(order=order, channel_reference=parsed.return_id).first()
        if case is None:
            raise
        created = False
    logger.info("shopify: %s return %s -> %s #%s", topic, parsed.return_id, order.number, case.pk)
    return _json(
        {
            "order": order.number,
            "return": case.pk,
            "outcome": "created" if created else "existing",
            "status": case.status,
        }
    )


def _refuse(delivery_id: str, topic: str, parsed: ShopifyReturn, order: Order | None, reason: str) -> JsonResponse:
    """Record the refused delivery (and the buyer's request on the order's timeline, once per
    Shopify return); answer 200 so Shopify does not retry a final decision."""

    logger.info("shopify: %s return %s refused: %s", topic, parsed.return_id, reason)
    try:
        with transaction.atomic(durable=True):
            InboundDelivery.objects.create(
                source=SOURCE,
                delivery_id=delivery_id,
                topic=topic,
                order=order,
                outcome=f"refused: {reason}"[:_OUTCOME_MAX],
            )
            if (
                order is not None
                and not OrderEvent.objects.filter(
                    order=order, action=RETURN_REQUEST_REFUSED, data__shopify_return=parsed.return_id
                ).exists()
            ):
                locked = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
                event = order_event_create(
                    order=locked,
                    action=RETURN_REQUEST_REFUSED,
                    from_state=locked.state,
                    actor=None,
                    occurred_at=timezone.now(),
                    note=f"{parsed.reason}\n{reason}",
                    data={"shopify_return": parsed.return_id, "delivery": delivery_id},
                )
                outbox_enqueue_for_event(event)
    except IntegrityError:
        if _seen(delivery_id):
            return _json({"duplicate": True})
        raise
    return _json({"refused": reason, "order": order.number if order else None})


# Declared on AftersalesConfig: the Shopify webhook endpoint's handler of each return topic.
SHOPIFY_TOPICS = dict.fromkeys(SHOPIFY_RETURN_TOPICS, shopify_return_delivery)
