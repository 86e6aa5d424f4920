"""Shopify order webhooks: `POST /webhooks/shopify/orders`.

Shopify signs the raw body: `X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(app secret, body))`,
checked before anything is parsed. `X-Shopify-Shop-Domain` picks the shop (Shop.external_shop_id
on the Shopify channel): a shop with a webhook secret of its own is checked against that secret
only; otherwise the secrets of `webhook_secrets("shopify")` apply (the SHOPIFY_WEBHOOK_SECRET
setting and the enabled Shopify webhook sources in the admin), and an unknown domain's orders go
to the channel's default shop. No secret at all refuses everything (401).

Topics (`X-Shopify-Topic`): orders/create, orders/updated, orders/paid and orders/cancelled
all carry the whole order, so each is applied the same way by the intake service: create the
order if the hub does not have it, then bring its payment and cancellation forward as the
system. Deliveries that arrive out of order or twice therefore converge. `returns/request`
opens a return (after-sales' `aftersales/channels/shopify_returns.py`, through SHOPIFY_TOPICS).
Other topics answer 200 {"ignored": topic}.

`X-Shopify-Webhook-Id` is the same on every retry of one delivery: a delivery is applied once
and recorded (InboundDelivery, source "shopify") in the same transaction as the order change,
by shopify_order_receive (integrations/services/shopify.py); this view only checks the
signature and the headers and translates. A replay answers 200 {"duplicate": true} and changes
nothing.

Answers: 200 {"order", "outcome": created|updated|unchanged, "actions"}; 400 {"error", "field"}
for a body that is not JSON or an order field that is missing or invalid (nothing written);
401 for a bad signature; 409 {"error"} when the hub refuses the change (cancelled after it
shipped, paid after the hub cancelled it): nothing is written, the delivery is not recorded,
so Shopify's retry gets the same answer until someone has sorted the order out.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.http import JsonResponse

from orders.exceptions import OrderError
from orders.models import Shop
from orders.plugins import hub_extensions
from orders.services.shops import shop_default_for_channel
from orders.states import Channel

from ..models import WebhookSource
from ..services.shopify import DELIVERY_ID_MAX, SOURCE, shopify_order_receive
from ..signing import signature_matches_base64, signed_webhook, webhook_secrets_stored, webhook_secrets_with
from .shopify import SHOPIFY_ORDER_TOPICS, ShopifyPayloadError

logger = logging.getLogger(__name__)

# The extension point for the topics other apps take (after-sales: `returns/request`): an app
# declares `extensions = {SHOPIFY_TOPICS: "<dotted path of {topic: handler}>"}` on its
# HubAppConfig; `handler(request, body=, topic=, shop=)` answers the delivery, already signed
# and checked here. Integrations thus names no app that builds on it.
SHOPIFY_TOPICS = "integrations.shopify_topics"


def shopify_topic_handler(topic: str):
    for declared in hub_extensions(SHOPIFY_TOPICS):
        if topic in declared:
            return declared[topic]
    return None


def _error(message: str, status: int, field: str = "") -> JsonResponse:
    body = {"error": message}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


# Who sent a delivery is operations' configuration (the shops, the webhook sources), read on
# every delivery: each process keeps what it read for ORDERHUB_RULES_CACHE_SECONDS, like the
# rules (a save or delete in this process clears it at once; other processes see it within the
# TTL). The SHOPIFY_WEBHOOK_SECRET setting is read on every delivery.
_senders: dict[str, tuple[float, Shop | None, list[str], Shop | None]] = {}


def shopify_senders_cache_clear(**_kwargs) -> None:
    _senders.clear()


for _model in (Shop, WebhookSource):
    post_save.connect(shopify_senders_cache_clear, sender=_model, dispatch_uid=f"shopify-senders-{_model.__name__}")
    post_delete.connect(shopify_senders_cache_clear, sender=_model, dispatch_uid=f"shopify-senders-{_model.__name__}")


def _shop_and_secrets(domain: str) -> tuple[Shop | None, list[str], Shop | None]:
    """The shop that sent the webhook, the secrets its signature may use, and the shop its
    orders go to.

    `X-Shopify-Shop-Domain` names the store ("brand-a.myshopify.com"): an active Shopify shop
    with that shop id on the channel is the order's shop, and a secret of its own is the only
    one accepted for it (one brand's secret never signs for another). A shop without its own
    secret, or a domain no shop has (or none given), is checked against the channel's secrets
    (SHOPIFY_WEBHOOK_SECRET and the enabled Shopify webhook sources); the unknown domain's
    orders go to the channel's default shop."""
    domain = (domain or "").strip().lower()
    ttl = settings.ORDERHUB_RULES_CACHE_SECONDS
    now = time.monotonic()
    cached = _senders.get(domain)
    if cached is not None and now - cached[0] < ttl:
        _at, shop, stored, default = cached
    else:
        shop = None
        if domain:
            shop = (
                Shop.objects.filter(channel=Channel.SHOPIFY, external_shop_id__iexact=domain, is_active=True)
                .select_related("brand")
                .first()
            )
        stored = [] if shop is not None and shop.webhook_secret else webhook_secrets_stored(SOURCE)
        default = shop_default_for_channel(Channel.SHOPIFY) if shop is None else None
        if ttl > 0:
            _senders[domain] = (now, shop, stored, default)
        if shop is None and domain:  # said once per look-up, not on every delivery
            logger.info("shopify: no shop has the domain %s: the channel's default shop takes its orders", domain)
    if shop is not None and shop.webhook_secret:
        return shop, [shop.webhook_secret], shop
    return shop, webhook_secrets_with(SOURCE, stored), shop or default


@signed_webhook
def shopify_orders_webhook(request, **kwargs):
    body = request.body
    shop, secrets, orders_shop = _shop_and_secrets(request.headers.get("X-Shopify-Shop-Domain", ""))
    if not secrets:
        logger.warning("shopify: a webhook arrived but no Shopify webhook secret is configured")
        return _error("bad signature", 401)
    if not signature_matches_base64(body, request.headers.get("X-Shopify-Hmac-Sha256", ""), secrets):
        return _error("bad signature", 401)

    topic = request.headers.get("X-Shopify-Topic", "").strip()
    handler = shopify_topic_handler(topic)
    if handler is not None:
        # A shop that signed with its own secret acts on its own orders only.
        own = shop if shop is not None and shop.webhook_secret else None
        return handler(request, body=body, topic=topic, shop=own)
    if topic not in SHOPIFY_ORDER_TOPICS:
        return JsonResponse({"ignored": topic})
    delivery_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    if not delivery_id or len(delivery_id) > DELIVERY_ID_MAX:
        return _error("missing or malformed X-Shopify-Webhook-Id", 400, "X-Shopify-Webhook-Id")
    try:
        receipt = shopify_order_receive(body=body, topic=topic, delivery_id=delivery_id, shop=orders_shop)
    except ShopifyPayloadError as exc:
        return _error(exc.message, 400, exc.field)
    except OrderError as exc:
        return _error(exc.message, 409)
    if receipt.result is None:
        return JsonResponse({"duplicate": True})
    result = receipt.result
    return JsonResponse(
        {"order": result.order.number, "outcome": result.outcome, "actions": list(result.actions)},
        json_dumps_params={"ensure_ascii": False},
    )
