"""Shopify order webhooks as Shopify sends them: a JSON order, signed over the raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json

_delivery_ids = itertools.count(1)


def shopify_signature(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(key=app secret, msg=raw body)): the X-Shopify-Hmac-Sha256 header."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def shopify_order(**overrides) -> dict:
    """An order payload with the fields OrderHub reads (and a few it ignores), Chinese address."""
    order = {
        "id": 820982911946154508,
        "name": "#1001",
        "email": "buyer@example.com",
        "phone": "+8613800138000",
        "created_at": "2026-01-28T14:05:00+08:00",
        "updated_at": "2026-01-28T14:05:00+08:00",
        "currency": "CNY",
        "total_price": "199.00",
        "financial_status": "pending",
        "fulfillment_status": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "note": None,
        "taxes_included": True,
        "total_tax": "0.00",
        "line_items": [
            {
                "id": 1,
                "title": "保温杯",
                "sku": "CUP-01",
                "quantity": 1,
                "price": "199.00",
                "total_discount": "0.00",
                "discount_allocations": [],
                "grams": 350,
                "gift_card": False,
            }
        ],
        "shipping_lines": [],
        "shipping_address": {
            "first_name": "伟",
            "last_name": "张",
            "address1": "张江路 88 弄 6 号",
            "address2": "浦东新区",
            "city": "上海市",
            "province": "上海市",
            "country": "China",
            "zip": "201203",
            "phone": "13900139000",
        },
        "customer": {"id": 115310627314723954, "email": "buyer@example.com", "orders_count": 1},
    }
    order.update(overrides)
    return order


def shopify_body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def shopify_headers(
    body: bytes, secret: str, *, topic: str = "orders/create", webhook_id: str | None = None, signature=None
) -> dict:
    """Django test-client headers (HTTP_…) for one delivery; a fresh webhook id unless given."""
    return {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_HMAC_SHA256": shopify_signature(body, secret) if signature is None else signature,
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": "orderhub-test.myshopify.com",
        "HTTP_X_SHOPIFY_API_VERSION": "2026-01",
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or f"b54557e4-bdd9-4b37-8a5f-{next(_delivery_ids):012d}",
        "HTTP_X_SHOPIFY_TRIGGERED_AT": "2026-01-28T06:05:01.123456Z",
    }
