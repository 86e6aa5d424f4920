"""A local Alipay OpenAPI gateway (`/gateway.do`) that serves `alipay.trade.refund`.

It checks a request the way Alipay does: a form-encoded POST with app_id, method, format,
charset, sign_type=RSA2, timestamp ("yyyy-MM-dd HH:mm:ss"), version=1.0, biz_content and
sign = Base64(SHA256withRSA) over the other non-empty parameters sorted as k=v&k=v, verified
here with the merchant's public key (code 40002, sub_code isv.invalid-signature when it does
not match; that answer is unsigned, as gateway-level errors may be). It answers
{"alipay_trade_refund_response": {...}, "sign": "..."} with the sign made by its own private
key over the exact JSON text of the response object.

Money moves at most once per (out_trade_no, out_request_no): a repeat gets the earlier answer
again with fund_change "N" (another amount under the same out_request_no:
ACQ.DISCORDANT_REPEAT_REQUEST). A refund beyond the trade's total is refused
(ACQ.REASON_TRADE_REFUND_FEE_ERR); an unknown trade is ACQ.TRADE_NOT_EXIST.

    with FakeAlipay(merchant_public_key=pem) as alipay:
        alipay.trade("OH20260128-00001", total="199.00")
        alipay.public_key_pem            # what the account stores as the gateway public key
        alipay.requests[-1].biz          # biz_content, parsed
        alipay.money_moves               # [(out_trade_no, out_request_no, amount)], once per refund

Answers can be queued: alipay.answers.extend(["system_error", "ok"]); the default is "ok".
Others: "server_error" (HTTP 502), "timeout" (no answer until the client has given up),
"lost_answer" (the refund is done, then no answer: the client times out), "bad_json",
"balance" (ACQ.SELLER_BALANCE_NOT_ENOUGH), "trade_finished" (ACQ.TRADE_HAS_FINISHED),
"forged" (a success signed with a key that is not Alipay's), or a tuple (code, sub_code, sub_msg).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .gateway import FakeGateway

PATH = "/gateway.do"
NODE = "alipay_trade_refund_response"
AMOUNT_RE = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def rsa_key_pair(bits: int = 2048) -> tuple[str, str]:
    """(private PEM, public PEM): a throwaway key pair for a test."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private, public


