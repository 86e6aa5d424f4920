"""Signed requests as OrderHub's WMS webhook expects them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time


def wms_headers(body: bytes, secret: str, *, timestamp: int | None = None) -> dict:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "HTTP_X_ORDERHUB_SIGNATURE": f"sha256={signature}",
        "HTTP_X_ORDERHUB_TIMESTAMP": str(int(time.time()) if timestamp is None else timestamp),
    }


def wms_body(**fields) -> bytes:
    event = {"occurred_at": "2026-01-28T14:05:00+08:00", "operator": "王强", **fields}
    return json.dumps(event, ensure_ascii=False).encode("utf-8")
