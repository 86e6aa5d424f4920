"""SF Express (顺丰) through the 丰桥 open platform: orders with electronic waybills, pickups,
route queries and route pushes.

Wire format (EXTERNAL_APIS.md, "SF Express (顺丰)"): a form POST
(`application/x-www-form-urlencoded;charset=UTF-8`) to `credentials.endpoint`
(`https://sfapi.sf-express.com/std/service`, sandbox `https://sfapi-sbox.sf-express.com/std/service`)
with `partnerID` (= `credentials.app_key`, 顾客编码), `requestID` (uuid4 hex), `serviceCode`,
`timestamp` (milliseconds), `msgData` (the payload as a JSON string, UTF-8, not ASCII-escaped)
and `msgDigest = base64(md5(urlencode(msgData + timestamp + checkWord)))` with the raw 16 MD5
bytes, checkWord (校验码) = `credentials.app_secret`. See `sf_digest`.

Answers are JSON `{"apiResponseID", "apiResultCode", "apiErrorMsg", "apiResultData"}`, where
`apiResultData` is itself a JSON *string* `{"success", "errorCode", "errorMsg", "msgData"}`.

Settings read from `credentials.extra`:
- `monthly_card`: the monthly account (月结卡号, 10 digits), sent as `monthlyCard` when set.
- `express_type_id`: the product (`expressTypeId`), default 1 (顺丰特快).
- `pay_method`: `payMethod`, default 1 (寄方付, the shipper pays).

Assumptions, from SF's published API pages as copied into public repositories (the platform
code table, the RoutePushService page) and from route data captured by SF clients. Each should
be checked against the account's own 丰桥 console before going live:

1. The URL-encoding in the digest is Java's `URLEncoder.encode(s, "UTF-8")` (SF's server and SDKs
   are Java): like Python's `quote_plus` except that `*` stays as it is and `~` becomes `%7E`.
   For text without `*` and `~` the two agree (the test vector in EXTERNAL_APIS.md holds).
2. Orders: `EXP_RECE_CREATE_ORDER` with `language` "zh-CN", `orderId` (our `carrier_order_id`),
   `contactInfoList` (contactType 1 = sender, 2 = receiver; `contact`, `mobile` for a Chinese
   mobile number else `tel`, `province`, `city`, `county`, `address`, `postCode` when known),
   `cargoDetails` [{name, count, unit "件", weight?}], `parcelQty`, `totalWeight` (kg) when known,
   `expressTypeId`, `payMethod`, `monthlyCard`, `isDocall` (0 for a waybill, 1 for a pickup,
   which makes SF dispatch a courier), and `waybillNoInfoList` [{"waybillType": 1, "waybillNo"}]
   when the label was printed elsewhere (a pre-allocated SF number). The answer's
   `msgData.waybillNoInfoList` gives the number (the waybillType 1 entry, else the first); an
   accepted order without one (SF still reviewing it, filterResult 1) returns no number, and so
   does a duplicate (see 4).
3. Platform codes (`apiResultCode`): A1000 accepted; A1005 (rate limit), A1009 (target service
   failed or unreachable) and A1099 (system exception) → CarrierRetryLater; A1007 (duplicate
   request: "orderId must not be reused") → CarrierDuplicate for orders, CarrierGiveUp otherwise;
   A1001 (missing parameter), A1002/A1011 (OAuth token, not used here), A1003 (IP not allowed),
   A1004 (no permission for the service / wrong environment), A1006 (invalid signature, i.e. a
   wrong checkWord), A1008 (decryption failed), A1010 (account still in sandbox state) and any
   code not listed → CarrierGiveUp. An answer without `apiResultCode`, or an A1000 whose
   `apiResultData` is not JSON, → CarrierRetryLater (like a garbled page from a proxy).
4. Business codes (`errorCode` when `success` is not true): 8016 (重复下单, duplicate orderId) →
   CarrierDuplicate (the caller treats it as success: our orderIds are derived from our
   shipment, so a duplicate means an earlier attempt got through); S0003 (系统发生数据错误或运行时
   异常, a runtime error on SF's side) → CarrierRetryLater; everything else (10xx missing fields,
   6126/8119 monthly card, 8003 too many numbers, …) → CarrierGiveUp with code and message.
5. Routes: `EXP_RECE_SEARCH_ROUTES` with `language` "0" (Chinese), `trackingType` "1" (by
   waybill number), `trackingNumber` (at most 10 numbers; longer lists are split into several
   calls) and `methodType` "1" (all routes). No `checkPhoneNo`: numbers of the account's own
   orders need none (numbers of other accounts would, and are not supported). The answer's
   `msgData.routeResps[]` carry `mailNo` and `routes[]` with `acceptTime` ("YYYY-MM-DD HH:MM:SS",
   read as Asia/Shanghai), `acceptAddress`, `remark` and `opCode`.
6. Operation codes (opCode): 50 and 54 (顺丰速运 已收取快件) → picked up; 80 (已签收) and 8000
   (the "see the signature picture" note that follows 80) → delivered; 33, 70 and 99
   (delivery failed / held — **unverified**, SF publishes this list only to customers) →
   exception; 648 (退回/转寄, the parcel goes back with a new waybill number — **unverified**)
   → returned; everything else → in transit, and codes we have not seen in real
   routes are logged at INFO. **44 is not "delivered"**: in every captured SF route it is the
   out-for-delivery step ("正在派送途中,请您准备签收", "正在派件..", "正在为您的快件分配最合适的
   快递员"), followed by 204 (handed to the courier) and only then by 80. Reading it as delivered
   would mark orders delivered hours early, so it maps to in transit.
7. Pushes. SF's RoutePushService page documents two ways SF POSTs routes to the URL registered
   in 丰桥, *neither signed*: JSON (`application/json;charset=UTF-8`, body
   `{"Body": {"WaybillRoute": [{mailno, orderid, acceptTime, acceptAddress, remark, opCode, id,
   reasonCode, reasonName, …}]}}`, at most 10 routes, reply `{"return_code": "0000",
   "return_msg": "成功"}` or `{"return_code": "1000", "return_msg": …}`) and "form" (a `content`
   field holding URL-encoded XML, reply XML OK/ERR). A project that tested against SF's sandbox
   reports the same: no msgDigest, no timestamp, no signature header.
   Because an unsigned push would let anyone who knows the URL mark orders delivered, we accept
   only pushes signed the way SF signs requests: the form fields `partnerID` (must be ours),
   `requestID`, `serviceCode`, `timestamp`, `msgData` (the JSON above; a bare
   `{"WaybillRoute": …}` or a single route object is read too) and `msgDigest` =
   `sf_digest(msgData, timestamp, checkWord)` — what a relay in front of us, or SF if it ever
   signs pushes, would send. An unsigned push (SF's documented JSON), a wrong digest or another
   partnerID → CarrierSignatureError, so the view answers 401 and tracking falls back to polling.
   The timestamp is not checked for age (events are idempotent on our side). Replies always use
   the JSON form of the documented answer.
8. Return labels. SF's public SDKs also list `EXP_RECE_CREATE_REVERSE_ORDER` (退货下单), but
   their own comments call it 仓配退货下单, a service of SF's warehousing customers, so a return
   is an ordinary `EXP_RECE_CREATE_ORDER` with the roles swapped: the buyer is the sender
   (contactType 1), the warehouse the receiver (contactType 2), `isDocall` 1 (a courier collects
   from the buyer), `remark` "退货", no pre-allocated number (SF assigns one), and no special
   return flag or waybillType (we found none documented for ordinary orders). Who pays:
   a prepaid label (the merchant pays) sends `payMethod` = `extra["return_pay_method"]`,
   default 2 (收方付: the receiver, our warehouse, pays) with the monthly card; otherwise
   `payMethod` 1 (寄方付: the buyer pays the courier) and no monthly card. A duplicate orderId
   (8016 / A1007: an earlier attempt got through) is answered by reading that order back with
   `EXP_RECE_SEARCH_ORDER_RESP` (`orderId`, `searchType` "1", `language`), whose `msgData`
   carries the same `waybillNoInfoList`; an order SF accepted without a number yet is retried
   later.

Nothing here logs or raises the partnerID, the checkWord or a digest: SF's error texts are
scrubbed of both credentials before they reach a message.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from decimal import Decimal
from urllib.parse import parse_qsl, quote_plus, urlencode
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
CONTENT_TYPE = "application/x-www-form-urlencoded;charset=UTF-8"

SERVICE_CREATE_ORDER = "EXP_RECE_CREATE_ORDER"
SERVICE_SEARCH_ROUTES = "EXP_RECE_SEARCH_ROUTES"
SERVICE_SEARCH_ORDER = "EXP_RECE_SEARCH_ORDER_RESP"
# 截单转寄退回 (unverified name; an account may name another in extra["intercept_service_code"]).
SERVICE_INTERCEPT = "EXP_RECE_WANTED_INTERCEPT"
INTERCEPT_RETURN_TO_SENDER = "2"  # its serviceCode: 1 forward to a new address, 2 return to the sender

PLATFORM_OK = "A1000"
PLATFORM_DUPLICATE = "A1007"
PLATFORM_RETRY = frozenset({"A1005", "A1009", "A1099"})
PLATFORM_MEANINGS = {
    "A1001": "a required parameter is missing",
    "A1002": "the access token expired",
    "A1003": "this IP address is not allowed",
    "A1004": "no permission for this service (or sandbox/production mix-up)",
    "A1005": "rate limited",
    "A1006": "invalid signature: check the checkWord",
    "A1007": "duplicate request",
    "A1008": "decryption failed",
    "A1009": "SF's service failed or is unreachable",
    "A1010": "the account is still in sandbox state",
    "A1011": "OAuth2 authentication failed",
    "A1099": "SF system exception",
}
BUSINESS_OK = "S0000"
BUSINESS_DUPLICATE = "8016"
BUSINESS_RETRY = frozenset({"S0003"})

PICKED_UP_CODES = frozenset({"50", "54"})
DELIVERED_CODES = frozenset({"80", "8000"})
EXCEPTION_CODES = frozenset({"33", "70", "99"})  # unverified
RETURNED_CODES = frozenset({"648"})  # unverified
# In-transit codes seen in real SF routes; other codes are logged when met.
KNOWN_TRANSIT_CODES = frozenset(
    {"30", "31", "36", "44", "105", "106", "123", "130", "204", "310", "407", "501", "3036"}
)

MAX_PUSH_ROUTES = 100  # SF sends at most 10; anything far beyond that is not a route push
_MOBILE = re.compile(r"^(\+?86)?1\d{10}$")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S")


def java_urlencode(text: str) -> str:
    """Java's URLEncoder.encode(text, "UTF-8"): quote_plus, but `*` kept and `~` escaped."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def sf_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    """msgDigest = base64(md5(urlencode(msgData + timestamp + checkWord))), raw MD5 bytes."""
    encoded = java_urlencode(f"{msg_data}{timestamp}{check_word}")
    return base64.b64encode(hashlib.md5(encoded.encode("utf-8")).digest()).decode("ascii")