def _sign(private_pem: str, text: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    return base64.b64encode(key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def signed_string(form: dict[str, str]) -> str:
    """The gateway's own computation of what the merchant signed."""
    return "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign" and form[k] != "")


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    form: dict

    @property
    def biz(self) -> dict:
        return json.loads(self.form["biz_content"])


@dataclass
class Trade:
    out_trade_no: str
    trade_no: str
    total: Decimal
    refunded: Decimal = Decimal("0.00")
    # out_request_no -> (amount, the answer given)
    refunds: dict[str, tuple[Decimal, dict]] = field(default_factory=dict)


class FakeAlipay(FakeGateway):
    path = PATH
    server_error_status = 502
    server_error_page = b"<html><body>502 Bad Gateway</body></html>"
    busy_page = b"<html><body>busy</body></html>"

    def __init__(self, *, merchant_public_key: str, app_id: str = "2021000000000001"):
        self.app_id = app_id
        self.merchant_public_key = serialization.load_pem_public_key(merchant_public_key.encode("ascii"))
        self.private_key_pem, self.public_key_pem = rsa_key_pair()
        self.trades: dict[str, Trade] = {}
        self.money_moves: list[tuple[str, str, Decimal]] = []
        self._trade_numbers = itertools.count(2026012822001400001)
        super().__init__()

    def trade(self, out_trade_no: str, *, total) -> Trade:
        """A paid trade the buyer made under our out_trade_no."""
        with self._lock:
            trade = Trade(out_trade_no, str(next(self._trade_numbers)), Decimal(str(total)))
            self.trades[out_trade_no] = trade
            return trade

    def calls_for(self, out_request_no: str) -> int:
        return sum(1 for r in self.requests if _safe_biz(r).get("out_request_no") == out_request_no)

    # -- the gateway ------------------------------------------------------------------------
    def _check(self, received: Received) -> tuple[str, str, str] | None:
        """(code, sub_code, sub_msg) of a request the gateway refuses before the business."""
        form = received.form
        if not received.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return "40001", "isv.missing-method", "缺少方法名参数 (form expected)"
        for name in ("app_id", "method", "charset", "sign_type", "sign", "timestamp", "version"):
            if not form.get(name):
                return "40001", f"isv.missing-{name.replace('_', '-')}", f"缺少{name}参数"
        if form["method"] != "alipay.trade.refund":
            return "40002", "isv.invalid-method", "不存在的方法名"
        if form["app_id"] != self.app_id:
            return "40002", "isv.invalid-app-id", "无效的AppID参数"
        if form["sign_type"] != "RSA2":
            return "40002", "isv.invalid-signature-type", "无效的签名类型"
        if form["charset"].lower() != "utf-8" or form["version"] != "1.0" or form.get("format", "JSON") != "JSON":
            return "40002", "isv.invalid-parameter", "参数无效"
        try:
            datetime.strptime(form["timestamp"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return "40002", "isv.invalid-timestamp", "非法的时间戳参数"
        try:
            self.merchant_public_key.verify(
                base64.b64decode(form["sign"], validate=True),
                signed_string(form).encode("utf-8"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return "40002", "isv.invalid-signature", "验签出错"
        return None

    def _refund(self, biz: dict) -> dict:
        """The business: returns the response object (success or 40004)."""
        out_trade_no = str(biz.get("out_trade_no") or "")
        out_request_no = str(biz.get("out_request_no") or "")
        raw_amount = str(biz.get("refund_amount") or "")
        if not out_trade_no or not out_request_no or not AMOUNT_RE.match(raw_amount):
            return _business("ACQ.INVALID_PARAMETER", "参数无效", out_trade_no)
        try:
            amount = Decimal(raw_amount)
        except InvalidOperation:
            return _business("ACQ.INVALID_PARAMETER", "参数无效", out_trade_no)
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return _business("ACQ.TRADE_NOT_EXIST", "交易不存在", out_trade_no)
        earlier = trade.refunds.get(out_request_no)
        if earlier is not None:
            earlier_amount, answer = earlier
            if earlier_amount != amount:
                return _business("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求", out_trade_no)
            return {**answer, "fund_change": "N"}
        if amount <= 0 or trade.refunded + amount > trade.total:
            return _business("ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额无效", out_trade_no)
        trade.refunded += amount
        self.money_moves.append((out_trade_no, out_request_no, amount))
        answer = {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": out_trade_no,
            "buyer_logon_id": "159****5620",
            "fund_change": "Y",
            "refund_fee": f"{trade.refunded:.2f}",
            "gmt_refund_pay": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "send_back_fee": f"{amount:.2f}",
        }
        trade.refunds[out_request_no] = (amount, answer)
        return answer

    def _body(self, node: dict, *, sign_with: str | None) -> bytes:
        node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"{NODE}":{node_text}'
        if sign_with is not None:
            body += f',"sign":"{_sign(sign_with, node_text)}"'
        return (body + "}").encode("utf-8")

    def _answer(self, received: Received, answer) -> bytes:
        refused = self._check(received)
        if refused:
            code, sub_code, sub_msg = refused
            node = {"code": code, "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg}
            # Alipay leaves some gateway-level refusals unsigned; a bad signature is one.
            return self._body(node, sign_with=None if sub_code == "isv.invalid-signature" else self.private_key_pem)
        try:
            biz = received.biz
        except ValueError:
            biz = None
        if not isinstance(biz, dict):
            return self._body(
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-parameter"},
                sign_with=self.private_key_pem,
            )
        out_trade_no = str(biz.get("out_trade_no") or "")
        if answer == "system_error":
            node = _business("ACQ.SYSTEM_ERROR", "系统错误", out_trade_no)
        elif answer == "balance":
            node = _business("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足", out_trade_no)
        elif answer == "trade_finished":
            node = _business("ACQ.TRADE_HAS_FINISHED", "交易已完结", out_trade_no)
        elif isinstance(answer, tuple):
            code, sub_code, sub_msg = answer
            node = {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}
        elif answer in ("ok", "lost_answer", "forged"):
            with self._lock:
                node = self._refund(biz)
            if answer == "forged":
                forger, _public = rsa_key_pair(1024)
                return self._body(node, sign_with=forger)
        else:
            raise ValueError(f"unknown FakeAlipay answer {answer!r}")
        return self._body(node, sign_with=self.private_key_pem)

    def parse(self, *, path: str, headers: dict, body: bytes) -> Received:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        return Received(path=path, headers=headers, body=body, form=form)

    def respond(self, received: Received, answer) -> bytes | None:
        reply = self._answer(received, answer)
        # "lost_answer": done at Alipay, but the answer never reaches the merchant.
        return None if answer == "lost_answer" else reply


def _business(sub_code: str, sub_msg: str, out_trade_no: str) -> dict:
    return {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": sub_code,
        "sub_msg": sub_msg,
        "out_trade_no": out_trade_no,
        "refund_fee": "0.00",
        "send_back_fee": "0.00",
    }


def _safe_biz(received: Received) -> dict:
    try:
        biz = received.biz
    except (KeyError, ValueError):
        return {}
    return biz if isinstance(biz, dict) else {}
