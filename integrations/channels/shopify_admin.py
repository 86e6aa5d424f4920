"""Shopify's Admin GraphQL API, for writing a shipment back to the shop (发货回传): read an
order's fulfilment orders and fulfilments, create a fulfilment with our tracking number, and
change the tracking number of a fulfilment after a re-shipment.

Plain HTTP, no database: `ShopifyAdmin(ShopifyAdminCredentials(...))` returns dataclasses and
raises `ShopifyRetryLater` (throttled, HTTP 429 or 5xx, no answer, an answer that is not JSON;
`retry_after` in seconds when Shopify's cost extension says when the bucket holds enough again)
or `ShopifyGiveUp` (a bad token or scope, a missing order, `userErrors`: retrying cannot help).
Messages never contain the access token.

Wire format (shopify.dev, Admin GraphQL API, as of the 2025-01 … 2026-04 versions):

- `POST https://<shop domain>/admin/api/<version>/graphql.json`, JSON `{"query", "variables"}`,
  header `X-Shopify-Access-Token: <admin API access token>`. The shop domain is the shop's
  `external_shop_id` (`example.myshopify.com`); an account may name another base URL (a proxy,
  or the local fake in tests).
- Answer `{"data": …, "errors": [...], "extensions": {"cost": {"requestedQueryCost",
  "actualQueryCost", "throttleStatus": {"maximumAvailable", "currentlyAvailable",
  "restoreRate"}}}}`. Throttled: `errors[].extensions.code == "THROTTLED"` (HTTP 200, or 429),
  `data` null; the wait is `(requestedQueryCost - currentlyAvailable) / restoreRate` seconds.
- `order(id: "gid://shopify/Order/<id>") { fulfillmentOrders(first: N) { nodes { id status
  lineItems(first: M) { nodes { id remainingQuantity lineItem { id } } } } } fulfillments(first:
  N) { id status trackingInfo { company number url } } }`. A null `order` means the shop has no
  such order (or the token may not read it).
- `fulfillmentCreate(fulfillment: FulfillmentInput!)`: FulfillmentInput {lineItemsByFulfillmentOrder:
  [{fulfillmentOrderId, fulfillmentOrderLineItems?: [{id, quantity}]}] (no line items = all that
  remain of that fulfilment order),
  notifyCustomer, trackingInfo: FulfillmentTrackingInput {company, number, url}} →
  {fulfillment {id status trackingInfo}, userErrors {field message}}. (It replaced
  fulfillmentCreateV2 and its FulfillmentV2Input in 2024; the input's fields are the same.)
- `fulfillmentTrackingInfoUpdate(fulfillmentId: ID!, trackingInfoInput:
  FulfillmentTrackingInput!, notifyCustomer: Boolean)` → the same payload shape (it replaced
  fulfillmentTrackingInfoUpdateV2).

Assumed, not verified against a live shop: the status of a fulfilment order that can still be
fulfilled is OPEN or IN_PROGRESS (CLOSED, CANCELLED, INCOMPLETE, ON_HOLD, SCHEDULED cannot
take ours); a fulfilment with status CANCELLED or FAILURE does not count as one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import requests

# Fulfilment orders that can take a fulfilment now.
FULFILLABLE_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
# Fulfilments that are not (or no longer) a shipment.
DEAD_FULFILMENT_STATUSES = frozenset({"CANCELLED", "ERROR", "FAILURE"})
# What one page of the order query asks for: far more than any order of ours has.
PAGE = 20
LINES = 50
# When Shopify gives no cost extension with a throttle (or a 429): its documented restore rate
# of a standard plan is 100 points a second, so a second is enough for any of our queries.
DEFAULT_THROTTLE_WAIT_SECONDS = 1.0
# The longest wait a throttle may ask for; beyond it the cost figures are nonsense.
MAX_THROTTLE_WAIT_SECONDS = 60.0

ORDER_FULFILMENTS_QUERY = """
query OrderFulfilments($id: ID!) {
  order(id: $id) {
    id
    displayFulfillmentStatus
    fulfillmentOrders(first: PAGE) {
      nodes {
        id
        status
        lineItems(first: LINES) {
          nodes {
            id
            remainingQuantity
            lineItem {
              id
            }
          }
        }
      }
    }
    fulfillments(first: PAGE) {
      id
      status
      trackingInfo(first: 10) {
        company
        number
        url
      }
    }
  }
}
""".replace("PAGE", str(PAGE)).replace("LINES", str(LINES))

FULFILMENT_CREATE_MUTATION = """
mutation FulfilmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment {
      id
      status
      trackingInfo(first: 10) {
        company
        number
        url
      }
    }
    userErrors {
      field
      message
    }
  }
}
"""

TRACKING_UPDATE_MUTATION = """
mutation FulfilmentTrackingUpdate($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput, notifyCustomer: $notifyCustomer) {
    fulfillment {
      id
      status
      trackingInfo(first: 10) {
        company
        number
        url
      }
    }
    userErrors {
      field
      message
    }
  }
}
"""  # noqa: E501


class ShopifyAdminError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ShopifyRetryLater(ShopifyAdminError):
    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ShopifyGiveUp(ShopifyAdminError):
    pass


class ShopifyUserErrors(ShopifyGiveUp):
    """Shopify refused the mutation (`userErrors`), with its messages."""

    def __init__(self, messages: list[str]):
        super().__init__("Shopify: " + "; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class ShopifyAdminCredentials:
    shop_domain: str
    access_token: str = field(repr=False)
    api_version: str = "2025-01"
    # Blank: https://<shop_domain>. Otherwise the base URL the /admin/api/… path goes under.
    base_url: str = ""

    @property
    def endpoint(self) -> str:
        base = (self.base_url or f"https://{self.shop_domain}").rstrip("/")
        return f"{base}/admin/api/{self.api_version}/graphql.json"

    def __repr__(self) -> str:
        return f"ShopifyAdminCredentials(shop_domain={self.shop_domain!r}, access_token=<hidden>)"


@dataclass(frozen=True)
class TrackingInfo:
    company: str
    number: str
    url: str = ""


@dataclass(frozen=True)
class Fulfilment:
    id: str
    status: str
    tracking: tuple[TrackingInfo, ...] = ()

    @property
    def alive(self) -> bool:
        return self.status not in DEAD_FULFILMENT_STATUSES

    def has_number(self, number: str) -> bool:
        return any(t.number.strip().upper() == number.strip().upper() for t in self.tracking)


@dataclass(frozen=True)
class FulfilmentOrderLine:
    id: str  # gid://shopify/FulfillmentOrderLineItem/…
    line_item_id: str  # gid://shopify/LineItem/… (our OrderLine.platform_line_id)
    remaining: int


@dataclass(frozen=True)
class FulfilmentOrder:
    id: str
    status: str
    lines: tuple[FulfilmentOrderLine, ...] = ()

    @property
    def fulfillable(self) -> bool:
        return self.status in FULFILLABLE_STATUSES


@dataclass(frozen=True)
class OrderFulfilments:
    order_id: str
    fulfilment_orders: tuple[FulfilmentOrder, ...]
    fulfilments: tuple[Fulfilment, ...]

    def fulfilment_with_number(self, number: str) -> Fulfilment | None:
        return next((f for f in self.fulfilments if f.alive and f.has_number(number)), None)

    @property
    def fulfillable(self) -> tuple[FulfilmentOrder, ...]:
        return tuple(fo for fo in self.fulfilment_orders if fo.fulfillable)


def shopify_order_gid(external_id: str) -> str:
    """Shopify's global id of an order whose numeric id (the webhook's `id`) we keep."""
    value = (external_id or "").strip()
    if value.startswith("gid://shopify/Order/"):
        return value
    if not value.isdigit():
        raise ShopifyGiveUp(f"Shopify: “{value}” is not a Shopify order id")
    return f"gid://shopify/Order/{value}"


def throttle_wait_seconds(extensions: dict | None) -> float:
    """How long until the bucket holds what the throttled query asked for, from Shopify's
    cost extension: (requestedQueryCost - currentlyAvailable) / restoreRate, rounded up to a
    tenth of a second, at least a tenth."""
    cost = (extensions or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_THROTTLE_WAIT_SECONDS
    if rate <= 0:
        return DEFAULT_THROTTLE_WAIT_SECONDS
    wait = max(0.1, (requested - available) / rate)
    return min(MAX_THROTTLE_WAIT_SECONDS, math.ceil(wait * 10) / 10)


class ShopifyAdmin:
    name = "Shopify"

    def __init__(
        self, credentials: ShopifyAdminCredentials, *, session: requests.Session | None = None, timeout: float = 10.0
    ):
        self.credentials = credentials
        self.session = session or requests.Session()
        self.timeout = timeout

    # -- the three operations ---------------------------------------------------------------
    def order_fulfilments(self, order_gid: str) -> OrderFulfilments:
        data = self._graphql(ORDER_FULFILMENTS_QUERY, {"id": order_gid})
        order = data.get("order")
        if order is None:
            raise ShopifyGiveUp(f"Shopify: the shop has no order {order_gid} (or the token may not read it)")
        return OrderFulfilments(
            order_id=str(order.get("id") or order_gid),
            fulfilment_orders=tuple(
                FulfilmentOrder(
                    id=str(n["id"]),
                    status=str(n.get("status") or ""),
                    lines=tuple(
                        FulfilmentOrderLine(
                            id=str(li["id"]),
                            line_item_id=str((li.get("lineItem") or {}).get("id") or ""),
                            remaining=int(li.get("remainingQuantity") or 0),
                        )
                        for li in _nodes(n.get("lineItems"))
                    ),
                )
                for n in _nodes(order.get("fulfillmentOrders"))
            ),
            fulfilments=tuple(_fulfilment(f) for f in (order.get("fulfillments") or [])),
        )

    def fulfilment_create(
        self,
        *,
        fulfilment_order_ids: list[str] | None = None,
        fulfilment_order_lines: dict[str, list[tuple[str, int]]] | None = None,
        tracking: TrackingInfo,
        notify_customer: bool,
    ) -> Fulfilment:
        """A fulfilment of every remaining line of `fulfilment_order_ids`, or of the given
        units: {fulfilment order id: [(fulfilment order line id, quantity)]}."""
        by_order: list[dict] = [{"fulfillmentOrderId": fo_id} for fo_id in fulfilment_order_ids or ()]
        for fo_id, lines in (fulfilment_order_lines or {}).items():
            by_order.append(
                {
                    "fulfillmentOrderId": fo_id,
                    "fulfillmentOrderLineItems": [{"id": line_id, "quantity": qty} for line_id, qty in lines],
                }
            )
        fulfillment = {
            "lineItemsByFulfillmentOrder": by_order,
            "notifyCustomer": notify_customer,
            "trackingInfo": _tracking_input(tracking),
        }
        data = self._graphql(FULFILMENT_CREATE_MUTATION, {"fulfillment": fulfillment})
        return self._payload_fulfilment(data, "fulfillmentCreate")

    def fulfilment_tracking_update(
        self, *, fulfilment_id: str, tracking: TrackingInfo, notify_customer: bool
    ) -> Fulfilment:
        variables = {
            "fulfillmentId": fulfilment_id,
            "trackingInfoInput": _tracking_input(tracking),
            "notifyCustomer": notify_customer,
        }
        data = self._graphql(TRACKING_UPDATE_MUTATION, variables)
        return self._payload_fulfilment(data, "fulfillmentTrackingInfoUpdate")

    # -- plumbing ---------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        token = self.credentials.access_token
        return text.replace(token, "***") if token and len(token) >= 4 else text

    def _payload_fulfilment(self, data: dict, field_name: str) -> Fulfilment:
        payload = data.get(field_name)
        if not isinstance(payload, dict):
            raise ShopifyRetryLater(f"Shopify: {field_name} answered without its payload")
        errors = payload.get("userErrors") or []
        if errors:
            raise ShopifyUserErrors([self._scrub(str(e.get("message") or e)) for e in errors])
        fulfilment = payload.get("fulfillment")
        if not isinstance(fulfilment, dict) or not fulfilment.get("id"):
            raise ShopifyRetryLater(f"Shopify: {field_name} answered with no fulfilment and no error")
        return _fulfilment(fulfilment)

    def _graphql(self, document: str, variables: dict) -> dict:
        """POST one operation; return its `data`, or raise what the answer calls for."""
        try:
            response = self.session.post(
                self.credentials.endpoint,
                data=json.dumps({"query": document, "variables": variables}).encode("utf-8"),
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "X-Shopify-Access-Token": self.credentials.access_token,
                },
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise ShopifyRetryLater(f"Shopify: no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise ShopifyRetryLater(f"Shopify: connection failed ({type(exc).__name__})") from None
        body = _json_or_none(response)
        if response.status_code == 429:
            wait = throttle_wait_seconds(body.get("extensions") if body else None)
            raise ShopifyRetryLater("Shopify: throttled (HTTP 429)", retry_after=wait)
        if response.status_code >= 500:
            raise ShopifyRetryLater(f"Shopify: HTTP {response.status_code}")
        if response.status_code in (401, 403):
            raise ShopifyGiveUp(
                f"Shopify: HTTP {response.status_code}: the access token was refused "
                "(wrong token, or the app lacks the write_merchant_managed_fulfillment_orders scope)"
            )
        if response.status_code >= 400:
            detail = self._scrub(_errors_text(body)) if body else ""
            raise ShopifyGiveUp(f"Shopify: HTTP {response.status_code}{': ' + detail if detail else ''}")
        if body is None:
            raise ShopifyRetryLater("Shopify: the answer was not JSON")
        errors = body.get("errors")
        if errors:
            if isinstance(errors, list) and any(_code(e) == "THROTTLED" for e in errors):
                wait = throttle_wait_seconds(body.get("extensions"))
                raise ShopifyRetryLater(f"Shopify: throttled; the bucket refills in {wait:g} s", retry_after=wait)
            if isinstance(errors, list) and any(_code(e) == "INTERNAL_SERVER_ERROR" for e in errors):
                raise ShopifyRetryLater(f"Shopify: {self._scrub(_errors_text(body))}")
            raise ShopifyGiveUp(f"Shopify: {self._scrub(_errors_text(body))}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise ShopifyRetryLater("Shopify: the answer had no data")
        return data


def _tracking_input(tracking: TrackingInfo) -> dict:
    fields = {"company": tracking.company, "number": tracking.number}
    if tracking.url:
        fields["url"] = tracking.url
    return fields


def _nodes(connection) -> list[dict]:
    if not isinstance(connection, dict):
        return []
    return [n for n in (connection.get("nodes") or []) if isinstance(n, dict) and n.get("id")]


def _fulfilment(data: dict) -> Fulfilment:
    return Fulfilment(
        id=str(data["id"]),
        status=str(data.get("status") or ""),
        tracking=tuple(
            TrackingInfo(
                company=str(t.get("company") or ""), number=str(t.get("number") or ""), url=str(t.get("url") or "")
            )
            for t in (data.get("trackingInfo") or [])
            if isinstance(t, dict)
        ),
    )


def _json_or_none(response: requests.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _code(error) -> str:
    return str(((error or {}).get("extensions") or {}).get("code") or "") if isinstance(error, dict) else ""


def _errors_text(body: dict) -> str:
    errors = body.get("errors")
    if isinstance(errors, list):
        return "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors)[:500]
    return str(errors)[:500]
