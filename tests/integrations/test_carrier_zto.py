"""The ZTO Express adapter against a local ZOP gateway that checks what the real one checks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests

from integrations.carriers.base import (
    DELIVERED,
    EXCEPTION,
    IN_TRANSIT,
    PICKED_UP,
    RETURNED,
    Address,
    CarrierDuplicate,
    CarrierError,
    CarrierGiveUp,
    CarrierRetryLater,
    CarrierSignatureError,
    Credentials,
    WaybillRequest,
    carrier_class,
)
from integrations.carriers.zto import ZTOExpress, zto_digest
from tests.fakes.zto import FakeZTO
from tests.fakes.zto import digest as gateway_digest

APP_KEY = "zto-appkey-7c1e9a"
APP_SECRET = "zto-secret-Qx81zL0p"
ACCOUNT_ID = "zto-eaccount-1001"
ACCOUNT_PASSWORD = "eaccount-pw-5521"
SHANGHAI = ZoneInfo("Asia/Shanghai")

SENDER = Address("王强", "13800138000", "浙江省", "杭州市", "余杭区", "文一西路969号 3号仓", "311121")
RECEIVER = Address("李娜", "021-6288 1234", "上海市", "上海市", "浦东新区", "世纪大道100号 12楼")


def waybill_request(**overrides) -> WaybillRequest:
    fields = {
        "carrier_order_id": "OH20260128-00001-S1",
        "sender": SENDER,
        "receiver": RECEIVER,
        "weight_kg": Decimal("1.25"),
        "description": "茶叶礼盒",
        "parcels": 1,
    }
    return WaybillRequest(**{**fields, **overrides})


def carrier_for(fake: FakeZTO, *, app_secret: str = APP_SECRET, timeout: float = 5.0, **extra) -> ZTOExpress:
    extra = {"account_id": ACCOUNT_ID, "account_password": ACCOUNT_PASSWORD, **extra}
    return ZTOExpress(Credentials(fake.url, APP_KEY, app_secret, extra=extra), timeout=timeout)


@pytest.fixture
def zto():
    with FakeZTO(app_key=APP_KEY, app_secret=APP_SECRET) as fake:
        yield fake


# -- signature --------------------------------------------------------------------------------


def test_digest_matches_the_vector():
    body = '{"billCode":"73100196611386"}'
    assert zto_digest(body, "testsecret") == "o4TNgGHgITa9Gugjv/G8Pg=="
    assert zto_digest(body.encode(), "testsecret") == "o4TNgGHgITa9Gugjv/G8Pg=="
    assert gateway_digest(body.encode(), "testsecret") == "o4TNgGHgITa9Gugjv/G8Pg=="


def test_digest_is_over_utf8_bytes_and_raw_md5():
    body = '{"name":"茶叶 +/="}'
    expected = base64.b64encode(hashlib.md5(body.encode("utf-8") + b"s3cret").digest()).decode()
    assert zto_digest(body, "s3cret") == expected
    assert len(base64.b64decode(expected)) == 16  # the raw digest, not the hex string


def test_the_registry_finds_the_adapter():
    assert carrier_class("zto") is ZTOExpress
    assert (ZTOExpress.code, ZTOExpress.name, ZTOExpress.tracking_batch_size) == ("zto", "ZTO Express", 1)


# -- waybills ---------------------------------------------------------------------------------


def test_create_waybill_sends_signed_json_and_the_order(zto):
    result = carrier_for(zto).create_waybill(waybill_request())

    (received,) = zto.requests
    assert received.path == "/zto.open.createOrder"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-appkey"] == APP_KEY
    assert received.headers["x-datadigest"] == gateway_digest(received.body, APP_SECRET)
    # The signed bytes are the sent bytes: compact, UTF-8, not ASCII-escaped.
    assert received.body == json.dumps(received.json, ensure_ascii=False, separators=(",", ":")).encode()
    assert "王强".encode() in received.body and b"\\u" not in received.body
    assert received.json == {
        "partnerType": "2",
        "orderType": "1",
        "partnerOrderCode": "OH20260128-00001-S1",
        "accountInfo": {"accountId": ACCOUNT_ID, "accountPassword": ACCOUNT_PASSWORD, "type": 1},
        "senderInfo": {
            "senderName": "王强",
            "senderMobile": "13800138000",
            "senderProvince": "浙江省",
            "senderCity": "杭州市",
            "senderDistrict": "余杭区",
            "senderAddress": "文一西路969号 3号仓",
        },
        "receiveInfo": {
            "receiverName": "李娜",
            "receiverPhone": "021-6288 1234",
            "receiverProvince": "上海市",
            "receiverCity": "上海市",
            "receiverDistrict": "浦东新区",
            "receiverAddress": "世纪大道100号 12楼",
        },
        "summaryInfo": {"quantity": 1},
        "orderItems": [{"name": "茶叶礼盒", "quantity": 1, "weight": 1250}],
    }
    order = zto.orders["OH20260128-00001-S1"]
    assert re.fullmatch(r"7310\d{8}", order.bill_code)
    assert order.order_type == "1"
    assert (result.carrier_order_id, result.tracking_number, result.already_existed) == (
        "OH20260128-00001-S1",
        order.bill_code,
        False,
    )


def test_the_endpoint_may_end_with_a_slash(zto):
    carrier = ZTOExpress(Credentials(zto.url + "/", APP_KEY, APP_SECRET, extra={"account_id": ACCOUNT_ID}))
    carrier.create_waybill(waybill_request())
    assert zto.requests[-1].path == "/zto.open.createOrder"


def test_a_label_printed_elsewhere_is_sent_as_the_preallocated_bill_code(zto):
    result = carrier_for(zto).create_waybill(waybill_request(tracking_number="731000000042"))
    assert zto.requests[-1].json["billCode"] == "731000000042"
    assert zto.orders["OH20260128-00001-S1"].bill_code == "731000000042"
    assert result.tracking_number == "731000000042"


def test_a_group_customer_sends_its_customer_id(zto):
    carrier = ZTOExpress(Credentials(zto.url, APP_KEY, APP_SECRET, extra={"customer_id": "GK-3301"}))
    carrier.create_waybill(waybill_request(weight_kg=None, parcels=2))
    payload = zto.requests[-1].json
    assert (payload["partnerType"], payload["accountInfo"]) == ("1", {"customerId": "GK-3301"})
    assert payload["orderItems"] == [{"name": "茶叶礼盒", "quantity": 2}]
    assert payload["summaryInfo"] == {"quantity": 2}


def test_without_a_waybill_account_the_gateway_refuses_a_waybill(zto):
    carrier = ZTOExpress(Credentials(zto.url, APP_KEY, APP_SECRET))
    with pytest.raises(CarrierGiveUp) as caught:
        carrier.create_waybill(waybill_request())
    assert "accountInfo" not in zto.requests[-1].json
    assert caught.value.code == "DEF001"


def test_a_second_create_with_the_same_order_code_is_a_duplicate(zto):
    carrier = carrier_for(zto)
    first = carrier.create_waybill(waybill_request())
    with pytest.raises(CarrierDuplicate) as caught:
        carrier.create_waybill(waybill_request())
    assert "重复" in caught.value.message
    assert len(zto.orders) == 1 and zto.orders["OH20260128-00001-S1"].bill_code == first.tracking_number


def test_a_duplicate_answer_is_carrier_duplicate(zto):
    zto.answers.append("duplicate")
    with pytest.raises(CarrierDuplicate):
        carrier_for(zto).create_waybill(waybill_request())


@pytest.mark.parametrize(
    "message",
    ["合作商订单号已存在", "partnerOrderCode重复", "订单号重复,请勿重复下单", "Duplicate order: partnerOrderCode"],
)
def test_duplicate_wordings(zto, message):
    zto.answers.append(("E1", message))
    with pytest.raises(CarrierDuplicate):
        carrier_for(zto).create_waybill(waybill_request())


def test_a_taken_bill_code_is_not_a_duplicate_and_tracking_never_is(zto):
    zto.answers.extend([("E2", "运单号已存在"), ("E1", "订单已存在")])
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(zto).create_waybill(waybill_request(tracking_number="731000000042"))
    assert not isinstance(caught.value, CarrierDuplicate)
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(zto).query_tracking(["731000000042"])
    assert not isinstance(caught.value, CarrierDuplicate)


# -- pickups ----------------------------------------------------------------------------------


def test_book_pickup_asks_for_a_courier(zto):
    carrier = carrier_for(zto)
    carrier.create_waybill(waybill_request())
    result = carrier.book_pickup(waybill_request(carrier_order_id="OH20260128-00001-P"))

    assert [r.json["orderType"] for r in zto.requests] == ["1", "2"]
    assert {r.path for r in zto.requests} == {"/zto.open.createOrder"}
    assert zto.orders["OH20260128-00001-P"].order_type == "2"
    assert result.tracking_number == zto.orders["OH20260128-00001-P"].bill_code


def test_a_pickup_maps_errors_the_same_way(zto):
    zto.answers.extend(["duplicate", "rate_limit", "business_error"])
    carrier = carrier_for(zto)
    request = waybill_request(carrier_order_id="OH20260128-00001-P")
    with pytest.raises(CarrierDuplicate):
        carrier.book_pickup(request)
    with pytest.raises(CarrierRetryLater):
        carrier.book_pickup(request)
    with pytest.raises(CarrierGiveUp):
        carrier.book_pickup(request)


# -- trouble ----------------------------------------------------------------------------------


def test_a_wrong_secret_is_given_up_with_s211(zto):
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(zto, app_secret="not-the-secret").create_waybill(waybill_request())
    assert caught.value.code == "S211"
    assert "app secret" in caught.value.message
    assert "not-the-secret" not in str(caught.value)
    assert zto.orders == {}


def test_a_forced_signature_refusal_is_given_up(zto):
    zto.answers.append("signature")
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(zto).query_tracking(["731000000042"])
    assert caught.value.code == "S211"


def test_a_wrong_app_key_is_given_up(zto):
    carrier = ZTOExpress(Credentials(zto.url, "someone-else", APP_SECRET, extra={"account_id": ACCOUNT_ID}))
    with pytest.raises(CarrierGiveUp) as caught:
        carrier.create_waybill(waybill_request())
    assert caught.value.code == "S210"


def test_the_gateway_takes_the_key_as_x_companyid_too(zto):
    # ZTO's own Java SDK sends the app key as x-companyid; the fake accepts both.
    body = b'{"billCode":"731000000042"}'
    answer = requests.post(
        f"{zto.url}/zto.merchant.waybill.track.query",
        data=body,
        headers={
            "Content-Type": "application/json",
            "x-companyid": APP_KEY,
            "x-datadigest": gateway_digest(body, APP_SECRET),
        },
        timeout=5,
    ).json()
    assert (answer["status"], answer["statusCode"], answer["result"]) == (True, "0000", [])


@pytest.mark.parametrize(
    "answer", ["server_error", "timeout", "bad_json", "rate_limit", "busy", ("S200", "请求超时"), ("S202", "发生错误")]
)
def test_passing_trouble_is_retried_later(zto, answer):
    carrier = carrier_for(zto, timeout=0.3)
    zto.answers.append(answer)
    with pytest.raises(CarrierRetryLater):
        carrier.create_waybill(waybill_request())
    # The retry goes through: the failed attempt created nothing on ZTO's side.
    assert carrier.create_waybill(waybill_request()).tracking_number
    assert len(zto.requests) == 2


def test_rate_limit_says_so(zto):
    zto.answers.append("rate_limit")
    with pytest.raises(CarrierRetryLater) as caught:
        carrier_for(zto).query_tracking(["731000000042"])
    assert caught.value.code == "S206" and "rate limited" in caught.value.message


def test_no_answer_in_time_says_so(zto):
    zto.answers.append("timeout")
    with pytest.raises(CarrierRetryLater, match=r"no answer within 0\.3 s"):
        carrier_for(zto, timeout=0.3).query_tracking(["731000000042"])


def test_connection_refused_is_retried_later():
    carrier = ZTOExpress(Credentials("http://127.0.0.1:1", APP_KEY, APP_SECRET))
    with pytest.raises(CarrierRetryLater, match="connection failed"):
        carrier.create_waybill(waybill_request())


def test_a_business_error_is_given_up_with_code_and_message(zto):
    zto.answers.append("business_error")
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(zto).create_waybill(waybill_request())
    assert not isinstance(caught.value, CarrierDuplicate)
    assert caught.value.code == "F002"
    assert "F002" in caught.value.message and "电子面单账户余额不足" in caught.value.message
    assert APP_KEY not in caught.value.message  # the gateway echoed it; we scrub it


@pytest.mark.parametrize("code", ["S207", "S208", "S210", "S212", "S214", "S299"])
def test_other_platform_codes_are_given_up(zto, code):
    zto.answers.append((code, "refused"))
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(zto).create_waybill(waybill_request())
    assert caught.value.code == code and code in caught.value.message


def test_the_gateway_checks_the_order_too(zto):
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(zto).create_waybill(
            waybill_request(receiver=Address("", "", "上海市", "上海市", "浦东新区", "世纪大道100号"))
        )
    assert caught.value.code == "S208" and "receiverName" in caught.value.message


def test_an_answer_without_status_is_retried_later(zto):
    carrier = carrier_for(zto)
    with pytest.raises(CarrierRetryLater, match="no status"):
        carrier._result({"message": "?"}, what="order x", order=True)


# -- tracking ---------------------------------------------------------------------------------


def test_tracking_maps_scan_types_and_reads_shanghai_times(zto, caplog):
    caplog.set_level(logging.INFO, logger="integrations.carriers.zto")
    zto.routes["731000000042"] = [
        ("签收", "2026-01-29 09:12:00", "【上海市】快件已签收,签收人: 本人", "上海浦东"),
        ("收件", "2026-01-28 14:22:00", "【杭州市】【余杭】的业务员已揽收", "杭州余杭"),
        ("发件", "2026-01-28 21:40:00", "【杭州市】快件离开【杭州中转部】发往【上海】"),
        ("到件", "2026-01-29 03:10:00", "【上海市】快件已到达【上海中转部】"),
        ("派件", "2026-01-29 07:46:00", "【上海市】【浦东】的业务员正在派件"),
    ]
    events = carrier_for(zto).query_tracking(["731000000042"])

    (received,) = zto.requests
    assert received.path == "/zto.merchant.waybill.track.query"
    assert received.json == {"billCode": "731000000042"}
    assert received.headers["x-datadigest"] == gateway_digest(received.body, APP_SECRET)
    assert [(e.carrier_code, e.kind) for e in events] == [
        ("收件", PICKED_UP),
        ("发件", IN_TRANSIT),
        ("到件", IN_TRANSIT),
        ("派件", IN_TRANSIT),
        ("签收", DELIVERED),
    ]
    first = events[0]
    assert first.tracking_number == "731000000042"
    assert first.occurred_at.utcoffset() == dt.timedelta(hours=8)
    assert first.occurred_at == dt.datetime(2026, 1, 28, 6, 22, tzinfo=dt.UTC)
    assert (first.description, first.location) == ("【杭州市】【余杭】的业务员已揽收", "杭州余杭")
    assert all(e.occurred_at.tzinfo is not None for e in events)
    assert not [r for r in caplog.records if "read as in transit" in r.getMessage()]


def test_exceptions_and_returns_and_unknown_scans(zto, caplog):
    caplog.set_level(logging.INFO, logger="integrations.carriers.zto")
    zto.time_format = "text"  # the same answer with "YYYY-MM-DD HH:MM:SS" times
    zto.routes["731000000043"] = [
        ("揽收", "2026-01-28 16:00:00", "已揽收"),
        ("问题件", "2026-01-29 11:30:00", "收件人电话无人接听"),
        ("退件", "2026-01-29 12:00:00", "快件已退回"),
        ("退件签收", "2026-01-31 10:00:00", "退件已由寄件人签收"),
        ("第三方签收", "2026-01-30 10:00:00", "快递柜代签"),
        ("转寄", "2026-01-29 12:30:00", "?"),
    ]
    events = carrier_for(zto).query_tracking(["731000000043"])
    assert [(e.carrier_code, e.kind) for e in events] == [
        ("揽收", PICKED_UP),
        ("问题件", EXCEPTION),
        ("退件", RETURNED),
        ("转寄", IN_TRANSIT),
        ("第三方签收", DELIVERED),
        ("退件签收", RETURNED),  # a return signed for by the sender is not a delivery
    ]
    assert events[0].occurred_at == dt.datetime(2026, 1, 28, 16, 0, tzinfo=SHANGHAI)
    unknown = [r for r in caplog.records if "转寄" in r.getMessage()]
    assert [r.levelno for r in unknown] == [logging.INFO]


def test_tracking_asks_one_bill_code_per_call(zto):
    zto.routes["731000000045"] = [("收件", "2026-01-28 14:22:00", "已揽收")]
    events = carrier_for(zto).query_tracking(["731000000044", " ", "731000000045"])
    assert [r.json for r in zto.requests] == [{"billCode": "731000000044"}, {"billCode": "731000000045"}]
    assert [e.tracking_number for e in events] == ["731000000045"]


def test_tracking_of_nothing_asks_nothing(zto):
    assert carrier_for(zto).query_tracking([]) == []
    assert zto.requests == []


def test_a_trace_with_an_unreadable_time_is_skipped(zto, caplog):
    zto.time_format = "text"
    zto.routes["731000000046"] = [("收件", "yesterday", "已揽收"), ("签收", "2026-01-29 09:12:00", "已签收")]
    events = carrier_for(zto).query_tracking(["731000000046"])
    assert [e.carrier_code for e in events] == ["签收"]
    assert any("unreadable time" in r.getMessage() for r in caplog.records)


# -- pushes -----------------------------------------------------------------------------------


def test_a_signed_push_is_parsed(zto):
    carrier = carrier_for(zto)
    form = zto.push_form(
        "731000000042", "SIGNED", "2026-01-29 09:12:00", "【上海市】快件已由【本人】签收", city="上海市"
    )
    events = carrier.parse_push(body=zto.push_body(form), headers={}, form=form)
    (event,) = events
    assert (event.tracking_number, event.kind, event.carrier_code) == ("731000000042", DELIVERED, "SIGNED")
    assert event.occurred_at == dt.datetime(2026, 1, 29, 9, 12, tzinfo=SHANGHAI)
    assert (event.description, event.location) == ("【上海市】快件已由【本人】签收", "上海市")
    # The raw body alone is enough when the view hands over no parsed form.
    assert carrier.parse_push(body=zto.push_body(form), headers={}, form={}) == events


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("GOT", PICKED_UP),
        ("DEPARTURE", IN_TRANSIT),
        ("ARRIVAL", IN_TRANSIT),
        ("DISPATCH", IN_TRANSIT),
        ("INBOUND", IN_TRANSIT),
        ("HANDOVERSCAN_SIGNED", IN_TRANSIT),  # handed to a parcel station, not yet to the customer
        ("DEPARTURE_SIGNED", DELIVERED),  # collected from the station with the pickup code
        ("SIGNED", DELIVERED),
        ("PROBLEM", EXCEPTION),
        ("RETURN_SCAN", RETURNED),
        ("RETURN_SIGNED", RETURNED),
    ],
)
def test_push_actions(zto, action, kind):
    form = zto.push_form("731000000042", action, "2026-01-29 09:12:00", "desc")
    (event,) = carrier_for(zto).parse_push(body=b"", headers={}, form=form)
    assert event.kind == kind


def test_a_push_with_a_wrong_signature_is_refused(zto):
    carrier = carrier_for(zto)
    wrongly_signed = zto.push_form("731000000042", "SIGNED", "2026-01-29 09:12:00", app_secret="someone-elses")
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=wrongly_signed)

    tampered = zto.push_form("731000000042", "GOT", "2026-01-29 09:12:00")
    tampered["data"] = tampered["data"].replace('"GOT"', '"SIGNED"')
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=tampered)

    unsigned = {
        k: v for k, v in zto.push_form("731000000042", "GOT", "2026-01-29 09:12:00").items() if k != "data_digest"
    }
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=unsigned)

    other_company = zto.push_form("731000000042", "GOT", "2026-01-29 09:12:00", company_id="another-app")
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=other_company)


def test_a_signed_push_of_another_kind_is_given_up(zto):
    form = zto.push_form("731000000042", "GOT", "2026-01-29 09:12:00", msg_type="Orders")
    with pytest.raises(CarrierGiveUp):
        carrier_for(zto).parse_push(body=b"", headers={}, form=form)


def test_push_replies():
    carrier = ZTOExpress(Credentials("http://127.0.0.1:1", APP_KEY, APP_SECRET))
    ok = carrier.push_reply(ok=True)
    assert (ok.status, ok.content_type) == (200, "application/json;charset=UTF-8")
    assert json.loads(ok.body) == {"status": True, "statusCode": "0", "result": "success", "message": ""}
    refused = json.loads(carrier.push_reply(ok=False, message=f"签名错误 {APP_SECRET}").body)
    assert (refused["status"], refused["result"], refused["message"]) == (False, "fail", "签名错误 ***")


# -- secrets ----------------------------------------------------------------------------------


def test_no_credentials_in_errors_or_logs(zto, caplog):
    caplog.set_level(logging.DEBUG)
    carrier = carrier_for(zto, timeout=0.3)
    errors: list[CarrierError] = []
    answers = [
        "server_error",
        "timeout",
        "bad_json",
        "rate_limit",
        "business_error",
        "duplicate",
        ("S208", f"accountPassword {ACCOUNT_PASSWORD} 不正确"),
        ("E9", f"appKey {APP_KEY} / {APP_SECRET}"),
    ]
    zto.answers.extend(answers)
    for _ in answers:
        with pytest.raises(CarrierError) as caught:
            carrier.create_waybill(waybill_request())
        errors.append(caught.value)
    with pytest.raises(CarrierError) as caught:
        carrier_for(zto, app_secret="wrong-secret-123").create_waybill(waybill_request())
    errors.append(caught.value)
    bad_push = zto.push_form("731000000042", "GOT", "2026-01-29 09:12:00", app_secret="x" * 8)
    for form in (bad_push, {"data": "{}"}):
        with pytest.raises(CarrierError) as caught:
            carrier.parse_push(body=b"", headers={}, form=form)
        errors.append(caught.value)
    result = carrier.create_waybill(waybill_request())
    zto.routes[result.tracking_number] = [("新扫描", "2026-01-28 14:22:00", "new scan type")]
    carrier.query_tracking([result.tracking_number])
    carrier.parse_push(body=b"", headers={}, form=zto.push_form("731000000042", "GOT", "2026-01-29 09:12:00"))

    digests = {r.headers.get("x-datadigest") for r in zto.requests} - {None}
    texts = [caplog.text] + [f"{e!r} {e} {e.message} {e.code}" for e in errors]
    for text in texts:
        for secret in (APP_SECRET, APP_KEY, ACCOUNT_PASSWORD, "wrong-secret-123", *digests):
            assert secret not in text
    assert APP_SECRET not in repr(carrier.credentials)
