"""Warehouse-system events: `POST /webhooks/wms/events`.

The WMS signs the raw JSON body: `X-OrderHub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`
and sends `X-OrderHub-Timestamp` (Unix seconds; older than 5 minutes is refused). Body:

    {"event_id": "...", "order_number": "OH20260128-00001" | "external_order_id": "...",
     "channel": "shopify" (with external_order_id, optional), "event": "allocated" | "packing" |
     "labelled" | "awaiting_pickup" | "picked_up" | "out_of_stock" | "intercepted" |
     "intercept_failed", "warehouse": "<warehouse code>",
     "occurred_at": "2026-01-28T14:05:00+08:00", "operator": "王强",
     "carrier": "sf" | "zto" | "cainiao", "tracking_number": "..."  (for awaiting_pickup),
     "skus": ["TEA-01", ...]  (for out_of_stock, optional)}

Each event moves the order through the transition service as the warehouse system (a service
user `wms` in the warehouse role): allocated → allocate; packing → nothing to do when the
order is allocated (it is being packed); labelled → pack (packed, waiting for its label);
awaiting_pickup → ship with the carrier and tracking number; picked_up → pick_up;
out_of_stock → the warehouse's "out of stock" exception on the order (异常订单; nothing moves, and
an order waiting with it is not approved automatically); intercepted → confirm_intercept and
intercept_failed → fail_intercept, the answers to the hub's interception request (截单,
integrations.interception). An event_id
is applied once (a replay answers 200). An event that cannot apply (out of order, illegal) is
refused with 409 and a clear error, written on the order's timeline, and changes nothing else.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone

from orders.events import WMS_EVENT_REJECTED, order_event_create
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent, OrderException, Warehouse
from orders.services.locking import order_lock
from orders.services.order_exceptions import order_exception_raise
from orders.services.transition import order_transition_in_transaction
from orders.states import ExceptionReason, Role, State

from .models import InboundDelivery
from .signing import signature_matches_hex, signed_webhook, webhook_secrets

logger = logging.getLogger(__name__)

WMS_EVENTS = (
    "allocated",
    "packing",
    "labelled",
    "awaiting_pickup",
    "picked_up",
    "out_of_stock",
    "intercepted",
    "intercept_failed",
)
_ACTIONS = {
    "allocated": "allocate",
    "labelled": "pack",
    "awaiting_pickup": "ship",
    "picked_up": "pick_up",
    # The answer to the hub's interception request (integrations.interception).
    "intercepted": "confirm_intercept",
    "intercept_failed": "fail_intercept",
}


class WMSEventError(Exception):
    def __init__(self, message: str, *, status: int, field: str = ""):
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


def wms_actor():
    """The warehouse system's own user: acts in the warehouse role, cannot log in."""
    user, created = get_user_model().objects.get_or_create(
        username="wms", defaults={"first_name": "WMS", "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=Role.WAREHOUSE.value))
    return user


def _parse(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WMSEventError("the body is not JSON", status=400) from None
    if not isinstance(data, dict):
        raise WMSEventError("the body must be a JSON object", status=400)
    for name in ("event_id", "event", "occurred_at"):
        if not data.get(name):
            raise WMSEventError(f"missing {name}", status=400, field=name)
    if data["event"] not in WMS_EVENTS:
        raise WMSEventError(f"unknown event {data['event']!r}", status=400, field="event")
    skus = data.get("skus")
    if skus is not None and not (isinstance(skus, list) and all(isinstance(sku, str) for sku in skus)):
        raise WMSEventError("skus must be a list of SKU strings", status=400, field="skus")
    if not (data.get("order_number") or data.get("external_order_id")):
        raise WMSEventError("missing order_number or external_order_id", status=400, field="order_number")
    try:
        occurred = datetime.fromisoformat(str(data["occurred_at"]))
    except ValueError:
        raise WMSEventError("occurred_at is not an ISO 8601 time", status=400, field="occurred_at") from None
    if timezone.is_naive(occurred):
        raise WMSEventError("occurred_at needs a UTC offset", status=400, field="occurred_at")
    data["event_id"] = str(data["event_id"])[:120]
    return data


def _find_order(data: dict) -> Order:
    orders = Order.objects.all()
    if data.get("order_number"):
        orders = orders.filter(number=data["order_number"])
    else:
        orders = orders.filter(external_id=str(data["external_order_id"]))
        if data.get("channel"):
            orders = orders.filter(channel=data["channel"])
    found = list(orders[:2])
    if len(found) != 1:
        which = data.get("order_number") or data.get("external_order_id")
        raise WMSEventError(f"order {which} is not in the hub" if not found else "ambiguous order", status=404)
    return found[0]


def _transition_data(data: dict) -> dict:
    if data["event"] == "allocated":
        warehouse = Warehouse.objects.filter(code=data.get("warehouse") or "").first()
        if warehouse is None:
            raise WMSEventError(f"unknown warehouse {data.get('warehouse')!r}", status=400, field="warehouse")
        return {"warehouse": warehouse}
    if data["event"] == "awaiting_pickup":
        for name in ("carrier", "tracking_number"):
            if not data.get(name):
                raise WMSEventError(f"awaiting_pickup needs {name}", status=400, field=name)
        return {"carrier": data["carrier"], "tracking_number": data["tracking_number"]}
    return {}


def wms_event_apply(*, order: Order, data: dict) -> str:
    """Apply one event in one transaction with its delivery record; refuse it whole."""
    actor = wms_actor()
    note = f"WMS {data['event']} · {data.get('operator') or '—'} · {data['occurred_at']}"
    extra = _transition_data(data)
    with transaction.atomic(durable=True):
        if data["event"] == "packing":
            current = Order.objects.select_for_update().values_list("state", flat=True).get(pk=order.pk)
            if current != State.ALLOCATED:
                raise WMSEventError(
                    f"order {order.number} is {State(current).label}, not waiting to be packed", status=409
                )
            outcome = "no change: the order is being packed"
        elif data["event"] == "out_of_stock":
            locked = order_lock(order.pk)
            skus = [str(sku) for sku in data.get("skus") or [] if str(sku).strip()][:50]
            raised = order_exception_raise(
                order=locked,
                reason=ExceptionReason.OUT_OF_STOCK,
                source=OrderException.Source.WEBHOOK,
                detail=(", ".join(skus) + " · " if skus else "") + note,
                data={"skus": skus, "event_id": data["event_id"]},
                actor=actor,
            )
            outcome = "raised: out_of_stock" if raised else "no change: out of stock already open"
        else:
            order_transition_in_transaction(order.pk, _ACTIONS[data["event"]], actor=actor, note=note, **extra)
            outcome = f"applied: {_ACTIONS[data['event']]}"
        InboundDelivery.objects.create(
            source="wms", delivery_id=data["event_id"], topic=data["event"], order=order, outcome=outcome
        )
    return outcome


def _log_refusal(order: Order, data: dict, reason: str) -> None:
    """Write the refusal on the order's timeline, once per event id."""
    if OrderEvent.objects.filter(order=order, action=WMS_EVENT_REJECTED, data__event_id=data["event_id"]).exists():
        return
    with transaction.atomic(durable=True):
        order = Order.objects.get(pk=order.pk)
        order_event_create(
            order=order,
            action=WMS_EVENT_REJECTED,
            from_state=order.state,
            actor=None,
            occurred_at=timezone.now(),
            note=reason,
            data={"event_id": data["event_id"], "event": data["event"], "operator": data.get("operator", "")},
        )


def _error(message: str, status: int, field: str = "") -> JsonResponse:
    body = {"error": message}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


@signed_webhook
def wms_events_webhook(request):
    body = request.body
    secrets = webhook_secrets("wms")
    if not secrets or not signature_matches_hex(body, request.headers.get("X-OrderHub-Signature", ""), secrets):
        return _error("bad signature", 401)
    try:
        sent_at = int(request.headers.get("X-OrderHub-Timestamp", ""))
    except ValueError:
        return _error("missing or bad X-OrderHub-Timestamp", 401)
    if abs(time.time() - sent_at) > settings.WMS_WEBHOOK_MAX_AGE_SECONDS:
        return _error("the request is too old (or from the future)", 401)
    try:
        data = _parse(body)
        if InboundDelivery.objects.filter(source="wms", delivery_id=data["event_id"]).exists():
            return JsonResponse({"duplicate": True})
        order = _find_order(data)
    except WMSEventError as exc:
        return _error(exc.message, exc.status, exc.field)
    try:
        outcome = wms_event_apply(order=order, data=data)
    except WMSEventError as exc:
        if exc.status == 409:
            _log_refusal(order, data, exc.message)
        return _error(exc.message, exc.status, exc.field)
    except OrderError as exc:
        _log_refusal(order, data, exc.message)
        logger.info("wms: event %s for %s refused: %s", data["event_id"], order.number, exc.message)
        return _error(exc.message, 409)
    except IntegrityError:
        if InboundDelivery.objects.filter(source="wms", delivery_id=data["event_id"]).exists():
            # The same event_id arrived twice at once: the other request applied it.
            return JsonResponse({"duplicate": True})
        return _error("a concurrent change got there first; send the event again", 409)
    return JsonResponse({"order": order.number, "outcome": outcome})
