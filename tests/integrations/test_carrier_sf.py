"""The SF Express adapter against a local 丰桥 gateway that checks what the real one checks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
import time
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
from integrations.carriers.sf import SFExpress, sf_digest
from tests.fakes.sf import FakeSF
from tests.fakes.sf import digest as gateway_digest

PARTNER = "sf-partner-5512"
CHECK_WORD = "sf-check-Qx81zL0p"
MONTHLY_CARD = "7551234567"
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


def carrier_for(fake: FakeSF, *, check_word: str = CHECK_WORD, timeout: float = 5.0, **extra) -> SFExpress:
    extra = {"monthly_card": MONTHLY_CARD, **extra}
    return SFExpress(Credentials(fake.url, PARTNER, check_word, extra=extra), timeout=timeout)


@pytest.fixture
def sf():
    with FakeSF(partner_id=PARTNER, check_word=CHECK_WORD) as fake:
        yield fake


# -- signature --------------------------------------------------------------------------------


def test_digest_matches_the_vector():
    msg_data = '{"language":"0","trackingType":"1","trackingNumber":["SF7444407228423"],"methodType":"1"}'
    assert sf_digest(msg_data, "1700000000000", "testcheckword") == "SV1dHqEgbf9inX7FP6HCug=="
    assert gateway_digest(msg_data, "1700000000000", "testcheckword") == "SV1dHqEgbf9inX7FP6HCug=="


def test_digest_url_encodes_like_java():
    # Java's URLEncoder keeps '*' and escapes '~' (Python's quote_plus does the opposite).
    expected_input = b"%7B%22a%22%3A%22x*y%7Ez+%E8%8C%B6%2B%22%7D1700000000000cw"
    expected = base64.b64encode(hashlib.md5(expected_input).digest()).decode()
    assert sf_digest('{"a":"x*y~z 茶+"}', "1700000000000", "cw") == expected
    assert gateway_digest('{"a":"x*y~z 茶+"}', "1700000000000", "cw") == expected


# -- waybills ---------------------------------------------------------------------------------


def test_create_waybill_sends_a_signed_form_and_the_order(sf):
    before = int(time.time() * 1000)
    result = carrier_for(sf).create_waybill(waybill_request())

    (received,) = sf.requests
    form = received.form
    assert set(form) == {"partnerID", "requestID", "serviceCode", "timestamp", "msgData", "msgDigest"}
    assert received.headers["content-type"] == "application/x-www-form-urlencoded;charset=UTF-8"
    assert form["partnerID"] == PARTNER
    assert form["serviceCode"] == "EXP_RECE_CREATE_ORDER"
    assert re.fullmatch(r"[0-9a-f]{32}", form["requestID"])
    assert before <= int(form["timestamp"]) <= int(time.time() * 1000)
    assert form["msgDigest"] == gateway_digest(form["msgData"], form["timestamp"], CHECK_WORD)
    assert "王强" in form["msgData"] and "\\u" not in form["msgData"]  # ensure_ascii=False
    assert received.payload == {
        "language": "zh-CN",
        "orderId": "OH20260128-00001-S1",
        "contactInfoList": [
            {
                "contactType": 1,
                "contact": "王强",
                "mobile": "13800138000",
                "province": "浙江省",
                "city": "杭州市",
                "county": "余杭区",
                "address": "文一西路969号 3号仓",
                "postCode": "311121",
            },
            {
                "contactType": 2,
                "contact": "李娜",
                "tel": "021-6288 1234",
                "province": "上海市",
                "city": "上海市",
                "county": "浦东新区",
                "address": "世纪大道100号 12楼",
            },
        ],
        "cargoDetails": [{"name": "茶叶礼盒", "count": 1, "unit": "件", "weight": 1.25}],
        "parcelQty": 1,
        "expressTypeId": 1,
        "payMethod": 1,
        "isDocall": 0,
        "totalWeight": 1.25,
        "monthlyCard": MONTHLY_CARD,
    }
    order = sf.orders["OH20260128-00001-S1"]
    assert re.fullmatch(r"SF\d{13}", order.waybill_no)
    assert order.docall is False
    assert (result.carrier_order_id, result.tracking_number) == ("OH20260128-00001-S1", order.waybill_no)
    assert result.already_existed is False


def test_each_request_has_its_own_request_id(sf):
    carrier = carrier_for(sf)
    carrier.create_waybill(waybill_request())
    carrier.query_tracking(["SF7444400000001"])
    assert len({r.form["requestID"] for r in sf.requests}) == 2


def test_a_label_printed_elsewhere_is_sent_as_the_preallocated_waybill(sf):
    result = carrier_for(sf).create_waybill(waybill_request(tracking_number="SF1234567890123"))
    assert sf.requests[-1].payload["waybillNoInfoList"] == [{"waybillType": 1, "waybillNo": "SF1234567890123"}]
    assert sf.orders["OH20260128-00001-S1"].waybill_no == "SF1234567890123"
    assert result.tracking_number == "SF1234567890123"


def test_without_a_monthly_card_none_is_sent(sf):
    SFExpress(Credentials(sf.url, PARTNER, CHECK_WORD)).create_waybill(waybill_request(weight_kg=None))
    payload = sf.requests[-1].payload
    assert "monthlyCard" not in payload and "totalWeight" not in payload
    assert payload["cargoDetails"] == [{"name": "茶叶礼盒", "count": 1, "unit": "件"}]


def test_a_second_create_with_the_same_order_id_is_a_duplicate(sf):
    carrier = carrier_for(sf)
    first = carrier.create_waybill(waybill_request())
    with pytest.raises(CarrierDuplicate) as caught:
        carrier.create_waybill(waybill_request())
    assert caught.value.code == "8016"
    assert len(sf.orders) == 1 and sf.orders["OH20260128-00001-S1"].waybill_no == first.tracking_number


def test_a_duplicate_answer_is_carrier_duplicate(sf):
    sf.answers.append("duplicate")
    with pytest.raises(CarrierDuplicate):
        carrier_for(sf).create_waybill(waybill_request())


def test_a_duplicate_request_platform_code_is_a_duplicate_for_orders_only(sf):
    sf.answers.extend([("A1007", "重复请求"), ("A1007", "重复请求")])
    with pytest.raises(CarrierDuplicate):
        carrier_for(sf).create_waybill(waybill_request())
    with pytest.raises(CarrierGiveUp):
        carrier_for(sf).query_tracking(["SF7444400000001"])


# -- pickups ----------------------------------------------------------------------------------


def test_book_pickup_dispatches_a_courier(sf):
    carrier = carrier_for(sf)
    carrier.create_waybill(waybill_request())
    result = carrier.book_pickup(waybill_request(carrier_order_id="OH20260128-00001-P"))

    assert [r.payload["isDocall"] for r in sf.requests] == [0, 1]
    assert sf.requests[-1].form["serviceCode"] == "EXP_RECE_CREATE_ORDER"
    assert sf.orders["OH20260128-00001-S1"].docall is False
    assert sf.orders["OH20260128-00001-P"].docall is True
    assert result.tracking_number == sf.orders["OH20260128-00001-P"].waybill_no


def test_a_pickup_maps_errors_the_same_way(sf):
    sf.answers.extend(["duplicate", "busy", "business_error"])
    carrier = carrier_for(sf)
    request = waybill_request(carrier_order_id="OH20260128-00001-P")
    with pytest.raises(CarrierDuplicate):
        carrier.book_pickup(request)
    with pytest.raises(CarrierRetryLater):
        carrier.book_pickup(request)
    with pytest.raises(CarrierGiveUp):
        carrier.book_pickup(request)


# -- trouble ----------------------------------------------------------------------------------


def test_a_wrong_check_word_is_given_up_with_a1006(sf):
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(sf, check_word="not-the-check-word").create_waybill(waybill_request())
    assert caught.value.code == "A1006"
    assert "checkWord" in caught.value.message
    assert "not-the-check-word" not in str(caught.value)
    assert sf.orders == {}


def test_a_wrong_partner_id_is_given_up(sf):
    carrier = SFExpress(Credentials(sf.url, "someone-else", CHECK_WORD))
    with pytest.raises(CarrierGiveUp) as caught:
        carrier.create_waybill(waybill_request())
    assert caught.value.code == "A1004"


@pytest.mark.parametrize(
    "answer",
    [
        "server_error",
        "timeout",
        "bad_json",
        "busy",
        ("A1005", "流量受控"),
        ("A1099", "系统异常"),
        ("S0003", "系统发生数据错误或运行时异常"),
    ],
)
def test_passing_trouble_is_retried_later(sf, answer):
    carrier = carrier_for(sf, timeout=0.3)
    sf.answers.append(answer)
    with pytest.raises(CarrierRetryLater):
        carrier.create_waybill(waybill_request())
    # The retry goes through: the failed attempt created nothing on SF's side.
    assert carrier.create_waybill(waybill_request()).tracking_number
    assert len(sf.requests) == 2


def test_no_answer_in_time_says_so(sf):
    sf.answers.append("timeout")
    with pytest.raises(CarrierRetryLater, match=r"no answer within 0\.3 s"):
        carrier_for(sf, timeout=0.3).query_tracking(["SF7444400000001"])


def test_connection_refused_is_retried_later():
    carrier = SFExpress(Credentials("http://127.0.0.1:1/std/service", PARTNER, CHECK_WORD))
    with pytest.raises(CarrierRetryLater, match="connection failed"):
        carrier.create_waybill(waybill_request())


def test_a_business_error_is_given_up_with_code_and_message(sf):
    sf.answers.append("business_error")
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(sf).create_waybill(waybill_request())
    assert caught.value.code == "8119"
    assert "8119" in caught.value.message and "月结卡号不存在或已失效" in caught.value.message
    assert PARTNER not in caught.value.message  # the gateway echoed it; we scrub it


def test_the_gateway_checks_the_order_too(sf):
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(sf, monthly_card="12345").create_waybill(waybill_request())
    assert caught.value.code == "6126"
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(sf).create_waybill(
            waybill_request(receiver=Address("", "", "上海市", "上海市", "浦东新区", "世纪大道100号"))
        )
    assert caught.value.code == "1015"


@pytest.mark.parametrize("code", ["A1001", "A1003", "A1004", "A1010", "A1234"])
def test_other_platform_codes_are_given_up(sf, code):
    sf.answers.append((code, "refused"))
    with pytest.raises(CarrierGiveUp) as caught:
        carrier_for(sf).create_waybill(waybill_request())
    assert caught.value.code == code and code in caught.value.message


# -- tracking ---------------------------------------------------------------------------------


def test_tracking_maps_op_codes_and_reads_shanghai_times(sf, caplog):
    caplog.set_level(logging.INFO, logger="integrations.carriers.sf")
    sf.routes["SF1234567890123"] = [
        ("80", "2026-01-29 09:12:00", "已签收,感谢使用顺丰", "上海市"),
        ("50", "2026-01-28 14:22:00", "顺丰速运 已收取快件", "杭州市"),
        ("30", "2026-01-28 21:40:00", "快件在【杭州转运中心】完成分拣,准备发往【上海中转场】", "杭州市"),
        ("44", "2026-01-29 07:46:00", "正在派送途中,请您准备签收", "上海市"),
    ]
    sf.routes["SF1234567890124"] = [
        ("54", "2026-01-28 16:00:00", "顺丰速运 已收取快件"),
        ("70", "2026-01-29 11:30:00", "派送不成功"),
        ("99", "2026-01-29 12:00:00", "应客户要求,快件正在转寄中"),
        ("8000", "2026-01-29 12:10:00", "在官网运单资料&签收图,可查看签收人信息"),
        ("9876", "2026-01-29 12:30:00", "?"),
    ]
    events = carrier_for(sf).query_tracking(["SF1234567890123", "SF1234567890124"])

    (received,) = sf.requests
    assert received.form["serviceCode"] == "EXP_RECE_SEARCH_ROUTES"
    assert received.payload == {
        "language": "0",
        "trackingType": "1",
        "trackingNumber": ["SF1234567890123", "SF1234567890124"],
        "methodType": "1",
    }
    assert [(e.tracking_number[-1], e.carrier_code, e.kind) for e in events] == [
        ("3", "50", PICKED_UP),
        ("4", "54", PICKED_UP),
        ("3", "30", IN_TRANSIT),
        ("3", "44", IN_TRANSIT),  # out for delivery, not delivered (see the adapter's docstring)
        ("3", "80", DELIVERED),
        ("4", "70", EXCEPTION),
        ("4", "99", EXCEPTION),
        ("4", "8000", DELIVERED),
        ("4", "9876", IN_TRANSIT),
    ]
    first = events[0]
    assert first.occurred_at.utcoffset() == dt.timedelta(hours=8)
    assert first.occurred_at == dt.datetime(2026, 1, 28, 6, 22, tzinfo=dt.UTC)
    assert (first.description, first.location) == ("顺丰速运 已收取快件", "杭州市")
    assert all(e.occurred_at.tzinfo is not None for e in events)
    unknown = [r for r in caplog.records if "9876" in r.getMessage()]
    assert [r.levelno for r in unknown] == [logging.INFO]
    assert not [r for r in caplog.records if "'30'" in r.getMessage() or "'44'" in r.getMessage()]


def test_more_than_ten_numbers_are_asked_in_batches_of_ten(sf):
    numbers = [f"SF{7444400000001 + i:013d}" for i in range(12)]
    sf.routes[numbers[11]] = [("50", "2026-01-28 14:22:00", "顺丰速运 已收取快件")]
    events = carrier_for(sf).query_tracking(numbers)
    assert [len(r.payload["trackingNumber"]) for r in sf.requests] == [10, 2]
    assert [e.tracking_number for e in events] == [numbers[11]]


def test_tracking_of_nothing_asks_nothing(sf):
    assert carrier_for(sf).query_tracking([]) == []
    assert sf.requests == []


def test_tracking_of_an_unknown_number_is_empty(sf):
    assert carrier_for(sf).query_tracking(["SF0000000000000"]) == []


# -- pushes -----------------------------------------------------------------------------------

PUSH_ROUTES = {
    "SF1234567890123": [
        ("80", "2026-01-29 09:12:00", "已签收", "上海市"),
        ("50", "2026-01-28 14:22:00", "顺丰速运 已收取快件", "杭州市"),
    ]
}


def test_a_signed_push_is_parsed(sf):
    carrier = carrier_for(sf)
    form = sf.push_form(PUSH_ROUTES)
    events = carrier.parse_push(body=sf.push_body(form), headers={}, form=form)
    assert [(e.tracking_number, e.kind, e.carrier_code) for e in events] == [
        ("SF1234567890123", PICKED_UP, "50"),
        ("SF1234567890123", DELIVERED, "80"),
    ]
    assert events[1].occurred_at == dt.datetime(2026, 1, 29, 9, 12, tzinfo=SHANGHAI)
    assert (events[1].description, events[1].location) == ("已签收", "上海市")
    # The raw body alone is enough when the view hands over no parsed form.
    headers = {"content-type": "application/x-www-form-urlencoded;charset=UTF-8"}
    assert carrier.parse_push(body=sf.push_body(form), headers=headers, form={}) == events


def test_a_push_with_a_wrong_signature_is_refused(sf):
    carrier = carrier_for(sf)
    wrongly_signed = sf.push_form(PUSH_ROUTES, check_word="someone-elses-check-word")
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=wrongly_signed)

    tampered = sf.push_form(PUSH_ROUTES)
    tampered["msgData"] = tampered["msgData"].replace('"50"', '"80"')
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=tampered)

    replayed_later = sf.push_form(PUSH_ROUTES)
    replayed_later["timestamp"] = str(int(replayed_later["timestamp"]) + 1)
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=replayed_later)

    unsigned = {k: v for k, v in sf.push_form(PUSH_ROUTES).items() if k != "msgDigest"}
    with pytest.raises(CarrierSignatureError):
        carrier.parse_push(body=b"", headers={}, form=unsigned)


def test_a_push_for_another_partner_is_refused(sf):
    other = sf.push_form(PUSH_ROUTES, partner_id="another-partner")
    with pytest.raises(CarrierSignatureError):
        carrier_for(sf).parse_push(body=b"", headers={}, form=other)


def test_sfs_documented_unsigned_json_push_is_refused(sf):
    body = sf.push_json(PUSH_ROUTES)
    assert json.loads(body)["Body"]["WaybillRoute"][0]["mailno"] == "SF1234567890123"
    with pytest.raises(CarrierSignatureError, match="unsigned"):
        carrier_for(sf).parse_push(body=body, headers={"content-type": "application/json;charset=UTF-8"}, form={})


def test_push_replies():
    carrier = SFExpress(Credentials("http://127.0.0.1:1/std/service", PARTNER, CHECK_WORD))
    ok = carrier.push_reply(ok=True)
    assert (ok.status, ok.content_type) == (200, "application/json;charset=UTF-8")
    assert json.loads(ok.body) == {"return_code": "0000", "return_msg": "成功"}
    refused = carrier.push_reply(ok=False, message=f"签名错误 {CHECK_WORD}")
    assert json.loads(refused.body) == {"return_code": "1000", "return_msg": "签名错误 ***"}


# -- secrets ----------------------------------------------------------------------------------


def test_no_credentials_in_errors_or_logs(sf, caplog):
    caplog.set_level(logging.DEBUG)
    carrier = carrier_for(sf, timeout=0.3)
    errors: list[CarrierError] = []
    answers = ["server_error", "timeout", "bad_json", "busy", "business_error", "duplicate", ("A1001", PARTNER)]
    sf.answers.extend(answers)
    for _ in answers:
        with pytest.raises(CarrierError) as caught:
            carrier.create_waybill(waybill_request())
        errors.append(caught.value)
    with pytest.raises(CarrierError) as caught:
        carrier_for(sf, check_word="wrong-check-word-123").create_waybill(waybill_request())
    errors.append(caught.value)
    for form in (sf.push_form(PUSH_ROUTES, check_word="x" * 8), {"msgData": "{}"}):
        with pytest.raises(CarrierError) as caught:
            carrier.parse_push(body=b"", headers={}, form=form)
        errors.append(caught.value)
    carrier.create_waybill(waybill_request())
    sf.routes["SF1234567890123"] = [("1234", "2026-01-28 14:22:00", "new code")]
    carrier.query_tracking(["SF1234567890123"])
    carrier.parse_push(body=b"", headers={}, form=sf.push_form(PUSH_ROUTES))

    digests = {r.form.get("msgDigest") for r in sf.requests} - {None}
    texts = [caplog.text] + [f"{e!r} {e} {e.message} {e.code}" for e in errors]
    for text in texts:
        for secret in (CHECK_WORD, PARTNER, "wrong-check-word-123", *digests):
            assert secret not in text
    assert CHECK_WORD not in repr(carrier.credentials)
