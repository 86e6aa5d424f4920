"""A local Cainiao LINK gateway: form POSTs with msg_type, logistic_provider_id, to_code,
logistics_interface and data_digest, checked the way the real gateway checks them (the provider
id, and base64(md5(logistics_interface + secret)) with the raw MD5 bytes; errorCode S02 when it
does not match). See integrations/carriers/cainiao.py for the message types and payload shapes
we assume.

    with FakeCainiao(app_key="cn-provider", secret="cn-secret") as cainiao:
        carrier = Cainiao(Credentials(cainiao.url, "cn-provider", "cn-secret", extra={"cp_code": "YTO"}))
        carrier.create_waybill(request)
        cainiao.requests[-1].payload        # the logistics_interface, parsed
        cainiao.orders["OH…-S1"]            # the waybill code it assigned

It remembers created orders by object id (a second create for the same id gets the duplicate
answer), assigns waybill codes "LP" + 14 digits, serves traces from `cainiao.routes[mail_no]`
(lists of event dicts the test sets) and builds signed push forms with `push_form(...)`.

Answers can be queued per test: cainiao.answers.extend(["busy", "ok"]); the default is "ok".
Others: "server_error" (HTTP 500), "timeout" (no answer until the client has given up),
"bad_json", "busy" (S07), "business_error", "duplicate", or a (errorCode, errorMsg) tuple.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from .gateway import FakeGateway

PATH = "/gateway/link.do"
DUPLICATE_CODE = "OBJECT_ID_DUPLICATE"
BUSY_CODE = "S07"
BUSINESS_CODE = "RECIPIENT_ADDRESS_ERROR"
KNOWN_MSG_TYPES = ("TMS_WAYBILL_GET", "TMS_WAYBILL_UPDATE", "GUOGUO_CREATE_SEND_ORDER", "LOGISTICS_TRACE_QUERY")


def digest(content: str, secret: str) -> str:
    """The gateway's own computation, kept apart from the adapter's on purpose."""
    raw = hashlib.md5(content.encode("utf-8") + secret.encode("utf-8")).digest()
    return base64.b64encode(raw).decode("ascii")


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    form: dict

    @property
    def payload(self):
        return json.loads(self.form["logistics_interface"])


class FakeCainiao(FakeGateway):
    path = PATH
    server_error_status = 500
    server_error_page = b"<html>502 Bad Gateway</html>"
    busy_page = b"<html>gateway</html>"
    charset = "UTF-8"

    def __init__(self, *, app_key: str = "cn-test-provider", secret: str = "cn-test-secret"):
        self.app_key = app_key
        self.secret = secret
        self.orders: dict[str, str] = {}  # object id / out order id -> waybill code
        self.routes: dict[str, list[dict]] = {}  # mail no -> trace events
        self._numbers = itertools.count(73100000000001)
        super().__init__()

    # -- pushes -----------------------------------------------------------------------------
    def push_form(
        self,
        mail_no: str,
        events: list[dict],
        *,
        secret: str | None = None,
        msg_type: str = "LOGISTICS_TRACE_PUSH",
    ) -> dict[str, str]:
        """The form Cainiao POSTs to a push endpoint; signed with `secret` (default: ours)."""
        content = json.dumps({"mailNo": mail_no, "logisticsTraceDetailList": events}, ensure_ascii=False)
        return {
            "msg_type": msg_type,
            "logistic_provider_id": "CAINIAO",
            "logistics_interface": content,
            "data_digest": digest(content, self.secret if secret is None else secret),
        }

    @staticmethod
    def push_body(form: dict[str, str]) -> bytes:
        return urlencode(form).encode("ascii")

    # -- the gateway ------------------------------------------------------------------------
    def _next_code(self) -> str:
        return f"LP{next(self._numbers):014d}"

    def _problem(self, received: Received) -> tuple[str, str] | None:
        form = received.form
        if not received.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return "S05", "非法的通知内容: form expected"
        missing = [
            k for k in ("msg_type", "logistic_provider_id", "logistics_interface", "data_digest") if k not in form
        ]
        if missing:
            return "S05", f"missing {', '.join(missing)}"
        if form["logistic_provider_id"] != self.app_key:
            return "INVALID_PROVIDER", "logistic_provider_id not found"
        if form["data_digest"] != digest(form["logistics_interface"], self.secret):
            return "S02", "非法的数字签名"
        if form["msg_type"] not in KNOWN_MSG_TYPES:
            return "S04", "非法的通知类型"
        try:
            payload = json.loads(form["logistics_interface"])
        except ValueError:
            return "S01", "非法的JSON格式"
        if not isinstance(payload, dict):
            return "S01", "非法的JSON格式"
        return None

    def _serve(self, msg_type: str, payload: dict) -> dict:
        with self._lock:
            if msg_type == "TMS_WAYBILL_GET":
                if not payload.get("cpCode"):
                    return _error("CP_CODE_EMPTY", "物流公司Code不能为空")
                results = []
                for info in payload.get("tradeOrderInfoDtos") or []:
                    object_id = info.get("objectId")
                    if object_id in self.orders:
                        return _error(DUPLICATE_CODE, f"objectId {object_id} 重复")
                    self.orders[object_id] = code = self._next_code()
                    results.append({"objectId": object_id, "waybillCode": code, "printData": "{}"})
                return {"success": "true", "waybillCloudPrintResponseList": results}
            if msg_type == "TMS_WAYBILL_UPDATE":
                object_id, code = payload.get("objectId"), payload.get("waybillCode")
                if not code:
                    return _error("WAYBILL_CODE_EMPTY", "面单号不能为空")
                if object_id in self.orders:
                    return _error(DUPLICATE_CODE, f"objectId {object_id} 重复")
                self.orders[object_id] = code
                return {"success": "true", "waybillCode": code, "printData": "{}"}
            if msg_type == "GUOGUO_CREATE_SEND_ORDER":
                out_id = ((payload.get("outOrderInfoList") or [{}])[0]).get("outOrderId")
                if out_id in self.orders:
                    return _error(DUPLICATE_CODE, f"outOrderId {out_id} 重复")
                self.orders[out_id] = code = self._next_code()
                return {"success": "true", "data": {"orderId": f"CN{code[2:]}", "mailNo": code, "gotCode": "8391"}}
            mail_no = payload.get("mailNo")
            return {"success": "true", "mailNo": mail_no, "logisticsTraceDetailList": self.routes.get(mail_no, [])}

    def parse(self, *, path: str, headers: dict, body: bytes) -> Received:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        return Received(path=path, headers=headers, body=body, form=form)

    def respond(self, received: Received, answer) -> bytes:
        problem = self._problem(received)
        if problem:
            result = _error(*problem)
        elif answer == "busy":
            result = _error(BUSY_CODE, "系统异常，请重试")
        elif answer == "business_error":
            result = _error(BUSINESS_CODE, f"收件人地址不合法 (provider {self.app_key})")
        elif answer == "duplicate":
            result = _error(DUPLICATE_CODE, "objectId 重复")
        elif isinstance(answer, tuple):
            result = _error(*answer)
        else:
            result = self._serve(received.form["msg_type"], received.payload)
        return json.dumps(result, ensure_ascii=False).encode("utf-8")


def _error(code: str, message: str) -> dict:
    return {"success": "false", "errorCode": code, "errorMsg": message}
