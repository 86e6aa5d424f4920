"""截单 over the wire: the request to the warehouse system or the carrier when an interception
is opened (orders.services.interception), as the outbox's `interception_call` reaction.

Subscribed by this app to every `request_intercept` event (IntegrationsConfig's
outbox_subscriptions), not by an editable rule: asking the parcel's holder to stop it must not
depend on a rule someone can switch off.

Warehouse (the order was allocated or packed): when the warehouse has a WMS URL, the hub POSTs
the request there, signed as the WMS signs its webhooks (the shared WMS secret):

    POST <Warehouse.wms_url>
    Content-Type: application/json
    X-OrderHub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
    X-OrderHub-Timestamp: <Unix seconds>
    {"request_id": "OH20260128-00001-I7", "type": "intercept", "order_number": "OH20260128-00001",
     "external_order_id": "…", "channel": "shopify", "warehouse": "hz-own", "reason": "…",
     "requested_at": "2026-01-28T14:05:00+08:00"}

and reads its answer `{"accepted": true|false, "result": "intercepted"|"failed"|null,
"message": "…"}`: a result closes the interception now; accepted without a result waits for
the warehouse's tap on its board or the WMS webhook's `intercepted` / `intercept_failed`
event; not accepted is a failed interception (the parcel has left). Without a WMS URL the
board is the request. request_id is the same on every retry: the WMS answers a repeat as it
answered the first.

Carrier (shipped, picked up): the carrier's interception API (SF, ZTO) through the account of
the order's warehouse; the carrier's "accepted" closes it as intercepted (the parcel comes
back), its refusal as failed with its reason. A carrier without an interception API here, or
without an account, turns the interception into a task for a person (route "manual", shown on
the boards), with the reason on record.
"""

from __future__ import annotations

import json
import time

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Interception, InterceptionRoute, InterceptionStatus
from orders.outbox.kinds import ReactionFailed, ReactionRetryLater
from orders.services.interception import REQUEST, interception_answer_record

from .carriers.base import (
    CarrierGiveUp,
    CarrierRetryLater,
    InterceptRequest,
    carrier_class,
    carrier_supports_interception,
)
from .models import CarrierAccount
from .signing import hmac_sha256, webhook_secrets

INTERCEPTION_CALL = "interception_call"


def interception_subscriptions(event_type: str) -> list[tuple]:
    """The outbox's subscription source: one call per interception asked."""
    if event_type == REQUEST:
        return [(None, f"kind:{INTERCEPTION_CALL}", INTERCEPTION_CALL, {})]
    return []


def interception_request_id(interception: Interception) -> str:
    return f"{interception.order.number}-I{interception.pk}"


def interception_call(message) -> str:
    interception = (
        Interception.objects.select_related("order__warehouse").filter(requested_event_id=message.event_id).first()
    )
    if interception is None:
        raise ReactionFailed(_("This event opened no interception."))
    if not interception.is_open:
        return f"interception #{interception.pk} was {interception.get_status_display()} already"
    if interception.route == InterceptionRoute.WAREHOUSE:
        return _ask_warehouse(interception)
    if interception.route == InterceptionRoute.CARRIER:
        return _ask_carrier(interception)
    return f"interception #{interception.pk}: a person calls the carrier"


# -- the warehouse system ----------------------------------------------------------------------


def wms_request_body(interception: Interception) -> bytes:
    order = interception.order
    body = {
        "request_id": interception_request_id(interception),
        "type": "intercept",
        "order_number": order.number,
        "external_order_id": order.external_id,
        "channel": order.channel,
        "warehouse": order.warehouse.code if order.warehouse else "",
        "reason": interception.reason,
        "requested_at": timezone.localtime(interception.requested_at).isoformat(),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def wms_request_headers(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-OrderHub-Signature": "sha256=" + hmac_sha256(secret, body).hex(),
        "X-OrderHub-Timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }


def _ask_warehouse(interception: Interception) -> str:
    warehouse = interception.order.warehouse
    if warehouse is None or not warehouse.wms_url:
        return f"interception #{interception.pk}: on the warehouse board (no WMS URL)"
    secrets = webhook_secrets("wms")
    if not secrets:
        raise ReactionFailed(
            _("No WMS secret is configured: the request to %(url)s cannot be signed.") % {"url": warehouse.wms_url}
        )
    body = wms_request_body(interception)
    timeout = settings.ORDERHUB_WMS_TIMEOUT
    try:
        response = requests.post(
            warehouse.wms_url, data=body, headers=wms_request_headers(body, secrets[0]), timeout=timeout
        )
    except requests.Timeout:
        raise ReactionRetryLater(f"WMS {warehouse.code}: no answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise ReactionRetryLater(f"WMS {warehouse.code}: connection failed ({type(exc).__name__})") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ReactionRetryLater(f"WMS {warehouse.code}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise ReactionFailed(f"WMS {warehouse.code}: HTTP {response.status_code}: {response.text[:200]}")
    try:
        answer = response.json()
    except ValueError:
        raise ReactionRetryLater(f"WMS {warehouse.code}: the answer was not JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("accepted"), bool):
        raise ReactionFailed(f"WMS {warehouse.code}: the answer has no accepted true/false: {response.text[:200]}")
    said = str(answer.get("message") or "").strip()[:300]
    result = answer.get("result")
    if result not in (None, InterceptionStatus.INTERCEPTED, InterceptionStatus.FAILED):
        raise ReactionFailed(f"WMS {warehouse.code}: unknown result {result!r}")
    if not answer["accepted"]:
        result = InterceptionStatus.FAILED
    text = (
        f"WMS {warehouse.code}: "
        + (
            _("parcel pulled")
            if result == InterceptionStatus.INTERCEPTED
            else _("could not stop the parcel")
            if result == InterceptionStatus.FAILED
            else _("request accepted, the warehouse is looking for the parcel")
        )
        + (f" ({said})" if said else "")
    )
    interception_answer_record(interception.pk, answer=text, result=result)
    return text


# -- the carrier -------------------------------------------------------------------------------


def _carrier_account(interception: Interception) -> CarrierAccount | None:
    accounts = CarrierAccount.objects.filter(enabled=True, carrier=interception.carrier)
    if interception.order.warehouse_id:
        accounts = accounts.filter(warehouses=interception.order.warehouse_id)
    return accounts.order_by("priority", "id").first()


def _ask_carrier(interception: Interception) -> str:
    carrier = interception.get_carrier_display()
    supported = carrier_supports_interception(interception.carrier)
    account = _carrier_account(interception) if supported else None
    if account is None:
        why = (
            _("No %(carrier)s account for this warehouse: call the carrier, then record the result.")
            if supported
            else _("%(carrier)s has no interception API in the hub: call the carrier, then record the result.")
        ) % {"carrier": carrier}
        interception_answer_record(interception.pk, answer=why, route=InterceptionRoute.MANUAL)
        return why
    adapter = carrier_class(account.carrier)(account.credentials())
    request = InterceptRequest(
        tracking_number=interception.tracking_number,
        reason=interception.reason,
        request_id=interception_request_id(interception),
    )
    try:
        result = adapter.intercept(request)
    except CarrierRetryLater as exc:
        raise ReactionRetryLater(exc.message) from None
    except CarrierGiveUp as exc:
        raise ReactionFailed(exc.message) from None
    outcome = InterceptionStatus.INTERCEPTED if result.accepted else InterceptionStatus.FAILED
    text = f"{account}: {result.message}"
    interception_answer_record(interception.pk, answer=text, result=outcome)
    return text
