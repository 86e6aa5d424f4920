"""The Alipay adapter on its own: what it signs, how it reads and verifies answers, and how
Alipay's codes map to retry / refused / needs a person. No database."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from integrations.payments.alipay import Alipay, _node_text, _sign_content, load_public_key
from integrations.payments.base import GatewayCredentials, PaymentGiveUp, PaymentRetryLater, RefundOrder
from tests.fakes.alipay import rsa_key_pair

ORDER = RefundOrder(
    trade_reference="OH20260128-00001", amount=Decimal("88"), currency="CNY", idempotency_key="OH20260128-00001-R1-1"
)


@pytest.fixture(scope="module")
def alipay_keys():
    return rsa_key_pair()


@pytest.fixture
def adapter(merchant_keys, alipay_keys):
    return Alipay(
        GatewayCredentials(
            endpoint="http://127.0.0.1:9/gateway.do",
            app_id="2021000000000001",
            private_key=merchant_keys[0],
            gateway_public_key=alipay_keys[1],
        )
    )


def signed_body(node: dict, key_pem: str, *, pretty: bool = False) -> bytes:
    """An answer as Alipay writes it, signed over the exact text of the response object."""
    node_text = json.dumps(node, ensure_ascii=False, indent=2 if pretty else None)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    sign = base64.b64encode(key.sign(node_text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    sep = "\n  " if pretty else ""
    return f'{{{sep}"alipay_trade_refund_response" : {node_text},{sep}"sign":"{sign}"}}'.encode()


def read(adapter, body: bytes):
    return adapter._result(body, ORDER, load_public_key(adapter.credentials.gateway_public_key))


def test_the_signed_string_is_sorted_and_skips_empty_values_and_the_sign():
    params = {"sign": "x", "b": "2", "a": "1", "empty": "", "biz_content": '{"k":"值"}'}
    assert _sign_content(params) == 'a=1&b=2&biz_content={"k":"值"}'


def test_the_signed_text_is_the_response_object_exactly_as_sent():
    body = '{"alipay_trade_refund_response" :  {"code":"10000", "msg" : "Success"} ,"sign":"abc"}'
    assert _node_text(body, "alipay_trade_refund_response") == '{"code":"10000", "msg" : "Success"}'
    assert _node_text(body, "missing") is None


def test_a_pretty_printed_unicode_answer_verifies(adapter, alipay_keys):
    node = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2026012822001400001",
        "out_trade_no": ORDER.trade_reference,
        "buyer_logon_id": "159****5620",
        "fund_change": "Y",
        "refund_fee": "88.00",
        "sub_msg_cn": "退款成功",
    }
    result = read(adapter, signed_body(node, alipay_keys[0], pretty=True))
    assert (result.gateway_reference, result.money_moved, result.refunded_total) == (
        "2026012822001400001",
        True,
        Decimal("88.00"),
    )


def test_a_replayed_answer_says_no_money_moved_this_time(adapter, alipay_keys):
    node = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "1",
        "out_trade_no": ORDER.trade_reference,
        "fund_change": "N",
    }
    assert read(adapter, signed_body(node, alipay_keys[0])).money_moved is False


def test_a_success_that_is_unsigned_or_for_another_trade_is_not_trusted(adapter, alipay_keys):
    node = {"code": "10000", "msg": "Success", "trade_no": "1", "out_trade_no": ORDER.trade_reference}
    unsigned = json.dumps({"alipay_trade_refund_response": node}).encode()
    with pytest.raises(PaymentGiveUp, match="without a signature") as info:
        read(adapter, unsigned)
    assert info.value.refused is False
    other = {**node, "out_trade_no": "SOMEONE-ELSE"}
    with pytest.raises(PaymentGiveUp, match="another trade") as info:
        read(adapter, signed_body(other, alipay_keys[0]))
    assert info.value.refused is False


@pytest.mark.parametrize(
    ("code", "sub_code", "outcome"),
    [
        ("20000", "isp.unknow-error", "retry"),
        ("40004", "ACQ.SYSTEM_ERROR", "retry"),
        ("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH", "retry"),
        ("40004", "ACQ.TRADE_HAS_FINISHED", "refused"),
        ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "refused"),
        ("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR", "refused"),
        ("40004", "ACQ.TRADE_NOT_EXIST", "refused"),
        # Same key, another amount: money may have moved under that key. A person looks.
        ("40004", "ACQ.DISCORDANT_REPEAT_REQUEST", "person"),
        ("40004", "ACQ.SOMETHING_NEW", "person"),
        ("40002", "isv.invalid-signature", "person"),
        ("40006", "isv.insufficient-isv-permissions", "person"),
    ],
)
def test_alipay_codes_map_to_retry_refused_or_a_person(adapter, alipay_keys, code, sub_code, outcome):
    node = {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": "说明"}
    expected = PaymentRetryLater if outcome == "retry" else PaymentGiveUp
    with pytest.raises(expected) as info:
        read(adapter, signed_body(node, alipay_keys[0]))
    assert sub_code in info.value.message
    if outcome != "retry":
        assert info.value.refused is (outcome == "refused")


def test_an_error_answer_signed_by_someone_else_is_not_believed(adapter):
    forger = rsa_key_pair(1024)[0]
    node = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_HAS_FINISHED"}
    with pytest.raises(PaymentGiveUp, match="signature does not match") as info:
        read(adapter, signed_body(node, forger))
    assert info.value.refused is False, "a forged refusal must not fail the refund"


def test_an_error_response_node_and_garbage(adapter):
    body = json.dumps({"error_response": {"code": "40002", "sub_code": "isv.invalid-app-id"}}).encode()
    with pytest.raises(PaymentGiveUp, match=r"isv\.invalid-app-id"):
        read(adapter, body)
    with pytest.raises(PaymentRetryLater, match="not JSON"):
        read(adapter, b"<html>busy</html>")
    with pytest.raises(PaymentRetryLater, match="unexpected"):
        read(adapter, b'{"other": 1}')


def test_only_cny_is_refunded(adapter):
    with pytest.raises(PaymentGiveUp, match="CNY only") as info:
        adapter.refund(RefundOrder("OH1", Decimal("1.00"), "USD", "key-000001"))
    assert info.value.refused is True


def test_an_unreachable_gateway_is_retried(adapter):
    with pytest.raises(PaymentRetryLater, match="connection failed"):
        adapter.refund(ORDER)
