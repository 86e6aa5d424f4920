"""Cainiao (菜鸟) LINK gateway: electronic waybills, pickups, logistics traces and trace pushes.

Wire format (EXTERNAL_APIS.md, "Cainiao (菜鸟) — LINK gateway"): a form POST
(`application/x-www-form-urlencoded; charset=UTF-8`) to `credentials.endpoint` with
`msg_type`, `logistic_provider_id` (= `credentials.app_key`), `to_code` (=
`credentials.extra["to_code"]`, left out when empty), `logistics_interface` (the payload as a
JSON string, UTF-8, not ASCII-escaped) and
`data_digest = base64(md5(logistics_interface + app_secret).digest())` — the raw 16 MD5 bytes,
not the hex string. Answers are JSON with `success` ("true"/"false", strings; booleans are
accepted too), `errorCode`, `errorMsg` and the payload's own fields.

Settings read from `credentials.extra`:
- `to_code`: the target partner code, sent only when set.
- `cp_code`: the express company (cpCode, e.g. "YTO", "ZTO") whose waybills the account
  uses; required for waybills, sent with pickups and trace queries when set.
- `template_url`: the cloud-print template URL sent with TMS_WAYBILL_GET (optional).
- `order_channels_type`: orderInfo.orderChannelsType, default "OTHERS".
- `pickup_item_id`: the pickup product (itemId) for GUOGUO_CREATE_SEND_ORDER (optional).
- `pickup_msg_type`, `trace_msg_type`: override the two least certain API names below.

Assumptions (researched in public SDKs and clients of LINK; each should be confirmed against
the account's own LINK console before going live):
1. Waybill: `TMS_WAYBILL_GET` (电子面单云打印取号). Payload as in the .NET/Java "pac" SDKs:
   `cpCode`, `sender` {name, mobile|phone, address {province, city, district, detail}},
   `tradeOrderInfoDtos` [{objectId, orderInfo {orderChannelsType, tradeOrderList},
   packageInfo {id, items [{name, count}], weight (grams)}, recipient, templateUrl}]. The
   answer's `waybillCloudPrintResponseList[]` carries objectId, waybillCode and printData; we
   keep only the waybill code (WaybillResult has no place for print data). objectId is our
   `carrier_order_id`.
2. Upload of a label printed elsewhere (request.tracking_number given): `TMS_WAYBILL_UPDATE`
   (电子面单云打印更新) with `cpCode`, `waybillCode`, `objectId`, `sender`, `recipient`,
   `packageInfo`. This only works for waybill codes issued through the same Cainiao account
   (e.g. by the warehouse's own Cainiao print client); a label from another system cannot be
   "uploaded" to Cainiao.
3. Pickup (预约上门取件): `GUOGUO_CREATE_SEND_ORDER` (菜鸟裹裹寄件下单), the name used by an
   open-source pickup client. Assumed payload: `outOrderInfoList` [{outOrderId}],
   `senderInfo`/`receiverInfo` {name, mobile|phone, provinceName, cityName, areaName, address,
   fullAddressDetail}, `weight` (kg), optional `cpCode` and `itemId`; answer `data` {orderId,
   mailNo, gotCode}. That client also wraps the payload in {"request": …, "accessOption":
   {"accessCode": …}}; we do not (no access code in our credentials). Least verified of all:
   override with extra["pickup_msg_type"].
4. Trace query: `LOGISTICS_TRACE_QUERY` (no public source confirms the name; override with
   extra["trace_msg_type"]). One call per tracking number, payload {mailNo, cpCode?}. The
   answer's event list is read from `logisticsTraceDetailList` (also `fullTraceDetail`,
   `traceDetailList`, `traces` or a single `traceDetail`), each event with `time`
   ("yyyy-MM-dd HH:mm:ss", Asia/Shanghai unless the event names an IANA `timeZone`; epoch
   milliseconds accepted), `action` (or `actionCode`/`status`), `desc` (or `standardDesc`/
   `customerizedDesc`) and a place (`city`, `areaName`, `facilityName` or `location`).
   Events whose time cannot be read are skipped and logged.
5. Actions: GOT/ACCEPT/TMS_ACCEPT/COLLECTED → picked up; SIGN/SIGNED/TMS_SIGN/STA_SIGN/
   DELIVERED → delivered; FAILED/SIGN_FAILED/TMS_FAILED/REJECT/REJECTED/TMS_REJECT/ERROR/
   EXCEPTION → exception; RETURN/TMS_RETURN → returned (to the sender); anything else → in
   transit (unknown codes logged).
6. Error codes, after the Taobao/Cainiao logistics EDI table (S01 invalid JSON/XML, S02 invalid
   signature, S03 unknown company, S04 unknown message type, S05 invalid content, S06 network
   timeout, retry, S07 system error, retry, S08 unknown platform): S02 → CarrierGiveUp;
   S06, S07, SYSTEM_ERROR, SYSTEM_BUSY, SERVICE_BUSY, SERVICE_UNAVAILABLE, TIMEOUT →
   CarrierRetryLater; OBJECT_ID_DUPLICATE, DUPLICATE_OBJECT_ID, ORDER_DUPLICATE,
   ORDER_EXIST, OUT_ORDER_ID_DUPLICATE → CarrierDuplicate (the duplicate code is a guess; the
   real gateway may instead answer a repeated objectId with the same waybill code, which we
   also handle, as success); anything else → CarrierGiveUp with the code and message.
   (S01 is malformed content, so it is *not* retried.)
7. Pushes: Cainiao POSTs the same four form fields; we check `data_digest` over
   `logistics_interface` with our secret (CarrierSignatureError on a mismatch or when it is
   missing) and read events as in 4, with `mailNo` at the top (or per event). The message type
   and the provider id of a push are not checked. Reply: HTTP 200, JSON {"success": "true"}
   or {"success": "false", "errorCode": "ERROR", "errorMsg": …}.

Nothing here logs or raises the app key, the secret or a digest: answers' texts are scrubbed
of both credentials before they reach a message.
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
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    CarrierRetryLater,
    CarrierSignatureError,
    PushReply,
    TrackingEvent,
    WaybillRequest,
    WaybillResult,
)

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"

MSG_WAYBILL_GET = "TMS_WAYBILL_GET"
MSG_WAYBILL_UPDATE = "TMS_WAYBILL_UPDATE"
MSG_PICKUP = "GUOGUO_CREATE_SEND_ORDER"
MSG_TRACE_QUERY = "LOGISTICS_TRACE_QUERY"

SIGNATURE_CODES = frozenset({"S02"})
RETRY_CODES = frozenset({"S06", "S07", "SYSTEM_ERROR", "SYSTEM_BUSY", "SERVICE_BUSY", "SERVICE_UNAVAILABLE", "TIMEOUT"})
DUPLICATE_CODES = frozenset(
    {"OBJECT_ID_DUPLICATE", "DUPLICATE_OBJECT_ID", "ORDER_DUPLICATE", "ORDER_EXIST", "OUT_ORDER_ID_DUPLICATE"}
)

ACTION_KINDS = {
    **dict.fromkeys(("GOT", "ACCEPT", "TMS_ACCEPT", "COLLECTED"), PICKED_UP),
    **dict.fromkeys(("SIGN", "SIGNED", "TMS_SIGN", "STA_SIGN", "DELIVERED"), DELIVERED),
    **dict.fromkeys(
        (
            "FAILED",
            "SIGN_FAILED",
            "TMS_FAILED",
            "REJECT",
            "REJECTED",
            "TMS_REJECT",
            "ERROR",
            "EXCEPTION",
        ),
        EXCEPTION,
    ),
    **dict.fromkeys(("RETURN", "TMS_RETURN"), RETURNED),
}
# Everything else is a movement between sites; these are the ones we expect and do not log.
KNOWN_TRANSIT_ACTIONS = frozenset(
    {"ARRIVAL", "DEPARTURE", "TRANSPORT", "SENT_SCAN", "DELIVERING", "TMS_STATION_IN", "TMS_STATION_OUT"}
)

_EVENT_LISTS = ("logisticsTraceDetailList", "fullTraceDetail", "traceDetailList", "traces")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_MOBILE = re.compile(r"^(\+?86)?1\d{10}$")


def cainiao_digest(content: str, secret: str) -> str:
    """data_digest = base64(md5(content + secret)) over UTF-8, raw digest bytes."""
    return base64.b64encode(hashlib.md5((content + secret).encode("utf-8")).digest()).decode("ascii")


def action_kind(action: str) -> str:
    return ACTION_KINDS.get((action or "").strip().upper(), IN_TRANSIT)


def _is_true(value) -> bool:
    return value is True or str(value).strip().lower() == "true"


def _phone_fields(phone: str) -> dict:
    phone = (phone or "").strip()
    compact = re.sub(r"[\s-]", "", phone)
    return {"mobile": compact} if _MOBILE.match(compact) else {"phone": phone}


def _grams(weight_kg: Decimal | None) -> int | None:
    if weight_kg is None:
        return None
    return max(1, int((Decimal(weight_kg) * 1000).to_integral_value()))


class Cainiao(Carrier):
    code = "cainiao"
    name = "Cainiao"
    tracking_batch_size = 10

    # -- the four calls ---------------------------------------------------------------------

    def create_waybill(self, request: WaybillRequest) -> WaybillResult:
        cp_code = self._cp_code(required=True)
        if request.tracking_number:
            return self._waybill_update(request, cp_code)
        payload = {
            "cpCode": cp_code,
            "sender": self._user_info(request.sender),
            "tradeOrderInfoDtos": [self._trade_order_info(request)],
        }
        data = self._call(MSG_WAYBILL_GET, payload, what=f"waybill for {request.carrier_order_id}")
        answers = data.get("waybillCloudPrintResponseList")
        if not isinstance(answers, list) or not answers:
            raise CarrierRetryLater(f"{self.name}: the waybill answer had no waybillCloudPrintResponseList")
        mine = [a for a in answers if isinstance(a, dict) and a.get("objectId") == request.carrier_order_id]
        entry = (mine or [a for a in answers if isinstance(a, dict)] or [{}])[0]
        waybill_code = str(entry.get("waybillCode") or "").strip()
        if not waybill_code:
            raise CarrierRetryLater(f"{self.name}: the waybill answer had no waybillCode")
        return WaybillResult(carrier_order_id=request.carrier_order_id, tracking_number=waybill_code)

    def book_pickup(self, request: WaybillRequest) -> WaybillResult:
        payload: dict = {
            "outOrderInfoList": [{"outOrderId": request.carrier_order_id}],
            "senderInfo": self._pickup_address(request.sender),
            "receiverInfo": self._pickup_address(request.receiver),
        }
        if request.weight_kg is not None:
            payload["weight"] = float(request.weight_kg)
        if cp_code := self._cp_code(required=False):
            payload["cpCode"] = cp_code
        if item_id := str(self.credentials.extra.get("pickup_item_id") or ""):
            payload["itemId"] = item_id
        msg_type = self.credentials.extra.get("pickup_msg_type") or MSG_PICKUP
        data = self._call(msg_type, payload, what=f"pickup for {request.carrier_order_id}")
        body = data.get("data") if isinstance(data.get("data"), dict) else data
        mail_no = str(body.get("mailNo") or "").strip() or request.tracking_number
        return WaybillResult(carrier_order_id=request.carrier_order_id, tracking_number=mail_no or None)

    def query_tracking(self, tracking_numbers: list[str]) -> list[TrackingEvent]:
        msg_type = self.credentials.extra.get("trace_msg_type") or MSG_TRACE_QUERY
        cp_code = self._cp_code(required=False)
        events: list[TrackingEvent] = []
        for number in tracking_numbers:
            payload = {"mailNo": number}
            if cp_code:
                payload["cpCode"] = cp_code
            data = self._call(msg_type, payload, what=f"trace of {number}")
            events += self._events(data, default_number=number)
        return sorted(events, key=lambda e: e.occurred_at)

    def parse_push(self, *, body: bytes, headers: dict[str, str], form: dict[str, str]) -> list[TrackingEvent]:
        fields = dict(form or {})
        if not fields and body:
            fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        content = fields.get("logistics_interface") or ""
        given = (fields.get("data_digest") or "").strip()
        if not given or not content:
            raise CarrierSignatureError(f"{self.name}: push without logistics_interface or data_digest")
        expected = cainiao_digest(content, self.credentials.app_secret)
        if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", errors="replace")):
            raise CarrierSignatureError(f"{self.name}: push signature does not match", code="S02")
        try:
            data = json.loads(content)
        except ValueError:
            raise CarrierGiveUp(f"{self.name}: push logistics_interface is not JSON", code="S01") from None
        if not isinstance(data, dict):
            raise CarrierGiveUp(f"{self.name}: push logistics_interface is not a JSON object", code="S01")
        events = self._events(data, default_number=str(data.get("mailNo") or "").strip())
        logger.debug("Cainiao push %s: %d event(s)", fields.get("msg_type", ""), len(events))
        return sorted(events, key=lambda e: e.occurred_at)

    def push_reply(self, *, ok: bool, message: str = "") -> PushReply:
        if ok:
            answer = {"success": "true"}
        else:
            answer = {"success": "false", "errorCode": "ERROR", "errorMsg": self._scrub(message or "rejected")}
        body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        return PushReply(status=200, content_type="application/json;charset=UTF-8", body=body)

    # -- requests ---------------------------------------------------------------------------

    def _call(self, msg_type: str, payload: dict, *, what: str) -> dict:
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        form = {"msg_type": msg_type, "logistic_provider_id": self.credentials.app_key}
        if to_code := str(self.credentials.extra.get("to_code") or ""):
            form["to_code"] = to_code
        form["logistics_interface"] = content
        form["data_digest"] = cainiao_digest(content, self.credentials.app_secret)
        response = self._post(
            self.credentials.endpoint,
            data=urlencode(form).encode("ascii"),
            headers={"Content-Type": CONTENT_TYPE},
        )
        data = self._json(response)
        self._check(data, what=what)
        logger.debug("Cainiao %s: %s accepted", msg_type, what)
        return data

    def _check(self, data: dict, *, what: str) -> None:
        if _is_true(data.get("success")):
            return
        code = self._scrub(str(data.get("errorCode") or "").strip())
        message = self._scrub(str(data.get("errorMsg") or "").strip())[:200]
        detail = f"{code}: {message}" if message else code
        logger.debug("Cainiao refused %s (%s)", what, code or "no code")
        if not code and "success" not in data:
            raise CarrierRetryLater(f"{self.name}: unexpected answer for {what}")
        if code in SIGNATURE_CODES:
            raise CarrierGiveUp(f"{self.name}: signature refused for {what} ({detail})", code=code)
        if code in RETRY_CODES:
            raise CarrierRetryLater(f"{self.name}: busy, {what} not done ({detail})", code=code)
        if code in DUPLICATE_CODES:
            raise CarrierDuplicate(f"{self.name}: already has {what} ({detail})", code=code)
        raise CarrierGiveUp(f"{self.name}: {what} refused ({detail or 'no error code'})", code=code)

    def _cp_code(self, *, required: bool) -> str:
        cp_code = str(self.credentials.extra.get("cp_code") or "").strip()
        if required and not cp_code:
            raise CarrierGiveUp(f"{self.name}: no cp_code (express company) configured for this account")
        return cp_code

    # -- payload pieces ---------------------------------------------------------------------

    @staticmethod
    def _user_info(address: Address) -> dict:
        return {
            "name": address.name,
            **_phone_fields(address.phone),
            "address": {
                "province": address.province,
                "city": address.city,
                "district": address.district,
                "detail": address.address,
            },
        }

    @staticmethod
    def _pickup_address(address: Address) -> dict:
        return {
            "name": address.name,
            **_phone_fields(address.phone),
            "provinceName": address.province,
            "cityName": address.city,
            "areaName": address.district,
            "address": address.address,
            "fullAddressDetail": f"{address.province}{address.city}{address.district}{address.address}",
        }

    def _package_info(self, request: WaybillRequest) -> dict:
        package = {
            "id": request.carrier_order_id,
            "items": [{"name": request.description, "count": request.parcels}],
        }
        if (grams := _grams(request.weight_kg)) is not None:
            package["weight"] = grams
        return package

    def _trade_order_info(self, request: WaybillRequest) -> dict:
        extra = self.credentials.extra
        info = {
            "objectId": request.carrier_order_id,
            "orderInfo": {
                "orderChannelsType": extra.get("order_channels_type") or "OTHERS",
                "tradeOrderList": [request.carrier_order_id],
            },
            "packageInfo": self._package_info(request),
            "recipient": self._user_info(request.receiver),
        }
        if template_url := extra.get("template_url"):
            info["templateUrl"] = template_url
        return info

    def _waybill_update(self, request: WaybillRequest, cp_code: str) -> WaybillResult:
        payload = {
            "cpCode": cp_code,
            "waybillCode": request.tracking_number,
            "objectId": request.carrier_order_id,
            "sender": self._user_info(request.sender),
            "recipient": self._user_info(request.receiver),
            "packageInfo": self._package_info(request),
        }
        if template_url := self.credentials.extra.get("template_url"):
            payload["templateUrl"] = template_url
        data = self._call(MSG_WAYBILL_UPDATE, payload, what=f"waybill {request.tracking_number} upload")
        waybill_code = str(data.get("waybillCode") or "").strip() or request.tracking_number
        return WaybillResult(carrier_order_id=request.carrier_order_id, tracking_number=waybill_code)

    # -- answers ----------------------------------------------------------------------------

    def _events(self, data: dict, *, default_number: str) -> list[TrackingEvent]:
        raw: list = []
        for key in _EVENT_LISTS:
            if isinstance(data.get(key), list):
                raw = data[key]
                break
        else:
            if isinstance(data.get("traceDetail"), dict):
                raw = [data["traceDetail"]]
        events = []
        for item in raw:
            if not isinstance(item, dict):
                continue
            number = str(item.get("mailNo") or default_number).strip()
            if not number:
                raise CarrierGiveUp(f"{self.name}: trace event without mailNo")
            occurred_at = _parse_time(item.get("time") or item.get("eventTime"), item.get("timeZone"))
            action = str(item.get("action") or item.get("actionCode") or item.get("status") or "").strip()
            if occurred_at is None:
                logger.warning("Cainiao: skipped a %s event of %s with an unreadable time", action, number)
                continue
            kind = action_kind(action)
            if kind == IN_TRANSIT and action.upper() not in KNOWN_TRANSIT_ACTIONS:
                logger.info("Cainiao: action %r of %s read as in transit", action, number)
            events.append(
                TrackingEvent(
                    tracking_number=number,
                    kind=kind,
                    occurred_at=occurred_at,
                    description=str(item.get("desc") or item.get("customerizedDesc") or item.get("standardDesc") or ""),
                    location=str(
                        item.get("city")
                        or item.get("areaName")
                        or item.get("facilityName")
                        or item.get("location")
                        or ""
                    ),
                    carrier_code=action,
                )
            )
        return events


def _parse_time(value, zone_name=None) -> dt.datetime | None:
    zone = SHANGHAI
    if zone_name:
        try:
            zone = ZoneInfo(str(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            zone = SHANGHAI
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit() and len(text) >= 12:  # epoch milliseconds
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=SHANGHAI)
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    return None
