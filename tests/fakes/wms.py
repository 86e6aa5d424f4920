"""Signed requests as OrderHub's WMS webhook expects them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from .gateway import FakeGateway


def wms_headers(body: bytes, secret: str, *, timestamp: int | None = None) -> dict:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "HTTP_X_ORDERHUB_SIGNATURE": f"sha256={signature}",
        "HTTP_X_ORDERHUB_TIMESTAMP": str(int(time.time()) if timestamp is None else timestamp),
    }


def wms_body(**fields) -> bytes:
    event = {"occurred_at": "2026-01-28T14:05:00+08:00", "operator": "王强", **fields}
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


class FakeWMS(FakeGateway):
    """A warehouse system taking the hub's requests (integrations.interception): checks the
    signature (X-OrderHub-Signature over the raw body with the shared secret) and that the
    timestamp is fresh, answers 401 otherwise; else the queued answer: "accepted" (no result
    yet), "intercepted", "too_late" (not accepted: the parcel has left), or the gateway's
    shared failures ("server_error", "timeout", …)."""

    path = "/wms/requests"

    def __init__(self, *, secret: str):
        self.secret = secret
        super().__init__()

    def parse(self, *, path: str, headers: dict, body: bytes):
        return {"path": path, "headers": headers, "body": body, "json": _json_or_none(body)}

    def respond(self, received, answer) -> bytes | None:
        headers = received["headers"]
        expected = "sha256=" + hmac.new(self.secret.encode(), received["body"], hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("x-orderhub-signature", ""), expected):
            return json.dumps({"error": "bad signature"}).encode()
        try:
            fresh = abs(time.time() - int(headers.get("x-orderhub-timestamp", ""))) <= 300
        except ValueError:
            fresh = False
        if not fresh:
            return json.dumps({"error": "stale timestamp"}).encode()
        answers = {
            "ok": {"accepted": True, "result": None, "message": "已通知仓库拦截"},
            "accepted": {"accepted": True, "result": None, "message": "已通知仓库拦截"},
            "intercepted": {"accepted": True, "result": "intercepted", "message": "包裹已拦截"},
            "too_late": {"accepted": False, "result": None, "message": "包裹已出库"},
        }
        return json.dumps(answers[answer], ensure_ascii=False).encode("utf-8")


def _json_or_none(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        return None