def op_code_kind(op_code: str) -> str:
    code = (op_code or "").strip()
    if code in PICKED_UP_CODES:
        return PICKED_UP
    if code in DELIVERED_CODES:
        return DELIVERED
    if code in EXCEPTION_CODES:
        return EXCEPTION
    if code in RETURNED_CODES:
        return RETURNED
    return IN_TRANSIT


def _phone_fields(phone: str) -> dict:
    phone = (phone or "").strip()
    compact = re.sub(r"[\s-]", "", phone)
    return {"mobile": compact} if _MOBILE.match(compact) else {"tel": phone}


def _kg(weight_kg: Decimal | None) -> float | None:
    if weight_kg is None:
        return None
    return float(Decimal(weight_kg).quantize(Decimal("0.001")))


def _parse_time(value) -> dt.datetime | None:
    text = str(value or "").strip()
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None


class SFExpress(Carrier):
    code = "sf"
    name = "SF Express"
    tracking_batch_size = 10

    # -- the four calls ---------------------------------------------------------------------

    def create_waybill(self, request: WaybillRequest) -> WaybillResult:
        return self._create_order(request, docall=False)

    def book_pickup(self, request: WaybillRequest) -> WaybillResult:
        return self._create_order(request, docall=True)

    def create_return_label(self, request: WaybillRequest, *, prepaid: bool) -> WaybillResult:
        what = f"return {request.carrier_order_id}"
        payload = self._order_payload(request, docall=True)
        payload["remark"] = "退货"
        if prepaid:
            payload["payMethod"] = int(self.credentials.extra.get("return_pay_method") or 2)
        else:
            payload["payMethod"] = 1
            payload.pop("monthlyCard", None)
        payload.pop("waybillNoInfoList", None)
        try:
            data = self._call(SERVICE_CREATE_ORDER, payload, what=what, order=True)
        except CarrierDuplicate:
            return self._order_read_back(request.carrier_order_id, what=what)
        number = self._waybill_number(data)
        if not number:
            raise CarrierRetryLater(f"{self.name}: {what} accepted without a waybill number yet")
        return WaybillResult(carrier_order_id=request.carrier_order_id, tracking_number=number)

    def intercept(self, request: InterceptRequest) -> InterceptResult:
        what = f"interception of {request.tracking_number}"
        service = str(self.credentials.extra.get("intercept_service_code") or SERVICE_INTERCEPT)
        payload = {
            "waybillNo": request.tracking_number,
            "serviceCode": INTERCEPT_RETURN_TO_SENDER,
            "role": "1",  # asked by the sender
            "payMode": "4",  # the sender's monthly account pays the return
            "monthlyCardNo": self.credentials.extra.get("monthly_card") or None,
            "remark": request.reason[:100],
        }
        try:
            self._call(service, {k: v for k, v in payload.items() if v is not None}, what=what)
        except CarrierRefusedBusiness as exc:
            return InterceptResult(accepted=False, message=exc.message)
        return InterceptResult(accepted=True, message=f"{self.name}: {what} accepted")

    def query_tracking(self, tracking_numbers: list[str]) -> list[TrackingEvent]:
        numbers = [n.strip() for n in tracking_numbers if n and n.strip()]
        events: list[TrackingEvent] = []
        size = self.tracking_batch_size
        for start in range(0, len(numbers), size):
            batch = numbers[start : start + size]
            payload = {"language": "0", "trackingType": "1", "trackingNumber": batch, "methodType": "1"}
            data = self._call(SERVICE_SEARCH_ROUTES, payload, what=f"routes of {len(batch)} waybill(s)")
            answers = data.get("routeResps")
            if answers is None:
                answers = []
            if not isinstance(answers, list):
                raise CarrierRetryLater(f"{self.name}: the route answer had no routeResps list")
            for answer in answers:
                if not isinstance(answer, dict):
                    continue
                number = str(answer.get("mailNo") or "").strip()
                events += self._events(answer.get("routes"), default_number=number)
        return sorted(events, key=lambda e: e.occurred_at)

    def parse_push(self, *, body: bytes, headers: dict[str, str], form: dict[str, str]) -> list[TrackingEvent]:
        fields = dict(form or {})
        content_type = {k.lower(): v for k, v in (headers or {}).items()}.get("content-type", "")
        if not fields and body and not content_type.lower().startswith("application/json"):
            fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        msg_data = fields.get("msgData") or ""
        given = (fields.get("msgDigest") or "").strip()
        if not given or not msg_data:
            raise CarrierSignatureError(
                f"{self.name}: unsigned route push (no msgData/msgDigest); SF's own JSON pushes are not accepted"
            )
        partner = fields.get("partnerID")
        if partner is not None and partner != self.credentials.app_key:
            raise CarrierSignatureError(f"{self.name}: push for another partnerID")
        expected = sf_digest(msg_data, fields.get("timestamp") or "", self.credentials.app_secret)
        if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", errors="replace")):
            raise CarrierSignatureError(f"{self.name}: push signature does not match", code="A1006")
        try:
            data = json.loads(msg_data)
        except ValueError:
            raise CarrierGiveUp(f"{self.name}: push msgData is not JSON", code="S0001") from None
        routes = self._push_routes(data)
        events = self._events(routes, default_number="")
        logger.debug("SF route push: %d event(s)", len(events))
        return sorted(events, key=lambda e: e.occurred_at)

    def push_reply(self, *, ok: bool, message: str = "") -> PushReply:
        if ok:
            answer = {"return_code": "0000", "return_msg": "成功"}
        else:
            answer = {"return_code": "1000", "return_msg": self._scrub(message or "系统异常")[:100]}
        body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        return PushReply(status=200, content_type="application/json;charset=UTF-8", body=body)

    # -- orders -----------------------------------------------------------------------------

    def _create_order(self, request: WaybillRequest, *, docall: bool) -> WaybillResult:
        what = f"{'pickup' if docall else 'order'} {request.carrier_order_id}"
        data = self._call(SERVICE_CREATE_ORDER, self._order_payload(request, docall=docall), what=what, order=True)
        number = self._waybill_number(data) or (request.tracking_number or None)
        if number is None:
            logger.info("SF accepted %s without a waybill number yet", what)
        return WaybillResult(carrier_order_id=request.carrier_order_id, tracking_number=number)

    def _order_payload(self, request: WaybillRequest, *, docall: bool) -> dict:
        extra = self.credentials.extra
        cargo: dict = {"name": request.description or "商品", "count": max(1, request.parcels), "unit": "件"}
        weight = _kg(request.weight_kg)
        if weight is not None:
            cargo["weight"] = weight
        payload: dict = {
            "language": "zh-CN",
            "orderId": request.carrier_order_id,
            "contactInfoList": [self._contact(request.sender, 1), self._contact(request.receiver, 2)],
            "cargoDetails": [cargo],
            "parcelQty": max(1, request.parcels),
            "expressTypeId": int(extra.get("express_type_id") or 1),
            "payMethod": int(extra.get("pay_method") or 1),
            "isDocall": 1 if docall else 0,
        }
        if weight is not None:
            payload["totalWeight"] = weight
        if monthly_card := str(extra.get("monthly_card") or "").strip():
            payload["monthlyCard"] = monthly_card
        if request.tracking_number:
            payload["waybillNoInfoList"] = [{"waybillType": 1, "waybillNo": request.tracking_number}]
        return payload

    def _order_read_back(self, carrier_order_id: str, *, what: str) -> WaybillResult:
        """The order an earlier attempt created, with the number SF gave it."""
        payload = {"orderId": carrier_order_id, "searchType": "1", "language": "zh-CN"}
        data = self._call(SERVICE_SEARCH_ORDER, payload, what=f"the earlier {what}")
        number = self._waybill_number(data)
        if not number:
            raise CarrierRetryLater(f"{self.name}: SF has {what} but no waybill number for it yet")
        return WaybillResult(carrier_order_id=carrier_order_id, tracking_number=number, already_existed=True)

    @staticmethod
    def _contact(address: Address, contact_type: int) -> dict:
        contact = {
            "contactType": contact_type,
            "contact": address.name,
            **_phone_fields(address.phone),
            "province": address.province,
            "city": address.city,
            "county": address.district,
            "address": address.address,
        }
        if address.postal_code:
            contact["postCode"] = address.postal_code
        return contact

    @staticmethod
    def _waybill_number(data: dict) -> str:
        entries = [e for e in (data.get("waybillNoInfoList") or []) if isinstance(e, dict)]
        main = [e for e in entries if str(e.get("waybillType", "1")) == "1"]
        for entry in main + entries:
            if number := str(entry.get("waybillNo") or "").strip():
                return number
        return ""

    # -- requests ---------------------------------------------------------------------------

    def _call(self, service_code: str, payload: dict, *, what: str, order: bool = False) -> dict:
        msg_data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        timestamp = str(int(time.time() * 1000))
        form = {
            "partnerID": self.credentials.app_key,
            "requestID": uuid.uuid4().hex,
            "serviceCode": service_code,
            "timestamp": timestamp,
            "msgData": msg_data,
            "msgDigest": sf_digest(msg_data, timestamp, self.credentials.app_secret),
        }
        response = self._post(
            self.credentials.endpoint,
            data=urlencode(form).encode("ascii"),
            headers={"Content-Type": CONTENT_TYPE},
        )
        answer = self._json(response)
        result = self._platform_result(answer, what=what, order=order)
        data = self._business_result(result, what=what)
        logger.debug("SF %s: %s accepted", service_code, what)
        return data

    def _platform_result(self, answer: dict, *, what: str, order: bool) -> dict:
        code = self._scrub(str(answer.get("apiResultCode") or "").strip())
        if not code:
            raise CarrierRetryLater(f"{self.name}: unexpected answer for {what} (no apiResultCode)")
        if code != PLATFORM_OK:
            message = self._scrub(str(answer.get("apiErrorMsg") or "").strip())[:200]
            meaning = PLATFORM_MEANINGS.get(code, "unknown platform code")
            detail = f"{code}: {meaning}" + (f"; {message}" if message else "")
            logger.debug("SF platform refused %s (%s)", what, code)
            if code in PLATFORM_RETRY:
                raise CarrierRetryLater(f"{self.name}: {what} not done, try again later ({detail})", code=code)
            if code == PLATFORM_DUPLICATE and order:
                raise CarrierDuplicate(f"{self.name}: already has {what} ({detail})", code=code)
            raise CarrierGiveUp(f"{self.name}: {what} refused ({detail})", code=code)
        raw = answer.get("apiResultData")
        if isinstance(raw, dict):
            return raw
        try:
            result = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            result = None
        if not isinstance(result, dict):
            raise CarrierRetryLater(f"{self.name}: the answer for {what} carried no readable apiResultData")
        return result

    def _business_result(self, result: dict, *, what: str) -> dict:
        success = result.get("success")
        if success is True or str(success).strip().lower() == "true":
            data = result.get("msgData")
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    data = None
            return data if isinstance(data, dict) else {}
        code = self._scrub(str(result.get("errorCode") or "").strip())
        message = self._scrub(str(result.get("errorMsg") or "").strip())[:200]
        detail = f"{code}: {message}" if message else (code or "no error code")
        logger.debug("SF refused %s (%s)", what, code or "no code")
        if code == BUSINESS_DUPLICATE:
            raise CarrierDuplicate(f"{self.name}: already has {what} ({detail})", code=code)
        if code in BUSINESS_RETRY:
            raise CarrierRetryLater(f"{self.name}: {what} failed on SF's side, try again later ({detail})", code=code)
        # The platform took the call and SF said no for this parcel or order.
        raise CarrierRefusedBusiness(f"{self.name}: {what} refused ({detail})", code=code)

    # -- answers ----------------------------------------------------------------------------

    def _push_routes(self, data) -> list:
        if isinstance(data, dict) and isinstance(data.get("Body"), dict):
            data = data["Body"]
        if isinstance(data, dict) and "WaybillRoute" in data:
            data = data["WaybillRoute"]
        if isinstance(data, dict) and ("mailno" in data or "mailNo" in data):
            data = [data]
        if not isinstance(data, list):
            raise CarrierGiveUp(f"{self.name}: push msgData has no WaybillRoute list", code="S0002")
        if len(data) > MAX_PUSH_ROUTES:
            raise CarrierGiveUp(f"{self.name}: push with {len(data)} routes refused", code="S0002")
        return data

    def _events(self, routes, *, default_number: str) -> list[TrackingEvent]:
        events = []
        for route in routes if isinstance(routes, list) else []:
            if not isinstance(route, dict):
                continue
            number = str(route.get("mailno") or route.get("mailNo") or default_number).strip()
            op_code = str(route.get("opCode") or route.get("opcode") or "").strip()
            if not number:
                raise CarrierGiveUp(f"{self.name}: route without a waybill number (mailno)")
            occurred_at = _parse_time(route.get("acceptTime"))
            if occurred_at is None:
                logger.warning("SF: skipped a route (opCode %s) of %s with an unreadable acceptTime", op_code, number)
                continue
            kind = op_code_kind(op_code)
            if kind == IN_TRANSIT and op_code not in KNOWN_TRANSIT_CODES:
                logger.info("SF: opCode %r of %s read as in transit", op_code, number)
            events.append(
                TrackingEvent(
                    tracking_number=number,
                    kind=kind,
                    occurred_at=occurred_at,
                    description=str(route.get("remark") or ""),
                    location=str(route.get("acceptAddress") or ""),
                    carrier_code=op_code,
                )
            )
        return events
