"""One interface for every payment gateway that pays refunds. Adapters speak HTTP with
`requests`, explicit timeouts and no retries of their own (the outbox retries); they touch no
models and return plain data.

Exactly once at the gateway: every refund carries our idempotency key, and an adapter must send
it so that the gateway itself refuses to move the money twice for one key and answers a repeat
with its earlier result (Alipay: `out_request_no`). A retry after a lost answer is therefore
always safe, and always sends the same key and amount.

Errors (messages never contain keys or secrets):
- PaymentRetryLater: timeouts, connection trouble, HTTP 5xx, the gateway's "system busy"
  codes. The outbox tries again after a back-off, with the same key.
- PaymentGiveUp: retrying cannot help. `refused=True` when the gateway refused the refund and
  no money moved for this key (trade closed, amount too high): the refund is marked failed.
  `refused=False` when we cannot tell or cannot go on (bad credentials or signature, an answer
  we cannot verify): the refund stays pending for a person to look at, and the tech lead is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import requests


class PaymentError(Exception):
    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


class PaymentRetryLater(PaymentError):
    pass


class PaymentGiveUp(PaymentError):
    def __init__(self, message: str, *, code: str = "", refused: bool = False):
        super().__init__(message, code=code)
        self.refused = refused


@dataclass(frozen=True)
class GatewayCredentials:
    """What an account needs to call a gateway. Keys are PEM text (or bare Base64 DER, as
    Alipay's key tool writes them) and never shown in a repr."""

    endpoint: str
    app_id: str
    private_key: str = field(repr=False)
    gateway_public_key: str = field(repr=False)


@dataclass(frozen=True)
class RefundOrder:
    """What to pay back. `trade_reference` is the payment the buyer made (Alipay out_trade_no);
    `idempotency_key` is ours and the same on every attempt."""

    trade_reference: str
    amount: Decimal
    currency: str
    idempotency_key: str
    reason: str = ""


@dataclass(frozen=True)
class RefundResult:
    # The gateway's reference for the payment refunded (Alipay trade_no).
    gateway_reference: str
    # True when this call moved money; False when the gateway answered a repeated key with its
    # earlier result (the money moved on an earlier attempt).
    money_moved: bool
    # What the gateway says is refunded on that trade in total, when it says so.
    refunded_total: Decimal | None = None


class PaymentGateway:
    """Subclasses implement `refund` for one gateway."""

    code = ""
    name = ""

    def __init__(
        self, credentials: GatewayCredentials, *, session: requests.Session | None = None, timeout: float = 15.0
    ):
        self.credentials = credentials
        self.session = session or requests.Session()
        self.timeout = timeout

    def refund(self, order: RefundOrder) -> RefundResult:
        raise NotImplementedError

    def _post(self, url: str, **kwargs) -> requests.Response:
        """POST with the timeout; transport trouble and 5xx become PaymentRetryLater."""
        try:
            response = self.session.post(url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise PaymentRetryLater(f"{self.name}: no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise PaymentRetryLater(f"{self.name}: connection failed ({type(exc).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise PaymentRetryLater(f"{self.name}: HTTP {response.status_code}", code=str(response.status_code))
        if response.status_code >= 400:
            raise PaymentGiveUp(f"{self.name}: HTTP {response.status_code}", code=str(response.status_code))
        return response


ADAPTERS = {"alipay": ("alipay", "Alipay")}


def gateway_class(code: str) -> type[PaymentGateway]:
    from importlib import import_module

    if code not in ADAPTERS:
        raise KeyError(f"no adapter for payment gateway {code!r}")
    module, name = ADAPTERS[code]
    return getattr(import_module(f"{__package__}.{module}"), name)
