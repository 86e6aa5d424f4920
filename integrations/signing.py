"""Checking signed webhooks: which secrets apply, and constant-time comparisons."""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings

_ENV_SECRETS = {"shopify": "SHOPIFY_WEBHOOK_SECRET", "wms": "WMS_WEBHOOK_SECRET"}


def webhook_secrets(kind: str) -> list[str]:
    """The environment's secret for this kind of sender, then every enabled one in the admin."""
    from .models import WebhookSource

    secrets = [getattr(settings, _ENV_SECRETS[kind], "")]
    secrets += list(WebhookSource.objects.filter(kind=kind, enabled=True).values_list("secret", flat=True))
    return [s for s in secrets if s]


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
