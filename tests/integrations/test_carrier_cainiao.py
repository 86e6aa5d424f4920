"""The Cainiao LINK adapter against a local gateway that checks what the real one checks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from integrations.carriers.base import (
    DELIVERED,
    EXCEPTION,
    IN_TRANSIT,
    PICKED_UP,
    Address,
    CarrierDuplicate,
    CarrierError,
    CarrierGiveUp,
    CarrierRetryLater,
    CarrierSignatureError,
    Credentials,
    WaybillRequest,
)
from integrations.carriers.cainiao import Cainiao, cainiao_digest
from tests.fakes.cainiao import FakeCainiao

APP_KEY = "cn-provider-7731"
SECRET = "cn-secret-Zq81x"
SHANGHAI = ZoneInfo("Asia/Shanghai")

SENDER = Address("王强", "13800138000", "浙江省", "杭州市", "余杭区", "文一西路969号 3号仓")
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


def carrier_for(fake: FakeCainiao, *, secret: str = SECRET, timeout: float = 5.0, **extra) -> Cainiao:
    extra = {"cp_code": "YTO", **extra}
    return Cainiao(Credentials(fake.url, APP_KEY, secret, extra=extra), timeout=timeout)


@pytest.fixture
def cainiao():
    with FakeCainiao(app_key=APP_KEY, secret=SECRET) as fake:
        yield fake


# -- signature --------------------------------------------------------------------------------


def test_digest_matches_the_documented_vector():
    assert cainiao_digest("hello1234", "key123") == "ufYU7rvXhHY3IDyZgyt6SA=="
    # The known mistake: Base64 of the hex string.
    hex_based = base64.b64encode(hashlib.md5(b"hello1234key123").hexdigest().encode()).decode()
    assert cainiao_digest("hello1234", "key123") != hex_based


def test_digest_is_over_utf8():
    content = '{"name":"王强"}'
    raw = hashlib.md5((content + "k").encode("utf-8")).digest()
    assert cainiao_digest(content, "k") == base64.b64encode(raw).decode()


# -- waybills ---------------------------------------------------------------------------------


def test_create_waybill_sends_the_exact_form_and_payload(cainiao):
    carrier = carrier_for(cainiao, to_code="TO-YTO", template_url="http://cloudprint.cainiao.com/template/standard/101")
    result = carrier.create_waybill(waybill_request())

    (received,) = cainiao.requests
    assert received.path == "/gateway/link.do"
    assert received.headers["content-type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    assert list(received.form) == ["msg_type", "logistic_provider_id", "to_code", "logistics_interface", "data_digest"]
    assert received.form["msg_type"] == "TMS_WAYBILL_GET"
    assert received.form["logistic_provider_id"] == APP_KEY
    assert received.form["to_code"] == "TO-YTO"
    content = received.form["logistics_interface"]
    assert received.form["data_digest"] == cainiao_digest(content, SECRET)
    assert "王强" in content and "\\u" not in content  # UTF-8, not ASCII escapes
    assert received.payload == {
        "cpCode": "YTO",
        "sender": {
            "name": "王强",
            "mobile": "13800138000",
            "address": {"province": "浙江省", "city": "杭州市", "district": "余杭区", "detail": "文一西路969号 3号仓"},
        },
        "tradeOrderInfoDtos": [
            {
                "objectId": "OH20260128-00001-S1",
                "orderInfo": {"orderChannelsType": "OTHERS", "tradeOrderList": ["OH20260128-00001-S1"]},
                "packageInfo": {
                    "id": "OH20260128-00001-S1",
                    "items": [{"name": "茶叶礼盒", "count": 1}],
                    "weight": 1250,
                },
                "recipient": {
                    "name": "李娜",
                    "phone": "021-6288 1234",
                    "address": {
                        "province": "上海市",
                        "city": "上海市",
                        "district": "浦东新区",
                        "detail": "世纪大道100号 12楼",
                    },
                },
                "templateUrl": "http://cloudprint.cainiao.com/template/standard/101",
            }
        ],
    }
    assert result.carrier_order_id == "OH20260128-00001-S1"
    assert result.tracking_number == cainiao.orders["OH20260128-00001-S1"]
    assert result.tracking_number.startswith("LP") and len(result.tracking_number) == 16
    assert result.already_existed is False


def test_to_code_is_left_out_when_empty(cainiao):
    carrier_for(cainiao, to_code="").create_waybill(waybill_request())
    assert "to_code" not in cainiao.requests[-1].form


def test_a_label_printed_elsewhere_is_uploaded_with_waybill_update(cainiao):
    result = carrier_for(cainiao).create_waybill(waybill_request(tracking_number="YT7596382757695"))

    (received,) = cainiao.requests
    assert received.form["msg_type"] == "TMS_WAYBILL_UPDATE"
    payload = received.payload
    assert payload["waybillCode"] == "YT7596382757695"
    assert payload["objectId"] == "OH20260128-00001-S1"
    assert payload["cpCode"] == "YTO"
    assert payload["recipient"]["name"] == "李娜"
    assert result.tracking_number == "YT7596382757695"


def test_waybills_need_a_cp_code(cainiao):
    carrier = Cainiao(Credentials(cainiao.url, APP_KEY, SECRET))
    with pytest.raises(CarrierGiveUp, match="cp_code"):
        carrier.create_waybill(waybill_request())
    assert cainiao.requests == []


def test_a_second_create_for_the_same_object_id_is_a_duplicate(cainiao):
    carrier = carrier_for(cainiao)
    first = carrier.create_waybill(waybill_request())
    with pytest.raises(CarrierDuplicate) as caught:
        carrier.create_waybill(waybill_request())
    assert caught.value.code == "OBJECT_ID_DUPLICATE"
    assert len(cainiao.orders) == 1 and cainiao.orders["OH20260128-00001-S1"] == first.tracking_number


def test_a_duplicate_answer_is_carrier_duplicate(cainiao):
    cainiao.answers.append("duplicate")
    with pytest.raises(CarrierDuplicate):
        carrier_for(cainiao).book_pickup(waybill_request(carrier_order_id="OH20260128-00001-P"))


# -- pickups ----------------------------------------------------------------------------------


def test_book_pickup_sends_a_send_order(cainiao):
    result = carrier_for(cainiao, pickup_item_id="3000000040").book_pickup(
        waybill_request(carrier_order_id="OH20260128-00001-P")
    )

    (received,) = cainiao.requests
    assert received.form["msg_type"] == "GUOGUO_CREATE_SEND_ORDER"
    assert received.form["data_digest"] == cainiao_digest(received.form["logistics_interface"], SECRET)
    assert received.payload == {
        "outOrderInfoList": [{"outOrderId": "OH20260128-00001-P"}],
        "senderInfo": {
            "name": "王强",
            "mobile": "13800138000",
            "provinceName": "浙江省",
            "cityName": "杭州市",
            "areaName": "余杭区",
            "address": "文一西路969号 3号仓",
            "fullAddressDetail": "浙江省杭州市余杭区文一西路969号 3号仓",
        },
        "receiverInfo": {
            "name": "李娜",
            "phone": "021-6288 1234",
            "provinceName": "上海市",
            "cityName": "上海市",
            "areaName": "浦东新区",
            "address": "世纪大道100号 12楼",
            "fullAddressDetail": "上海市上海市浦东新区世纪大道100号 12楼",
        },
        "weight": 1.25,
        "cpCode": "YTO",
        "itemId": "3000000040",
    }
    assert result.tracking_number == cainiao.orders["OH20260128-00001-P"]


# -- trouble ----------------------------------------------------------------------------------


def test_a_wrong_secret_is_given_up_with_s02(cainiao):
    carrier = carrier_for(cainiao, secret="not-the-secret")
    with pytest.raises(CarrierGiveUp) as caught:
        carrier.create_waybill(waybill_request())
    assert caught.value.code == "S02"
    assert "not-the-secret" not in str(caught.value)


def test_a_wrong_provider_id_is_given_up(cainiao):
    carrier = Cainiao(Credentials(cainiao.url, "someone-else", SECRET, extra={"cp_code": "YTO"}))
    with pytest.raises(CarrierGiveUp):
        carrier.create_waybill(waybill_request())


@pytest.mark.parametrize("answer", ["server_error", "timeout", "bad_json", "busy", ("S06", "网络超时，请重试")])
def test_passing_trouble_is_retried_later(cainiao, answer):
    carrier = carrier_for(cainiao, timeout=0.3)
    cainiao.answers.append(answer)
    with pytest.raises(CarrierRetryLater):
        carrier.create_waybill(waybill_request())
    # The retry goes through: the failed attempt created nothing on the gateway's side.
    assert carrier.create_waybill(waybill_request()).tracking_number
    assert len(cainiao.requests) == 2


def test_no_answer_in_time_says_so(cainiao):
    cainiao.answers.append("timeout")
    with pytest.raises(CarrierRetryLater, match=r"no answer within 0\.3 s"):
        carrier_for(cainiao, timeout=0.3).query_tracking(["LP73100000000001"])


def test_connection_refused_is_retried_later():
    carrier = Cainiao(Credentials("http://127.0.0.1:1/gateway/link.do", APP_KEY, SECRET, extra={"cp_code": "YTO"}))
    with pytest.raises(CarrierRetryLater, match="connection failed"):
        carrier.create_waybill(waybill_request())


def test_a_business_error_is_given_up_with_code_and_message(cainiao):
    cainiao.answers.append("business_error")
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(cainiao).create_waybill(waybill_request())
    assert caught.value.code == "RECIPIENT_ADDRESS_ERROR"
    assert "收件人地址不合法" in caught.value.message
    assert APP_KEY not in caught.value.message  # the gateway echoed it; we scrub it


# -- tracking ---------------------------------------------------------------------------------


def test_tracking_maps_actions_and_reads_shanghai_times(cainiao):
    cainiao.routes["LP73100000000001"] = [
        {"time": "2026-01-29 09:12:00", "action": "SIGN", "desc": "已签收，签收人: 本人", "city": "上海市"},
        {"time": "2026-01-28 14:05:00", "action": "GOT", "desc": "快件已揽收", "city": "杭州市"},
        {
            "time": "2026-01-28 21:40:00",
            "action": "DEPARTURE",
            "desc": "离开杭州转运中心",
            "facilityName": "杭州转运中心",
        },
    ]
    cainiao.routes["LP73100000000002"] = [
        {"time": "2026-01-28 16:00:00", "action": "ACCEPT", "desc": "已收件"},
        {"time": "2026-01-29 11:30:00", "action": "FAILED", "desc": "派送失败: 电话无人接听"},
        {"time": "2026-01-29 12:00:00", "action": "REJECT", "desc": "收件人拒收"},
        {"time": "2026-01-29 12:30:00", "action": "SOMETHING_NEW", "desc": "?"},
    ]
    events = carrier_for(cainiao).query_tracking(["LP73100000000001", "LP73100000000002"])

    assert [r.payload for r in cainiao.requests] == [
        {"mailNo": "LP73100000000001", "cpCode": "YTO"},
        {"mailNo": "LP73100000000002", "cpCode": "YTO"},
    ]
    assert {r.form["msg_type"] for r in cainiao.requests} == {"LOGISTICS_TRACE_QUERY"}
    assert [(e.tracking_number[-1], e.carrier_code, e.kind) for e in events] == [
        ("1", "GOT", PICKED_UP),
        ("2", "ACCEPT", PICKED_UP),
        ("1", "DEPARTURE", IN_TRANSIT),
        ("1", "SIGN", DELIVERED),
        ("2", "FAILED", EXCEPTION),
        ("2", "REJECT", EXCEPTION),
        ("2", "SOMETHING_NEW", IN_TRANSIT),
    ]
    first = events[0]
    assert first.occurred_at.utcoffset() == dt.timedelta(hours=8)
    assert first.occurred_at == dt.datetime(2026, 1, 28, 6, 5, tzinfo=dt.UTC)
    assert first.description == "快件已揽收" and first.location == "杭州市"
    assert events[2].location == "杭州转运中心"
    assert all(e.occurred_at.tzinfo is not None for e in events)


def test_tracking_of_an_unknown_number_is_empty(cainiao):
    assert carrier_for(cainiao).query_tracking(["LP00000000000000"]) == []


# -- pushes -----------------------------------------------------------------------------------

PUSH_EVENTS = [
    {"time": "2026-01-29 09:12:00", "action": "SIGNED", "desc": "已签收", "city": "上海市"},
    {"time": "2026-01-28 14:05:00", "action": "GOT", "desc": "快件已揽收", "city": "杭州市"},
]


def test_a_signed_push_is_parsed(cainiao):
    carrier = carrier_for(cainiao)
    form = cainiao.push_form("LP73100000000001", PUSH_EVENTS)
    events = carrier.parse_push(body=cainiao.push_body(form), headers={}, form=form)
    assert [(e.tracking_number, e.kind) for e in events] == [
        ("LP73100000000001", PICKED_UP),
        ("LP73100000000001", DELIVERED),
    ]
    assert events[1].occurred_at == dt.datetime(2026, 1, 29, 9, 12, tzinfo=SHANGHAI)
    # The raw body alone is enough when the view hands over no parsed form.
    assert carrier.parse_push(body=cainiao.push_body(form), headers={}, form={}) == events


def test_a_push_with_a_wrong_signature_is_refused(cainiao):
    carrier = carrier_for(cainiao)
    wrongly_signed = cainiao.push_form("LP73100000000001", PUSH_EVENTS, secret="someone-elses-secret")
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=wrongly_signed)

    tampered = cainiao.push_form("LP73100000000001", PUSH_EVENTS)
    tampered["logistics_interface"] = tampered["logistics_interface"].replace("SIGNED", "FAILED")
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=tampered)

    unsigned = {k: v for k, v in cainiao.push_form("LP1", PUSH_EVENTS).items() if k != "data_digest"}
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=unsigned)


def test_push_replies():
    carrier = Cainiao(Credentials("http://127.0.0.1:1/", APP_KEY, SECRET))
    ok = carrier.push_reply(ok=True)
    assert (ok.status, ok.content_type, ok.body) == (200, "application/json;charset=UTF-8", b'{"success": "true"}')
    refused = carrier.push_reply(ok=False, message="签名错误")
    assert b'"success": "false"' in refused.body and "签名错误".encode() in refused.body


# -- secrets ----------------------------------------------------------------------------------


def test_no_credentials_in_errors_or_logs(cainiao, caplog):
    caplog.set_level(logging.DEBUG)
    carrier = carrier_for(cainiao, timeout=0.3)
    errors: list[CarrierError] = []
    cainiao.answers.extend(["server_error", "timeout", "bad_json", "busy", "business_error", "duplicate"])
    for _ in range(6):
        with pytest.raises(CarrierError) as caught:
            carrier.create_waybill(waybill_request())
        errors.append(caught.value)
    with pytest.raises(CarrierError) as caught:
        carrier_for(cainiao, secret="wrong-secret-123").create_waybill(waybill_request())
    errors.append(caught.value)
    with pytest.raises(CarrierError) as caught:
        carrier.parse_push(body=b"", headers={}, form=cainiao.push_form("LP1", PUSH_EVENTS, secret="x" * 8))
    errors.append(caught.value)
    carrier.create_waybill(waybill_request())
    carrier.query_tracking(["LP73100000000001"])

    digests = {r.form.get("data_digest") for r in cainiao.requests} - {None}
    texts = [caplog.text] + [f"{e!r} {e} {e.message} {e.code}" for e in errors]
    for text in texts:
        for secret in (SECRET, APP_KEY, "wrong-secret-123", *digests):
            assert secret not in text
    assert SECRET not in repr(carrier.credentials)
