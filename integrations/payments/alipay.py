"""Alipay refunds: `alipay.trade.refund` on the OpenAPI gateway (openapi.alipay.com/gateway.do).

Request: a form-encoded POST (UTF-8) of the public parameters app_id, method, format=JSON,
charset=utf-8, sign_type=RSA2, timestamp ("yyyy-MM-dd HH:mm:ss", Beijing time), version=1.0
and biz_content, a JSON object with out_trade_no (the merchant's order number the buyer paid
under), refund_amount (yuan, two decimals), out_request_no (our idempotency key) and
refund_reason. sign = Base64(SHA256withRSA(private key, the parameters except `sign` whose
value is not empty, sorted by name, joined as k=v&k=v)).

Answer: {"alipay_trade_refund_response": {"code": "10000", "msg": "Success", "trade_no",
"out_trade_no", "refund_fee" (refunded on the trade so far), "fund_change": "Y"|"N", …},
"sign": "…"}, the sign made by Alipay over the exact JSON text of the response object,
verified with Alipay's public key. Alipay moves money at most once per (trade, out_request_no):
a repeat is answered with the earlier result and fund_change "N". Errors: code 20000 (service
unavailable), 40002 (bad parameters, e.g. sub_code isv.invalid-signature), 40004 (business
failure, sub_code ACQ.*), and others.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils.translation import gettext as _

from .base import PaymentGateway, PaymentGiveUp, PaymentRetryLater, RefundOrder, RefundResult

METHOD = "alipay.trade.refund"
RESPONSE_NODE = "alipay_trade_refund_response"
ERROR_NODE = "error_response"
BEIJING = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
_PEM_BOUNDARY = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]+-----")

# Passing trouble: try again later with the same out_request_no.
RETRY_SUB_CODES = frozenset(
    {
        "ACQ.SYSTEM_ERROR",
        "AQC.SYSTEM_ERROR",  # spelled so in Alipay's own error tables
        "isp.unknow-error",
        "aop.ACQ.SYSTEM_ERROR",
        # The merchant's balance cannot cover it: finance tops up, the retry then pays.
        "ACQ.SELLER_BALANCE_NOT_ENOUGH",
    }
)
# Alipay refused and no money moved for this out_request_no: the refund has failed.
REFUSED_SUB_CODES = frozenset(
    {
        "ACQ.TRADE_HAS_FINISHED",
        "ACQ.TRADE_HAS_CLOSE",
        "ACQ.TRADE_NOT_EXIST",
        "ACQ.TRADE_STATUS_ERROR",
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        "ACQ.REASON_TRADE_REFUND_FEE_ERR",
        "ACQ.REFUND_FEE_ERROR",
        "ACQ.BUYER_ERROR",
        "ACQ.INVALID_PARAMETER",
        "ACQ.ONLINE_TRADE_VOUCHER_NOT_ALLOW_REFUND",
        "ACQ.REFUND_CHARGE_ERROR",
    }
)
_EXPLAINED = {
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": lambda: _("the Alipay balance cannot cover the refund: top it up"),
    "ACQ.TRADE_HAS_FINISHED": lambda: _("the trade is finished and can no longer be refunded through Alipay"),
    "ACQ.TRADE_NOT_EXIST": lambda: _("Alipay knows no such trade"),
    "ACQ.REASON_TRADE_REFUND_FEE_ERR": lambda: _("the amount is more than is left to refund on the trade"),
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": lambda: _("the amount does not match the trade"),
    "ACQ.DISCORDANT_REPEAT_REQUEST": lambda: _("this refund number was used before with another amount"),
    "isv.invalid-signature": lambda: _("Alipay did not accept our signature: check the app private key"),
    "isv.invalid-app-id": lambda: _("Alipay does not know the app id"),
}


def _sign_content(params: dict[str, str]) -> str:
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "sign" and params[key] not in ("", None))


def _key_der(text: str) -> bytes:
    """The DER bytes of a key given as PEM (line breaks optional: a password field drops them)
    or as the bare Base64 that Alipay's key tool writes."""
    body = _PEM_BOUNDARY.sub("", text or "")
    return base64.b64decode("".join(body.split()), validate=True)


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_der_private_key(_key_der(text), password=None)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PaymentGiveUp(_("Alipay: the account's app private key cannot be read (an RSA key is expected)."))
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_der_public_key(_key_der(text))
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, rsa.RSAPublicKey):
        raise PaymentGiveUp(_("Alipay: the account's Alipay public key cannot be read (an RSA key is expected)."))
    return key


