"""Checking signed webhooks: which secrets apply, and constant-time comparisons."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import WebhookSource

_ENV_SECRETS = {"shopify": "SHOPIFY_WEBHOOK_SECRET", "wms": "WMS_WEBHOOK_SECRET"}


def webhook_secrets(kind: str) -> list[str]:
    """The environment's secret for this kind of sender, then every enabled one in the admin."""
    return webhook_secrets_with(kind, webhook_secrets_stored(kind))


def webhook_secrets_stored(kind: str) -> list[str]:
    """The enabled secrets of this kind of sender in the admin (a caller may keep them a while)."""
    return list(WebhookSource.objects.filter(kind=kind, enabled=True).values_list("secret", flat=True))


def webhook_secrets_with(kind: str, stored: list[str]) -> list[str]:
    """The environment's secret (read now), then `stored`, without empty ones."""
    return [s for s in (getattr(settings, _ENV_SECRETS[kind], ""), *stored) if s]


def hmac_sha256(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def signature_matches_base64(body: bytes, signature: str, secrets: list[str]) -> bool:
    """Shopify style: base64(HMAC-SHA256(secret, raw body)), compared in constant time."""
    given = (signature or "").strip().encode()
    return any(hmac.compare_digest(base64.b64encode(hmac_sha256(s, body)), given) for s in secrets)


def signature_matches_hex(body: bytes, signature: str, secrets: list[str]) -> bool:
    """OrderHub's own (WMS) style: "sha256=" + hex HMAC-SHA256(secret, raw body)."""
    given = (signature or "").strip()
    if given.startswith("sha256="):
        given = given[len("sha256=") :]
    return any(hmac.compare_digest(hmac_sha256(s, body).hex(), given.lower()) for s in secrets)


def signed_webhook(view):
    """The one way to expose a webhook: POST only, exempt from CSRF (the sender signs each
    body instead; the view checks that signature before it reads anything), and the body
    refused with 413 over WEBHOOK_MAX_BODY_BYTES before it is read. Views without this mark
    keep Django's CSRF check; a test walks the URLconf to hold that."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"error": "bad Content-Length"}, status=400)
        # The declared length is checked before the body is read; a chunked body declares none.
        try:
            too_big = declared > limit or len(request.body) > limit
        except RequestDataTooBig:
            too_big = True
        if too_big:
            return JsonResponse({"error": f"the body is over {limit} bytes"}, status=413)
        return view(request, *args, **kwargs)

    wrapped.signed_webhook = True
    return csrf_exempt(require_POST(wrapped))
