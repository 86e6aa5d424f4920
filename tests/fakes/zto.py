"""A local ZTO open-platform (ZOP) gateway: JSON POSTs to `/<api name>` with `x-appKey` (also
accepted as `x-companyid`, as ZTO's own Java SDK sends it) and `x-dataDigest` =
base64(md5(raw body + app secret)), computed here over the exact bytes received, independently
of the adapter. Answers in ZTO's envelope {"status", "statusCode", "message", "result"}. See
integrations/carriers/zto.py for the payload shapes and codes we assume.

    with FakeZTO(app_key="zto-key", app_secret="zto-secret") as zto:
        carrier = ZTOExpress(Credentials(zto.url, "zto-key", "zto-secret", extra={"account_id": "…"}))
        carrier.create_waybill(request)
        zto.requests[-1].json                  # the parsed body; .body the raw bytes, .headers, .path
        zto.orders["OH…-S1"].bill_code         # the number it assigned ("7310" + 8 digits); .order_type

It remembers orders by partnerOrderCode (a second create with the same code is refused as a
duplicate, in words: ZTO publishes no code for it, so DUPLICATE's code is a stand-in), and
serves zto.merchant.waybill.track.query from `zto.routes[bill_code]`, a list of
(scanType, "YYYY-MM-DD HH:MM:SS" Shanghai time, desc) or (…, desc, site) the test sets. Times
go out as epoch milliseconds (`scanDate`, as in ZTO's SDK models) unless
`zto.time_format = "text"`. `push_form(...)` builds a (correctly or wrongly) signed route
push as ZTO sends it (form fields data, data_digest, company_id, msg_type "Traces").

Checks, in the real gateway's order: the API path (S207), the app key (S210; a stand-in, ZTO
may answer an unknown key otherwise), the digest (S211 "签名错误"), then the JSON body and the
required fields (S208 "… 不能为空"), the electronic-waybill account for orderType 1 (DEF001).

Answers can be queued per test: zto.answers.extend(["rate_limit", "ok"]); the default is "ok".
Others: "server_error" (HTTP 500), "timeout" (no answer until the client has given up; released
when the fake closes), "bad_json" (an HTML page), "rate_limit" (S206 "api qos limit"),
"signature" (S211 whatever the digest), "busy" (S203), "business_error" (F002, balance too low,
echoing the app key), "duplicate", or a tuple (statusCode, message) for any other refusal.
Queued refusals other than "signature" come after the path, key and digest checks.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from .gateway import FakeGateway

CREATE_ORDER = "zto.open.createOrder"
TRACK_QUERY = "zto.merchant.waybill.track.query"
INTERCEPT = "zto.open.intercept.create"
APIS = (CREATE_ORDER, TRACK_QUERY, INTERCEPT)
# Assumed code and wording for "signed for: too late to intercept".
TOO_LATE_TO_INTERCEPT = ("B105", "该运单已签收，无法拦截")
SHANGHAI = ZoneInfo("Asia/Shanghai")

SIGNATURE = ("S211", "签名错误")
RATE_LIMIT = ("S206", "api qos limit")
BUSY = ("S203", "服务暂不可用")
NO_API = ("S207", "API不存在")
NO_PERMISSION = ("S210", "无权限访问")
BUSINESS_ERROR = ("F002", "电子面单账户余额不足")
DUPLICATE = ("DUP", "订单已存在，请勿重复下单")  # the code is a stand-in; the wording is what counts
NO_ACCOUNT = ("DEF001", "电子面单账号或者集团客户编码不能为空")
BAD_ORDER_TYPE = ("p-o001", "没有找到可以处理的订单类型")


def digest(body: bytes, app_secret: str) -> str:
    """The gateway's own computation of x-dataDigest over the raw body bytes."""
    return base64.b64encode(hashlib.md5(body + app_secret.encode("utf-8")).digest()).decode("ascii")


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    json: object


@dataclass
class Order:
    partner_order_code: str
    bill_code: str
    order_type: str
    payload: dict


