"""ZTO Express (中通) through the ZOP open platform (开放平台): orders with electronic waybills,
pickups (预约件), route queries and route pushes.

Wire format (EXTERNAL_APIS.md, "ZTO (中通) — open platform ZOP"): a JSON POST
(`Content-Type: application/json`) to `{credentials.endpoint}/{api name}` (endpoint
`https://japi.zto.com`, test `https://japi-test.zto.com`) with the headers
`x-appKey: <credentials.app_key>` and `x-dataDigest = base64(md5(body + app_secret))` — the raw
16 MD5 bytes, standard Base64, over the exact bytes sent (see `zto_digest`). The body is
`json.dumps(payload, ensure_ascii=False, separators=(",", ":"))` in UTF-8, signed and sent as
the same bytes. Answers are JSON `{"status": true|false, "statusCode", "message", "result"}`.

Settings read from `credentials.extra` (the electronic-waybill account, 电子面单账号):
- `account_id`, `account_password`: the 电子面单 account and its password (sent as
  `accountInfo` {accountId, accountPassword, type 1}; partnerType "2", 非集团客户). The password
  is treated as a secret: it is scrubbed from every message like the app secret.
- `customer_id`: a 集团客户编码 (group customer); when set, partnerType "1" and `accountInfo`
  {customerId} instead of the account above.
- `create_api`, `track_api`: override the two API names below.

Assumptions, from ZTO's own SDK (ZTO-Express/zopsdk-java), integration notes that quote ZTO's
documentation pages (open.zto.com, "zto.open.createOrder", "zto.merchant.waybill.track.query",
the public error table) and open-source clients of those APIs. Check each against the account's
own ZOP console before going live:

1. Create order: `zto.open.createOrder` (confirmed by several independent clients and the
   integration notes). Payload: `partnerType`, `orderType`, `partnerOrderCode` (our
   `carrier_order_id`), `accountInfo` (see above; left out when nothing is configured),
   `billCode` (only when `request.tracking_number` is given: the pre-allocated number of a
   label printed elsewhere), `senderInfo` {senderName, senderMobile for a Chinese mobile number
   else senderPhone, senderProvince, senderCity, senderDistrict, senderAddress}, `receiveInfo`
   {receiverName, receiverMobile|receiverPhone, receiverProvince, receiverCity,
   receiverDistrict, receiverAddress}, `summaryInfo` {quantity} and `orderItems` [{name,
   quantity, weight?}] with the weight in **grams** (integer; the documented example sends 500
   for a laptop and one client converts kg × 1000). The postal code is not sent (no such field
   in the documented example). The answer's `result.billCode` is the waybill number
   (`result.orderCode` is ZTO's own order id, not kept). An accepted order without a billCode
   falls back to the pre-allocated number, else None (logged).
2. orderType, as quoted from ZTO's field table: 1 全网件 (the shipper has a standing
   arrangement with a ZTO courier; the electronic-waybill case), 2 预约件 returning a bill code
   (ZTO dispatches a courier: 上门取件), 3 预约件 without a bill code, 4 星联全网件.
   `create_waybill` sends orderType "1"; `book_pickup` sends the same call with orderType "2".
   No pickup time window (`summaryInfo.startTime/endTime`) is sent: ZTO assigns the courier.
3. Tracking: `zto.merchant.waybill.track.query` with {"billCode": …}: one number per call
   (every client found sends a single billCode), so `tracking_batch_size` is 1. No
   `mobilePhone` (last four digits): numbers of the account's own orders need none. The answer's
   `result` is a list of traces with `scanType`, `scanDate` (epoch milliseconds in the SDK
   models; "YYYY-MM-DD HH:MM:SS" text, read as Asia/Shanghai, is accepted too), `desc`, and a
   place (`scanCity`, or `scanSite` {name, city}). Traces whose time cannot be read are skipped
   and logged; the events come back oldest first.
4. scanType (Chinese words in the query API): 收件/揽收 → picked up; 签收/第三方签收 →
   delivered; 问题件 → exception; 退件, 退回, 退件签收 (returned to the sender) → returned;
   到件, 发件, 派件 and anything else → in transit (words we have not seen are logged at INFO). Matching
   is on the whole word, so 退件签收 is not read as 签收.
5. Platform codes (HTTP 200, `status` false, `statusCode` Sxxx; ZTO's public table): S200
   (backend timeout), S202 (backend error), S203 (unavailable), S206 ("api qos limit") and
   S221 ("api qps flow limit") → CarrierRetryLater; S207 (API missing), S208 (missing
   parameter), S210 (no permission / service not bound), S211 (signature error: check the
   app secret), S212 (IP not allowed), S214 (bad timestamp) and unknown S-codes →
   CarrierGiveUp. An answer without `status` (or not JSON at all) → CarrierRetryLater.
6. Business refusals (`status` false, other codes: DEF001 no waybill account, F002 balance too
   low, …) → CarrierGiveUp with code and message. **Duplicates**: ZTO publishes no code for a
   repeated `partnerOrderCode`; we assume the refusal says so in words and read a create
   refusal as CarrierDuplicate when its message says the *order* is repeated or exists
   (重复下单, 订单…重复/已存在, partnerOrderCode…重复/已存在, "duplicate", "already exists").
   "运单号已存在" (the pre-allocated bill code is taken) is *not* a duplicate: it may belong to
   another order, so it is given up. Should ZTO instead answer a repeated partnerOrderCode with
   the existing order and `status` true, that is simply success.
7. Pushes (after subscribing a bill code with `zto.merchant.waybill.track.subsrcibe`, sic):
   ZTO POSTs form fields `data` (one route event as JSON: billCode, action, actionTime
   "YYYY-MM-DD HH:MM:SS", desc, city, facilityName, …), `data_digest`, `company_id` (our app
   key) and `msg_type` "Traces". We verified the signature against pushes captured from ZTO's
   sandbox and published with their credentials: `data_digest = base64(md5(data +
   app_secret))`, the same algorithm as requests. A missing or wrong digest, or another
   company_id, → CarrierSignatureError; msg_type other than Traces or unreadable data →
   CarrierGiveUp. `data` may also hold a list of events. Actions: GOT → picked up; SIGNED and
   DEPARTURE_SIGNED (collected at a parcel station with the pickup code) → delivered;
   PROBLEM → exception; RETURN_SCAN, RETURN_SIGNED → returned; ARRIVAL, DEPARTURE, DISPATCH, INBOUND (a
   station took it in) and HANDOVERSCAN_SIGNED (handed to a station, not yet to the customer)
   → in transit. Reply (as a public client answers): HTTP 200 JSON {"status": true,
   "statusCode": "0", "result": "success", "message": ""}, or status false / "fail" with a
   message.

Nothing here logs or raises the app key, the app secret, the waybill-account password or a
digest: answers' texts are scrubbed of them before they reach a message.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from decimal import Decimal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from .base import (
    DELIVERED,
    EXCEPTION,
    IN_TRANSIT,
    PICKED_UP,
    RETURNED,
    Address,
    Carrier,
    CarrierDuplicate,
    CarrierGiveUp,
    CarrierRefusedBusiness,
    CarrierRetryLater,
    CarrierSignatureError,
    InterceptRequest,
    InterceptResult,
    PushReply,
    TrackingEvent,
    WaybillRequest,
    WaybillResult,
)

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONTENT_TYPE = "application/json"

API_CREATE_ORDER = "zto.open.createOrder"
API_TRACK_QUERY = "zto.merchant.waybill.track.query"
# 拦截件 (unverified name; an account may name another in extra["intercept_api"]).
API_INTERCEPT = "zto.open.intercept.create"
INTERCEPT_RETURN_TO_SENDER = "1"  # its receiveType: 1 back to the sender, 2 to a new address

ORDER_TYPE_WAYBILL = "1"  # 全网件
ORDER_TYPE_PICKUP = "2"  # 预约件 (返回运单号): ZTO sends a courier

PLATFORM_RETRY = frozenset({"S200", "S202", "S203", "S206", "S221"})
PLATFORM_MEANINGS = {
    "S200": "ZTO's backend timed out",
    "S202": "ZTO's backend failed",
    "S203": "service temporarily unavailable",
    "S206": "rate limited (api qos limit)",
    "S207": "no such API",
    "S208": "a required parameter is missing",
    "S210": "no permission: the service is not bound to this app",
    "S211": "invalid signature: check the app secret",
    "S212": "this IP address is not allowed",
    "S214": "invalid timestamp",
    "S221": "rate limited (api qps flow limit)",
}
_PLATFORM_CODE = re.compile(r"^S\d{3}$")
_DUPLICATE_WORDING = re.compile(
    r"重复下单|(partnerOrderCode|订单).{0,16}(重复|已存在|已经存在)|duplicate|already exist", re.IGNORECASE
)

PICKED_UP_SCANS = frozenset({"收件", "揽收", "已揽收", "GOT"})
DELIVERED_SCANS = frozenset({"签收", "已签收", "第三方签收", "SIGNED", "DEPARTURE_SIGNED"})
EXCEPTION_SCANS = frozenset({"问题件", "PROBLEM", "RESIGN"})
# Going back to the sender, or signed for by the sender (a return is not a delivery).
RETURNED_SCANS = frozenset({"退件", "退回", "退件签收", "RETURN_SCAN", "RETURN_SIGNED"})
KNOWN_TRANSIT_SCANS = frozenset(
    {"到件", "发件", "派件", "ARRIVAL", "DEPARTURE", "DISPATCH", "INBOUND", "HANDOVERSCAN_SIGNED"}
)

MAX_PUSH_EVENTS = 100
_MOBILE = re.compile(r"^(\+?86)?1\d{10}$")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S")


def zto_digest(body: bytes | str, app_secret: str) -> str:
    """x-dataDigest (and a push's data_digest) = base64(md5(body + app_secret)), raw MD5 bytes."""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return base64.b64encode(hashlib.md5(raw + app_secret.encode("utf-8")).digest()).decode("ascii")


def scan_kind(scan_type: str) -> str:
    scan = (scan_type or "").strip()
    if scan in PICKED_UP_SCANS:
        return PICKED_UP
    if scan in DELIVERED_SCANS:
        return DELIVERED
    if scan in EXCEPTION_SCANS:
        return EXCEPTION
    if scan in RETURNED_SCANS:
        return RETURNED
    return IN_TRANSIT


def _grams(weight_kg: Decimal | None) -> int | None:
    if weight_kg is None:
        return None
    return max(1, int((Decimal(weight_kg) * 1000).to_integral_value()))


def _parse_time(value) -> dt.datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        if number > 1e11:  # epoch milliseconds (seconds would be before 1973 otherwise)
            number /= 1000
        try:
            return dt.datetime.fromtimestamp(number, tz=SHANGHAI)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None


def _place(trace: dict) -> str:
    for key in ("scanCity", "city", "scanSite", "facilityName"):
        value = trace.get(key)
        if isinstance(value, dict):
            value = value.get("city") or value.get("name")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


class ZTOExpress(Carrier):
    code = "zto"
    name = "ZTO Express"
    tracking_batch_size = 1  # zto.merchant.waybill.track.query takes one billCode

    # -- the four calls ---------------------------------------------------------------------

    def create_waybill(self, request: WaybillRequest) -> WaybillResult:
        return self._create_order(request, order_type=ORDER_TYPE_WAYBILL)

    def book_pickup(self, request: WaybillRequest) -> WaybillResult:
        return self._create_order(request, order_type=ORDER_TYPE_PICKUP)

    def query_tracking(self, tracking_numbers: list[str]) -> list[TrackingEvent]:
        api = str(self.credentials.extra.get("track_api") or API_TRACK_QUERY)
        events: list[TrackingEvent] = []
        for number in [n.strip() for n in tracking_numbers if n and n.strip()]:
            result = self._call(api, {"billCode": number}, what=f"routes of {number}")
            events += self._events(self._traces(result), default_number=number, scan_key="scanType")
        return sorted(events, key=lambda e: e.occurred_at)

    def intercept(self, request: InterceptRequest) -> InterceptResult:
        what = f"interception of {request.tracking_number}"
        api = str(self.credentials.extra.get("intercept_api") or API_INTERCEPT)
        payload = {
            "billCode": request.tracking_number,
            "requestId": request.request_id,
            "receiveType": INTERCEPT_RETURN_TO_SENDER,
            "reason": request.reason[:100],
        }
        try:
            self._call(api, payload, what=what)
        except CarrierRefusedBusiness as exc:
            return InterceptResult(accepted=False, message=exc.message)
        return InterceptResult(accepted=True, message=f"{self.name}: {what} accepted")

    def parse_push(self, *, body: bytes, headers: dict[str, str], form: dict[str, str]) -> list[TrackingEvent]:
        fields = dict(form or {})
        if not fields and body:
            fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        data = fields.get("data") or ""
        given = (fields.get("data_digest") or "").strip()
        if not data or not given:
            raise CarrierSignatureError(f"{self.name}: route push without data or data_digest")
        company = fields.get("company_id")
        if company is not None and company != self.credentials.app_key:
            raise CarrierSignatureError(f"{self.name}: push for another company_id")
        expected = zto_digest(data, self.credentials.app_secret)
        if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", errors="replace")):
            raise CarrierSignatureError(f"{self.name}: push signature does not match", code="S211")
        msg_type = fields.get("msg_type") or "Traces"
        if msg_type != "Traces":
            raise CarrierGiveUp(f"{self.name}: push msg_type {self._scrub(msg_type)[:40]!r} is not Traces")
        try:
            parsed = json.loads(data)
        except ValueError:
            raise CarrierGiveUp(f"{self.name}: push data is not JSON") from None
        items = parsed if isinstance(parsed, list) else [parsed]
        if not all(isinstance(i, dict) for i in items) or len(items) > MAX_PUSH_EVENTS:
            raise CarrierGiveUp(f"{self.name}: push data is not a route event")
        events = self._events(items, default_number="", scan_key="action")
        logger.debug("ZTO route push: %d event(s)", len(events))
        return sorted(events, key=lambda e: e.occurred_at)

    def push_reply(self, *, ok: bool, message: str = "") -> PushReply:
        if ok:
            answer = {"status": True, "statusCode": "0", "result": "success", "message": ""}
        else:
            answer = {
                "status": False,
                "statusCode": "",
                "result": "fail",
                "message": self._scrub(message or "fail")[:100],
            }
        body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        return PushReply(status=200, content_type="application/json;charset=UTF-8", body=body)

    # -- orders -----------------------------------------------------------------------------

    def _create_order(self, request: WaybillRequest, *, order_type: str) -> WaybillResult:
        what = f"{'pickup' if order_type == ORDER_TYPE_PICKUP else 'order'} {request.carrier_order_id}"
        api = str(self.credentials.extra.get("create_api") or API_CREATE_ORDER)
        result = self._call(api, self._order_payload(request, order_type=order_type), what=what, order=True)
        number = ""
        if isinstance(result, dict):
            number = str(result.get("billCode") or "").strip()
        number = number or (request.tracking_number or "")
        if not number:
            logger.info("ZTO accepted %s without a bill code", what)
        return WaybillResult(carrier_order_id=request.carrier_order_id, tracking_number=number or None)

    def _order_payload(self, request: WaybillRequest, *, order_type: str) -> dict:
        extra = self.credentials.extra
        customer_id = str(extra.get("customer_id") or "").strip()
        account_id = str(extra.get("account_id") or "").strip()
        payload: dict = {
            "partnerType": "1" if customer_id else "2",
            "orderType": order_type,
            "partnerOrderCode": request.carrier_order_id,
        }
        if customer_id:
            payload["accountInfo"] = {"customerId": customer_id}
        elif account_id:
            payload["accountInfo"] = {
                "accountId": account_id,
                "accountPassword": str(extra.get("account_password") or ""),
                "type": 1,
            }
        if request.tracking_number:
            payload["billCode"] = request.tracking_number
        payload["senderInfo"] = self._party(request.sender, "sender")
        payload["receiveInfo"] = self._party(request.receiver, "receiver")
        quantity = max(1, request.parcels)
        payload["summaryInfo"] = {"quantity": quantity}
        item: dict = {"name": request.description or "商品", "quantity": quantity}
        grams = _grams(request.weight_kg)
        if grams is not None:
            item["weight"] = grams
        payload["orderItems"] = [item]
        return payload

    @staticmethod
    def _party(address: Address, role: str) -> dict:
        phone = (address.phone or "").strip()
        compact = re.sub(r"[\s-]", "", phone)
        party = {f"{role}Name": address.name}
        if _MOBILE.match(compact):
            party[f"{role}Mobile"] = compact
        else:
            party[f"{role}Phone"] = phone
        party.update(
            {
                f"{role}Province": address.province,
                f"{role}City": address.city,
                f"{role}District": address.district,
                f"{role}Address": address.address,
            }
        )
        return party

    # -- requests ---------------------------------------------------------------------------

    def _call(self, api: str, payload: dict, *, what: str, order: bool = False):
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": CONTENT_TYPE,
            "x-appKey": self.credentials.app_key,
            "x-dataDigest": zto_digest(body, self.credentials.app_secret),
        }
        url = f"{self.credentials.endpoint.rstrip('/')}/{api}"
        answer = self._json(self._post(url, data=body, headers=headers))
        result = self._result(answer, what=what, order=order)
        logger.debug("ZTO %s: %s accepted", api, what)
        return result

    def _result(self, answer: dict, *, what: str, order: bool):
        status = answer.get("status")
        if status is None:
            raise CarrierRetryLater(f"{self.name}: unexpected answer for {what} (no status)")
        code = self._scrub(str(answer.get("statusCode") or answer.get("code") or "").strip())[:40]
        if status is True or str(status).strip().lower() == "true":
            return answer.get("result", answer.get("data"))
        message = self._scrub(str(answer.get("message") or answer.get("msg") or "").strip())[:200]
        logger.debug("ZTO refused %s (%s)", what, code or "no code")
        if _PLATFORM_CODE.match(code):
            meaning = PLATFORM_MEANINGS.get(code, "unknown platform code")
            detail = f"{code}: {meaning}" + (f"; {message}" if message else "")
            if code in PLATFORM_RETRY:
                raise CarrierRetryLater(f"{self.name}: {what} not done, try again later ({detail})", code=code)
            raise CarrierGiveUp(f"{self.name}: {what} refused ({detail})", code=code)
        detail = f"{code}: {message}" if code and message else (message or code or "no error code")
        if order and _DUPLICATE_WORDING.search(message):
            raise CarrierDuplicate(f"{self.name}: already has {what} ({detail})", code=code)
        # Not a platform code: ZTO took the call and said no for this parcel or order.
        raise CarrierRefusedBusiness(f"{self.name}: {what} refused ({detail})", code=code)

    def _secret_values(self) -> tuple[str, ...]:
        return (*super()._secret_values(), str(self.credentials.extra.get("account_password") or ""))

    # -- answers ----------------------------------------------------------------------------

    def _traces(self, result) -> list:
        if result is None:
            return []
        if isinstance(result, dict):
            for key in ("traces", "list", "result"):
                if isinstance(result.get(key), list):
                    return result[key]
            return []
        if not isinstance(result, list):
            raise CarrierRetryLater(f"{self.name}: the route answer had no list of traces")
        return result

    def _events(self, traces: list, *, default_number: str, scan_key: str) -> list[TrackingEvent]:
        events = []
        for trace in traces:
            if not isinstance(trace, dict):
                continue
            number = str(trace.get("billCode") or default_number).strip()
            if not number:
                raise CarrierGiveUp(f"{self.name}: route event without a bill code")
            scan = str(trace.get(scan_key) or trace.get("scanType") or trace.get("action") or "").strip()
            occurred_at = _parse_time(trace.get("scanDate", trace.get("actionTime")))
            if occurred_at is None:
                logger.warning("ZTO: skipped a route event (%s) of %s with an unreadable time", scan, number)
                continue
            kind = scan_kind(scan)
            if kind == IN_TRANSIT and scan not in KNOWN_TRANSIT_SCANS:
                logger.info("ZTO: scan type %r of %s read as in transit", scan, number)
            events.append(
                TrackingEvent(
                    tracking_number=number,
                    kind=kind,
                    occurred_at=occurred_at,
                    description=str(trace.get("desc") or ""),
                    location=_place(trace),
                    carrier_code=scan,
                )
            )
        return events