def _node_text(body: str, node: str) -> str | None:
    """The exact JSON text of the top-level member `node` of `body`: what Alipay signed."""
    key = f'"{node}"'
    start = body.find(key)
    if start < 0:
        return None
    index = start + len(key)
    while index < len(body) and body[index] in " \t\r\n":
        index += 1
    if index >= len(body) or body[index] != ":":
        return None
    index += 1
    while index < len(body) and body[index] in " \t\r\n":
        index += 1
    try:
        _value, end = json.JSONDecoder().raw_decode(body, index)
    except ValueError:
        return None
    return body[index:end]


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


class Alipay(PaymentGateway):
    code = "alipay"
    name = "Alipay"

    def refund(self, order: RefundOrder) -> RefundResult:
        if order.currency.upper() != "CNY":
            raise PaymentGiveUp(
                _("Alipay refunds trades in CNY only; this one is in %(currency)s.") % {"currency": order.currency},
                refused=True,
            )
        amount = Decimal(order.amount).quantize(CENT, rounding=ROUND_HALF_UP)
        private_key = load_private_key(self.credentials.private_key)
        public_key = load_public_key(self.credentials.gateway_public_key)
        biz = {
            "out_trade_no": order.trade_reference,
            "refund_amount": f"{amount:.2f}",
            "out_request_no": order.idempotency_key,
        }
        if order.reason:
            biz["refund_reason"] = order.reason[:256]
        params = {
            "app_id": self.credentials.app_id,
            "method": METHOD,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        signature = private_key.sign(_sign_content(params).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        params["sign"] = base64.b64encode(signature).decode("ascii")
        response = self._post(
            self.credentials.endpoint,
            data=params,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        return self._result(response.content, order, public_key)

    def _result(self, content: bytes, order: RefundOrder, public_key: rsa.RSAPublicKey) -> RefundResult:
        try:
            body = content.decode("utf-8")
            data = json.loads(body)
        except ValueError:
            raise PaymentRetryLater(_("Alipay: the answer was not JSON.")) from None
        node_name = next((n for n in (RESPONSE_NODE, ERROR_NODE) if isinstance(data, dict) and n in data), None)
        if node_name is None or not isinstance(data[node_name], dict):
            raise PaymentRetryLater(_("Alipay: unexpected answer."))
        node = data[node_name]
        sign = data.get("sign")
        if sign and not self._verified(_node_text(body, node_name), sign, public_key):
            raise PaymentGiveUp(
                _(
                    "Alipay: the answer's signature does not match the Alipay public key on the account; "
                    "whether money moved is unknown, so the refund stays pending."
                )
            )
        code = str(node.get("code") or "")
        sub_code = str(node.get("sub_code") or "")
        if code == "10000":
            if not sign:
                raise PaymentGiveUp(
                    _("Alipay: a success answer without a signature; whether money moved is unknown, it stays pending.")
                )
            if node.get("out_trade_no") not in (None, "", order.trade_reference):
                raise PaymentGiveUp(_("Alipay answered for another trade; the refund stays pending."))
            return RefundResult(
                gateway_reference=str(node.get("trade_no") or ""),
                money_moved=node.get("fund_change") == "Y",
                refunded_total=_decimal(node.get("refund_fee")),
            )
        detail = " ".join(p for p in (code, sub_code, str(node.get("sub_msg") or node.get("msg") or "")) if p)
        explained = _EXPLAINED.get(sub_code)
        message = f"Alipay: {explained()} ({detail})" if explained else f"Alipay: {detail}"
        if code == "20000" or sub_code in RETRY_SUB_CODES:
            raise PaymentRetryLater(message, code=sub_code or code)
        if code == "40004" and sub_code in REFUSED_SUB_CODES:
            raise PaymentGiveUp(message, code=sub_code, refused=True)
        raise PaymentGiveUp(message, code=sub_code or code)

    @staticmethod
    def _verified(text: str | None, sign: str, public_key: rsa.RSAPublicKey) -> bool:
        if text is None:
            return False
        try:
            public_key.verify(
                base64.b64decode(sign, validate=True), text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return True
