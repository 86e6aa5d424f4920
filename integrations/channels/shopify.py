"""Shopify orders: what a webhook's order payload says, as an order intake.

Plain parsing, no database: `shopify_order_parse(body)` returns a `ShopifyOrder` (the arguments
of `orders.services.intake.order_intake`) or raises `ShopifyPayloadError` naming the payload
field at fault (the webhook answers 400 with it).

Mapping (the payload fields are Shopify's, see shared/EXTERNAL_APIS.md):

    external_id      str(id)                      (integer, or a string of digits)
    amount           total_price                  (a decimal string, at most two decimals)
    currency         currency                     (three letters)
    buyer_email      email, else customer.email
    buyer_phone      phone, else customer.phone
    ordered_at       created_at                   (ISO 8601 with a UTC offset)
    recipient_name   shipping_address: last_name + first_name when the name is Chinese
                     (张 + 伟 = 张伟), else "first_name last_name"; shipping_address.name if both
                     are empty
    recipient_phone  shipping_address.phone
    ship_province    shipping_address.province
    ship_city        shipping_address.city
    ship_district    shipping_address.address2 (or blank)
    ship_address     shipping_address.address1
    ship_postcode    shipping_address.zip
    paid             financial_status == "paid"
    cancelled        cancelled_at is not null     (cancel_reason goes into the timeline note)
    buyer_remark     note
    shipping_fee     shipping_lines: the sum of discounted_price (else price)
    tax_amount       total_tax when taxes_included is false (else 0: the prices hold it)
    lines            line_items: id → platform_line_id, sku, title → name, quantity, price →
                     unit_price, the sum of discount_allocations[].amount (else total_discount)
                     → discount, grams → weight_grams; gift_card lines and lines whose price
                     after discounts is 0 are gift lines

The lines, shipping and tax should add up to total_price; when they do not, the order is still
taken (the buyer has paid what Shopify says) and the intake records the mismatch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from orders.services.intake import intake_fields_clean
from orders.services.lines import order_lines_clean

SHOPIFY_ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")

_DECIMAL_RE = re.compile(r"^\d+(\.\d+)?$")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Which payload field each intake field comes from, to name it in an error.
PAYLOAD_FIELD = {
    "amount": "total_price",
    "currency": "currency",
    "buyer_email": "email",
    "buyer_phone": "phone",
    "ordered_at": "created_at",
    "recipient_name": "shipping_address.last_name",
    "recipient_phone": "shipping_address.phone",
    "ship_province": "shipping_address.province",
    "ship_city": "shipping_address.city",
    "ship_district": "shipping_address.address2",
    "ship_address": "shipping_address.address1",
    "ship_postcode": "shipping_address.zip",
    "shipping_fee": "shipping_lines",
    "tax_amount": "total_tax",
    "buyer_remark": "note",
}
# Which line_items field each line field comes from.
LINE_PAYLOAD_FIELD = {
    "platform_line_id": "id",
    "sku": "sku",
    "name": "title",
    "quantity": "quantity",
    "unit_price": "price",
    "discount": "discount_allocations",
    "currency": "price",
    "weight_grams": "grams",
    "": "",
}


class ShopifyPayloadError(Exception):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class ShopifyOrder:
    external_id: str
    name: str  # "#1001", for people
    fields: dict
    paid: bool
    cancelled: bool
    cancel_reason: str
    financial_status: str
    lines: tuple[dict, ...] = ()


def shopify_json_object(body: bytes) -> dict:
    """A Shopify delivery's body as the JSON object every topic sends, or a clear refusal."""

    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ShopifyPayloadError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ShopifyPayloadError("the body must be a JSON object")
    return data


def shopify_order_parse(body: bytes) -> ShopifyOrder:
    return shopify_order_from_payload(shopify_json_object(body))


def shopify_order_from_payload(data: dict) -> ShopifyOrder:
    external_id = _order_id(data.get("id"))
    fields = {
        "amount": _decimal_string(data.get("total_price"), "total_price"),
        "currency": _currency(data.get("currency")),
        "buyer_email": _text(data, "email") or _text(_object(data, "customer"), "email", prefix="customer."),
        "buyer_phone": _text(data, "phone") or _text(_object(data, "customer"), "phone", prefix="customer."),
        "ordered_at": _time(data.get("created_at"), "created_at"),
        **_shipping(_object(data, "shipping_address")),
        "shipping_fee": _shipping_fee(data),
        "tax_amount": _tax_on_top(data),
        "buyer_remark": _text(data, "note"),
    }
    clean, errors = intake_fields_clean(fields)
    if errors:
        name, reason = next(iter(errors.items()))
        raise ShopifyPayloadError(f"{PAYLOAD_FIELD[name]}: {reason}", PAYLOAD_FIELD[name])
    lines = _line_items(data)
    _clean_lines, line_errors = order_lines_clean(lines, currency=clean["currency"])
    if line_errors:
        index, reasons = next(iter(line_errors.items()))
        name, reason = next(iter(reasons.items()))
        where = f"line_items[{index}].{LINE_PAYLOAD_FIELD[name]}".rstrip(".")
        raise ShopifyPayloadError(f"{where}: {reason}", where)
    financial_status = _text(data, "financial_status")
    return ShopifyOrder(
        external_id=external_id,
        name=_text(data, "name"),
        fields=clean,
        paid=financial_status == "paid",
        cancelled=data.get("cancelled_at") not in (None, ""),
        cancel_reason=_text(data, "cancel_reason"),
        financial_status=financial_status,
        lines=tuple(lines),
    )