class FakeZTO(FakeGateway):
    path = None
    charset = "UTF-8"

    def __init__(self, *, app_key: str = "zto-test-appkey", app_secret: str = "zto-test-appsecret"):
        self.app_key = app_key
        self.app_secret = app_secret
        self.orders: dict[str, Order] = {}
        self.routes: dict[str, list[tuple]] = {}
        # 截单: the requests taken, by bill code; bills signed for already refuse one.
        self.intercepts: dict[str, dict] = {}
        self.delivered: set[str] = set()
        self.time_format = "millis"
        self._numbers = itertools.count(1)
        self._order_codes = itertools.count(260128000006047100)
        super().__init__()

    # -- pushes -----------------------------------------------------------------------------
    def push_form(
        self,
        bill_code: str,
        action: str,
        action_time: str,
        desc: str = "",
        *,
        city: str = "",
        app_secret: str | None = None,
        company_id: str | None = None,
        msg_type: str = "Traces",
    ) -> dict[str, str]:
        """One route event pushed the way ZTO pushes it, signed with `app_secret` (default: ours)."""
        event = {"billCode": bill_code, "actionTime": action_time, "action": action, "desc": desc}
        if city:
            event["city"] = city
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        secret = self.app_secret if app_secret is None else app_secret
        return {
            "data": data,
            "data_digest": digest(data.encode("utf-8"), secret),
            "company_id": self.app_key if company_id is None else company_id,
            "msg_type": msg_type,
        }

    @staticmethod
    def push_body(form: dict[str, str]) -> bytes:
        return urlencode(form).encode("ascii")

    # -- the gateway ------------------------------------------------------------------------
    def _platform_problem(self, received: Received, answer) -> tuple[str, str] | None:
        api = received.path.lstrip("/")
        if api not in APIS:
            return NO_API
        key = received.headers.get("x-appkey") or received.headers.get("x-companyid")
        if key != self.app_key:
            return NO_PERMISSION
        given = received.headers.get("x-datadigest", "")
        if answer == "signature" or given != digest(received.body, self.app_secret):
            return SIGNATURE
        if not received.headers.get("content-type", "").lower().startswith("application/json"):
            return "S208", "Content-Type 必须为 application/json"
        if not isinstance(received.json, dict):
            return "S208", "请求体不能为空 (JSON object expected)"
        return None

    def _next_bill_code(self) -> str:
        return f"7310{next(self._numbers):08d}"

    def _create_order(self, payload: dict) -> tuple[str, str] | dict:
        code = str(payload.get("partnerOrderCode") or "")
        if not code:
            return "S208", "partnerOrderCode不能为空"
        order_type = str(payload.get("orderType") or "")
        if order_type not in ("1", "2", "3", "4"):
            return BAD_ORDER_TYPE
        for info_key, role in (("senderInfo", "sender"), ("receiveInfo", "receiver")):
            info = payload.get(info_key)
            if not isinstance(info, dict):
                return "S208", f"{info_key}不能为空"
            for field in ("Name", "Province", "City", "Address"):
                if not info.get(f"{role}{field}"):
                    return "S208", f"{role}{field}不能为空"
            if not (info.get(f"{role}Mobile") or info.get(f"{role}Phone")):
                return "S208", f"{role}Mobile和{role}Phone不能同时为空"
        account = payload.get("accountInfo") or {}
        if order_type == "1" and not (account.get("accountId") or account.get("customerId")):
            return NO_ACCOUNT
        if code in self.orders:
            return DUPLICATE
        bill_code = str(payload.get("billCode") or "") or (self._next_bill_code() if order_type != "3" else "")
        self.orders[code] = Order(code, bill_code, order_type, payload)
        return {
            "bigMarkInfo": {"bagAddr": "沪西", "mark": "300- H12 09"},
            "verifyCode": None,
            "siteCode": "02100",
            "signBillInfo": None,
            "siteName": "上海",
            "billCode": bill_code or None,
            "orderCode": str(next(self._order_codes)),
            "partnerOrderCode": code,
        }

    def _intercept(self, payload: dict) -> tuple[str, str] | dict:
        bill_code = str(payload.get("billCode") or "")
        if not bill_code:
            return "S208", "billCode不能为空"
        if bill_code in self.delivered:
            return TOO_LATE_TO_INTERCEPT
        self.intercepts[bill_code] = payload
        return {"billCode": bill_code, "interceptStatus": "accepted"}

    def _scan_date(self, text: str):
        if self.time_format == "text":
            return text
        moment = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
        return int(moment.timestamp() * 1000)

    def _track(self, payload: dict) -> tuple[str, str] | list:
        bill_code = str(payload.get("billCode") or "")
        if not bill_code:
            return "S208", "billCode不能为空"
        traces = []
        for scan_type, when, desc, *rest in self.routes.get(bill_code, []):
            trace = {"billCode": bill_code, "scanType": scan_type, "scanDate": self._scan_date(when), "desc": desc}
            if rest:
                trace["scanSite"] = {"name": rest[0]}
            traces.append(trace)
        return traces

    def _answer(self, received: Received, answer) -> dict:
        problem = self._platform_problem(received, answer)
        if problem:
            return _envelope(*problem)
        if answer == "rate_limit":
            return _envelope(*RATE_LIMIT)
        if answer == "busy":
            return _envelope(*BUSY)
        if answer == "business_error":
            return _envelope(BUSINESS_ERROR[0], f"{BUSINESS_ERROR[1]} ({self.app_key})")
        if answer == "duplicate":
            return _envelope(*DUPLICATE)
        if isinstance(answer, tuple):
            return _envelope(*answer)
        if answer not in ("ok", "signature"):
            raise ValueError(f"unknown FakeZTO answer {answer!r}")
        with self._lock:
            if received.path.lstrip("/") == CREATE_ORDER:
                served = self._create_order(received.json)
            elif received.path.lstrip("/") == INTERCEPT:
                served = self._intercept(received.json)
            else:
                served = self._track(received.json)
        if isinstance(served, tuple):
            return _envelope(*served)
        return {"result": served, "message": "成功", "status": True, "statusCode": "0000"}

    def parse(self, *, path: str, headers: dict, body: bytes) -> Received:
        try:
            parsed = json.loads(body.decode("utf-8"))
        except ValueError:
            parsed = None
        return Received(path=path, headers=headers, body=body, json=parsed)

    def respond(self, received: Received, answer) -> bytes:
        return json.dumps(self._answer(received, answer), ensure_ascii=False).encode("utf-8")


def _envelope(code: str, message: str) -> dict:
    return {"result": None, "message": message, "status": False, "statusCode": code}
