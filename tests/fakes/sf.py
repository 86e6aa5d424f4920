"""A local SF Express 丰桥 gateway (`/std/service`): form POSTs with partnerID, requestID,
serviceCode, timestamp, msgData and msgDigest, checked the way the real gateway checks them —
msgDigest = base64(md5(URLEncoder.encode(msgData + timestamp + checkWord))) computed here with
its own Java-style encoder, apiResultCode A1006 when it does not match — and answered in SF's
envelope: {"apiResponseID", "apiResultCode", "apiErrorMsg", "apiResultData"} with
apiResultData a JSON *string* {"success", "errorCode", "errorMsg", "msgData"}. See
integrations/carriers/sf.py for the payload shapes and codes we assume.

    with FakeSF(partner_id="sf-partner", check_word="sf-checkword") as sf:
        carrier = SFExpress(Credentials(sf.url, "sf-partner", "sf-checkword", extra={"monthly_card": "7551234567"}))
        carrier.create_waybill(request)
        sf.requests[-1].form                 # the form fields as received
        sf.requests[-1].payload              # msgData, parsed
        sf.orders["OH…-S1"].waybill_no       # the number it assigned ("SF" + 13 digits); .docall

It remembers orders by orderId (a second create with the same orderId answers 8016, as SF
does), records isDocall, reads an order back by orderId (EXP_RECE_SEARCH_ORDER_RESP: its
waybillNoInfoList, or business 8024 when there is none), and serves EXP_RECE_SEARCH_ROUTES from
`sf.routes[waybill_no]`, a list of (opCode, "YYYY-MM-DD HH:MM:SS", remark) or (opCode, time,
remark, acceptAddress) the test sets. `push_form(...)` builds a (correctly or wrongly) signed
route push, `push_json(...)` SF's documented unsigned JSON push.

Answers can be queued per test: sf.answers.extend(["busy", "ok"]); the default is "ok".
Others: "server_error" (HTTP 500), "timeout" (no answer until the client has given up; released
when the fake closes), "bad_json" (an HTML page), "duplicate" (business 8016), "business_error"
(business 8119, monthly card invalid), "busy" (platform A1009, target service unreachable), or
a tuple (code, message): a code starting with "A" is a platform code, anything else a business
errorCode.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from .gateway import FakeGateway

PATH = "/std/service"
SERVICES = (
    "EXP_RECE_CREATE_ORDER",
    "EXP_RECE_SEARCH_ROUTES",
    "EXP_RECE_SEARCH_ORDER_RESP",
    "EXP_RECE_WANTED_INTERCEPT",
)
# Assumed code and wording for "signed for: too late to intercept".
TOO_LATE_TO_INTERCEPT = ("8252", "运单已签收，无法拦截")
NO_SUCH_ORDER = ("8024", "未下单")  # assumed code for "no order with this orderId"
DUPLICATE = ("8016", "重复下单")
BUSINESS_ERROR = ("8119", "月结卡号不存在或已失效")
BUSY = ("A1009", "目标服务异常或不可达")
_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")


def java_url_encode(text: str) -> str:
    """java.net.URLEncoder.encode(text, "UTF-8"), byte by byte (kept apart from the adapter's)."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def digest(msg_data: str, timestamp: str, check_word: str) -> str:
    """The gateway's own computation of msgDigest."""
    raw = hashlib.md5(java_url_encode(msg_data + timestamp + check_word).encode("ascii")).digest()
    return base64.b64encode(raw).decode("ascii")


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    form: dict

    @property
    def payload(self):
        return json.loads(self.form["msgData"])


@dataclass
class Order:
    order_id: str
    waybill_no: str
    docall: bool
    payload: dict


def _route_dict(number: str, route: tuple) -> dict:
    op_code, accept_time, remark, *rest = route
    return {
        "mailNo": number,
        "opCode": str(op_code),
        "acceptTime": accept_time,
        "remark": remark,
        "acceptAddress": rest[0] if rest else "",
    }


class FakeSF(FakeGateway):
    path = PATH

    def __init__(self, *, partner_id: str = "sf-test-partner", check_word: str = "sf-test-checkword"):
        self.partner_id = partner_id
        self.check_word = check_word
        self.orders: dict[str, Order] = {}
        self.routes: dict[str, list[tuple]] = {}
        # 截单: the requests taken, by waybill; waybills signed for already refuse one.
        self.intercepts: dict[str, dict] = {}
        self.delivered: set[str] = set()
        self._numbers = itertools.count(7444400000001)
        super().__init__()

    # -- pushes -----------------------------------------------------------------------------
    def push_form(
        self,
        routes: dict[str, list[tuple]],
        *,
        check_word: str | None = None,
        partner_id: str | None = None,
        timestamp: str | None = None,
    ) -> dict[str, str]:
        """A route push signed like an SF request (msgDigest over msgData + timestamp +
        checkWord), msgData = {"Body": {"WaybillRoute": [...]}}. Signed with `check_word`
        (default: ours)."""
        waybill_routes = []
        for number, items in routes.items():
            for index, item in enumerate(items):
                route = _route_dict(number, item)
                route["mailno"] = route.pop("mailNo")
                route.update({"orderid": "", "id": f"{number[-6:]}{index:03d}", "reasonCode": "", "reasonName": ""})
                waybill_routes.append(route)
        msg_data = json.dumps({"Body": {"WaybillRoute": waybill_routes}}, ensure_ascii=False)
        timestamp = timestamp or str(int(time.time() * 1000))
        return {
            "partnerID": self.partner_id if partner_id is None else partner_id,
            "requestID": uuid.uuid4().hex,
            "serviceCode": "RoutePushService",
            "timestamp": timestamp,
            "msgData": msg_data,
            "msgDigest": digest(msg_data, timestamp, self.check_word if check_word is None else check_word),
        }

    @staticmethod
    def push_body(form: dict[str, str]) -> bytes:
        return urlencode(form).encode("ascii")

    @staticmethod
    def push_json(routes: dict[str, list[tuple]]) -> bytes:
        """SF's documented RoutePushService JSON body: no signature at all."""
        waybill_routes = []
        for number, items in routes.items():
            for item in items:
                route = _route_dict(number, item)
                route["mailno"] = route.pop("mailNo")
                waybill_routes.append(route)
        return json.dumps({"Body": {"WaybillRoute": waybill_routes}}, ensure_ascii=False).encode("utf-8")

    # -- the gateway ------------------------------------------------------------------------
    def _platform_problem(self, received: Received) -> tuple[str, str] | None:
        form = received.form
        if not received.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return "A1001", "必传参数不可为空 (form expected)"
        missing = [k for k in ("partnerID", "requestID", "serviceCode", "timestamp", "msgData") if not form.get(k)]
        if missing or "msgDigest" not in form:
            return "A1001", f"必传参数不可为空: {', '.join(missing or ['msgDigest'])}"
        if form["partnerID"] != self.partner_id:
            return "A1004", "无对应服务权限"
        if form["serviceCode"] not in SERVICES:
            return "A1004", "无对应服务权限"
        if form["msgDigest"] != digest(form["msgData"], form["timestamp"], self.check_word):
            return "A1006", "数字签名无效"
        return None

    def _next_waybill(self) -> str:
        return f"SF{next(self._numbers):013d}"

    def _serve(self, service: str, payload: dict) -> tuple[str, str] | dict:
        """(errorCode, errorMsg) for a business refusal, else msgData."""
        with self._lock:
            if service == "EXP_RECE_CREATE_ORDER":
                return self._create_order(payload)
            if service == "EXP_RECE_SEARCH_ORDER_RESP":
                return self._search_order(payload)
            if service == "EXP_RECE_WANTED_INTERCEPT":
                return self._intercept(payload)
            numbers = payload.get("trackingNumber") or []
            if not isinstance(numbers, list) or not numbers:
                return "8013", "未传入查询单号"
            if len(numbers) > 10:
                return "8003", "查询单号超过最大限制"
            if str(payload.get("trackingType")) != "1":
                return "S0002", "必填参数为空: trackingType"
            return {
                "routeResps": [
                    {"mailNo": n, "routes": [_route_dict(n, r) for r in self.routes.get(n, [])]} for n in numbers
                ]
            }

    def _create_order(self, payload: dict) -> tuple[str, str] | dict:
        order_id = str(payload.get("orderId") or "")
        if not order_id:
            return "S0002", "必填参数为空: orderId"
        contacts = {c.get("contactType"): c for c in payload.get("contactInfoList") or [] if isinstance(c, dict)}
        sender, receiver = contacts.get(1) or {}, contacts.get(2) or {}
        for contact, codes in ((sender, ("1010", "1011", "1012")), (receiver, ("1014", "1015", "1016"))):
            if not contact.get("address"):
                return codes[0], "地址不能为空"
            if not contact.get("contact"):
                return codes[1], "联系人不能为空"
            if not (contact.get("mobile") or contact.get("tel")):
                return codes[2], "电话不能为空"
        if not all(isinstance(c, dict) and c.get("name") for c in payload.get("cargoDetails") or [{}]):
            return "1023", "拖寄物品名不能为空"
        card = payload.get("monthlyCard")
        if card is not None and not (isinstance(card, str) and card.isdigit() and len(card) == 10):
            return "6126", "月结卡号不合法"
        if order_id in self.orders:
            return DUPLICATE
        given = [w.get("waybillNo") for w in payload.get("waybillNoInfoList") or [] if isinstance(w, dict)]
        waybill_no = given[0] if given and given[0] else self._next_waybill()
        docall = payload.get("isDocall") == 1
        self.orders[order_id] = Order(order_id, waybill_no, docall, payload)
        return {
            "orderId": order_id,
            "originCode": "571",
            "destCode": "021",
            "filterResult": 2,
            "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill_no}],
        }

    def _intercept(self, payload: dict) -> tuple[str, str] | dict:
        number = str(payload.get("waybillNo") or "")
        if not number:
            return "S0002", "必填参数为空: waybillNo"
        if str(payload.get("serviceCode")) not in ("1", "2"):
            return "S0002", "必填参数为空: serviceCode"
        if number in self.delivered:
            return TOO_LATE_TO_INTERCEPT
        self.intercepts[number] = payload
        return {"waybillNo": number}

    def _search_order(self, payload: dict) -> tuple[str, str] | dict:
        order = self.orders.get(str(payload.get("orderId") or ""))
        if order is None:
            return NO_SUCH_ORDER
        return {
            "orderId": order.order_id,
            "filterResult": 2,
            "waybillNoInfoList": [{"waybillType": 1, "waybillNo": order.waybill_no}],
        }

    def _envelope(self, code: str = "A1000", message: str = "", result: dict | None = None) -> dict:
        return {
            "apiResponseID": uuid.uuid4().hex.upper(),
            "apiResultCode": code,
            "apiErrorMsg": message,
            "apiResultData": json.dumps(result, ensure_ascii=False) if result is not None else None,
        }

    def _answer(self, received: Received, answer) -> dict:
        problem = self._platform_problem(received)
        if problem:
            return self._envelope(*problem)
        if answer == "busy":
            return self._envelope(*BUSY)
        if isinstance(answer, tuple) and str(answer[0]).startswith("A"):
            return self._envelope(*answer)
        try:
            payload = received.payload
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return self._envelope(result=_refusal("S0001", "非法的JSON格式"))
        if answer == "duplicate":
            return self._envelope(result=_refusal(*DUPLICATE))
        if answer == "business_error":
            return self._envelope(result=_refusal(BUSINESS_ERROR[0], f"{BUSINESS_ERROR[1]} ({self.partner_id})"))
        if isinstance(answer, tuple):
            return self._envelope(result=_refusal(*answer))
        if answer != "ok":
            raise ValueError(f"unknown FakeSF answer {answer!r}")
        served = self._serve(received.form["serviceCode"], payload)
        if isinstance(served, tuple):
            return self._envelope(result=_refusal(*served))
        return self._envelope(result={"success": True, "errorCode": "S0000", "errorMsg": None, "msgData": served})

    def parse(self, *, path: str, headers: dict, body: bytes) -> Received:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        return Received(path=path, headers=headers, body=body, form=form)

    def respond(self, received: Received, answer) -> bytes:
        return json.dumps(self._answer(received, answer), ensure_ascii=False).encode("utf-8")


def _refusal(code: str, message: str) -> dict:
    return {"success": False, "errorCode": code, "errorMsg": message, "msgData": None}