def _list(data: dict, name: str) -> list:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ShopifyPayloadError(f"{name} must be a list of objects", name)
    return value


def _money_sum(items: list, name: str, where: str) -> Decimal:
    total = Decimal("0")
    for index, item in enumerate(items):
        total += Decimal(_decimal_string(item.get("amount"), f"{where}[{index}].{name}"))
    return total


def _line_items(data: dict) -> list[dict]:
    """The order's line_items as order lines (orders.services.lines.LINE_FIELDS)."""
    lines = []
    for index, item in enumerate(_list(data, "line_items")):
        where = f"line_items[{index}]"
        allocations = _list(item, "discount_allocations")
        if allocations:
            discount = _money_sum(allocations, "amount", f"{where}.discount_allocations")
        elif item.get("total_discount") not in (None, ""):
            discount = Decimal(_decimal_string(item.get("total_discount"), f"{where}.total_discount"))
        else:
            discount = Decimal("0")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise ShopifyPayloadError(f"{where}.quantity must be an integer", f"{where}.quantity")
        grams = item.get("grams")
        lines.append(
            {
                "platform_line_id": str(item.get("id") or ""),
                "sku": _text(item, "sku", prefix=f"{where}."),
                "name": _text(item, "title", prefix=f"{where}.") or _text(item, "name", prefix=f"{where}."),
                "quantity": quantity,
                "unit_price": _decimal_string(item.get("price"), f"{where}.price"),
                "discount": discount,
                "is_gift": item.get("gift_card") is True,
                "weight_grams": grams if isinstance(grams, int) and not isinstance(grams, bool) and grams > 0 else None,
            }
        )
    return lines


def _shipping_fee(data: dict) -> Decimal:
    total = Decimal("0")
    for index, line in enumerate(_list(data, "shipping_lines")):
        name = "discounted_price" if line.get("discounted_price") not in (None, "") else "price"
        total += Decimal(_decimal_string(line.get(name), f"shipping_lines[{index}].{name}"))
    return total


def _tax_on_top(data: dict) -> Decimal:
    if data.get("taxes_included") is True or data.get("total_tax") in (None, ""):
        return Decimal("0")
    return Decimal(_decimal_string(data.get("total_tax"), "total_tax"))


def _order_id(value) -> str:
    if value is None or value == "":
        raise ShopifyPayloadError("missing id", "id")
    if isinstance(value, bool) or not (
        (isinstance(value, int) and value > 0) or (isinstance(value, str) and value.isdigit())
    ):
        raise ShopifyPayloadError("id must be a positive integer", "id")
    return str(value)


def _decimal_string(value, name: str) -> str:
    if value is None or value == "":
        raise ShopifyPayloadError(f"missing {name}", name)
    if not isinstance(value, str) or not _DECIMAL_RE.match(value.strip()):
        raise ShopifyPayloadError(f'{name} must be a decimal string such as "199.00"', name)
    return value.strip()


def _currency(value) -> str:
    if value is None or value == "":
        raise ShopifyPayloadError("missing currency", "currency")
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise ShopifyPayloadError("currency must be a three-letter code", "currency")
    return value.strip().upper()


def _time(value, name: str) -> datetime:
    if value is None or value == "":
        raise ShopifyPayloadError(f"missing {name}", name)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ShopifyPayloadError(f"{name} is not an ISO 8601 time", name) from None
    if timezone.is_naive(parsed):
        raise ShopifyPayloadError(f"{name} needs a UTC offset", name)
    return parsed


def _object(data: dict, name: str) -> dict:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ShopifyPayloadError(f"{name} must be an object", name)
    return value


def _text(data: dict, name: str, *, prefix: str = "") -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ShopifyPayloadError(f"{prefix}{name} must be text", f"{prefix}{name}")
    return str(value).strip()


def _shipping(address: dict) -> dict:
    first = _text(address, "first_name", prefix="shipping_address.")
    last = _text(address, "last_name", prefix="shipping_address.")
    return {
        "recipient_name": shopify_recipient_name(first, last) or _text(address, "name", prefix="shipping_address."),
        "recipient_phone": _text(address, "phone", prefix="shipping_address."),
        "ship_province": _text(address, "province", prefix="shipping_address."),
        "ship_city": _text(address, "city", prefix="shipping_address."),
        "ship_district": _text(address, "address2", prefix="shipping_address."),
        "ship_address": _text(address, "address1", prefix="shipping_address."),
        "ship_postcode": _text(address, "zip", prefix="shipping_address."),
    }


def shopify_recipient_name(first: str, last: str) -> str:
    """张伟 for Chinese names (family name first, no space), "Ada Lovelace" otherwise."""
    first, last = (first or "").strip(), (last or "").strip()
    if _CJK_RE.search(first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()
