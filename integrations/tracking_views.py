"""Route pushes from carriers: `POST /webhooks/carriers/<carrier>/push`. The signature is
checked with each enabled account's secret for that carrier; the events are handed to
tracking_push_apply (integrations/tracking.py), which matches them to shipments by tracking
number and applies them like polled ones. This view only verifies and answers."""

from __future__ import annotations

import logging

from django.http import HttpResponse, JsonResponse

from orders.states import Carrier

from .carriers.base import CarrierError, CarrierSignatureError, carrier_class
from .models import CarrierAccount
from .signing import signed_webhook
from .tracking import tracking_push_apply

logger = logging.getLogger(__name__)


def _reply(reply) -> HttpResponse:
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


@signed_webhook
def carrier_push_webhook(request, carrier: str):
    if carrier not in Carrier.values or carrier == Carrier.OTHER:
        return JsonResponse({"error": f"unknown carrier {carrier!r}"}, status=404)
    adapter_class = carrier_class(carrier)
    accounts = list(CarrierAccount.objects.filter(carrier=carrier, enabled=True))
    headers = {k.lower(): v for k, v in request.headers.items()}
    form = request.POST.dict() if request.content_type == "application/x-www-form-urlencoded" else {}
    body = request.body
    events = None
    adapter = None
    for account in accounts:
        adapter = adapter_class(account.credentials())
        try:
            events = adapter.parse_push(body=body, headers=headers, form=form)
        except NotImplementedError:
            return JsonResponse({"error": f"{carrier} pushes are not supported; tracking is polled"}, status=404)
        except CarrierSignatureError:
            continue
        except CarrierError as exc:
            logger.warning("carrier push (%s) refused: %s", carrier, exc.message)
            return _reply(adapter.push_reply(ok=False, message=exc.message))
        break
    if events is None:
        logger.warning("carrier push (%s) with a signature no account verifies", carrier)
        if adapter is None:
            return JsonResponse({"error": "no enabled account for this carrier"}, status=401)
        reply = adapter.push_reply(ok=False, message="signature")
        return HttpResponse(reply.body, status=401, content_type=reply.content_type)
    tracking_push_apply(carrier=carrier, events=events)
    return _reply(adapter.push_reply(ok=True))
