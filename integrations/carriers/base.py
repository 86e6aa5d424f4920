"""One interface for every carrier. Adapters speak HTTP with `requests`, explicit timeouts and
no retries of their own (the outbox retries); they touch no models and return plain data.

Errors:
- CarrierRetryLater: timeouts, connection trouble, HTTP 5xx, rate limits, the carrier's own
  "busy/unavailable" codes. The outbox tries again after a back-off.
- CarrierGiveUp: bad credentials or signature, invalid data, anything retrying cannot fix.
- CarrierDuplicate: the carrier already has this carrier-side order id. Because that id is
  derived from our shipment (or order, for pickups), a duplicate means an earlier attempt got
  through: callers treat it as success.
- CarrierSignatureError: a push whose signature does not verify.
- CarrierUnsupported (a CarrierGiveUp): the adapter does not offer this call (return labels).
Messages never contain credentials.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import requests

PICKED_UP = "picked_up"
IN_TRANSIT = "in_transit"
DELIVERED = "delivered"
# A delivery exception: the courier could not deliver (refused, nobody home, address wrong,
# held); the parcel may still be delivered later.
EXCEPTION = "exception"
# Returned to the sender (退回/退件): the parcel is on its way back, or back, to the warehouse.
RETURNED = "returned"
TRACKING_KINDS = (PICKED_UP, IN_TRANSIT, DELIVERED, EXCEPTION, RETURNED)


class CarrierError(Exception):
    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


class CarrierRetryLater(CarrierError):
    pass


class CarrierGiveUp(CarrierError):
    pass


class CarrierDuplicate(CarrierError):
    pass


class CarrierSignatureError(CarrierError):
    pass


class CarrierRefusedBusiness(CarrierGiveUp):
    """The carrier's platform accepted the call, and the carrier refused what was asked for this
    parcel or order (its business answer). For most calls that is giving up like any other; an
    interception's refusal is its result (the parcel could not be stopped)."""


class CarrierUnsupported(CarrierGiveUp):
    """This carrier (or its adapter) cannot do what was asked, e.g. issue a return label."""


@dataclass(frozen=True)
class Credentials:
    """What an account needs to call a carrier. `app_key` is SF's partnerID (顾客编码), ZTO's
    app key, Cainiao's logistic_provider_id; `app_secret` is SF's checkWord, ZTO's app secret,
    Cainiao's secret key. `extra` holds carrier-specific settings (SF monthly card, Cainiao
    to_code, …)."""

    endpoint: str
    app_key: str
    app_secret: str = field(repr=False)
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Credentials(endpoint={self.endpoint!r}, app_key={self.app_key!r}, app_secret=<hidden>)"


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    province: str
    city: str
    district: str
    address: str
    postal_code: str = ""


@dataclass(frozen=True)
class WaybillRequest:
    # Ours, derived from our shipment ("OH20260128-00001-S1") or order ("…-P" for a pickup),
    # so a retry sends the same id and the carrier can refuse a second waybill.
    carrier_order_id: str
    sender: Address
    receiver: Address
    # Known when the warehouse printed the label and we upload it; None when the carrier
    # assigns one.
    tracking_number: str | None = None
    weight_kg: Decimal | None = None
    description: str = "商品"
    parcels: int = 1


@dataclass(frozen=True)
class WaybillResult:
    carrier_order_id: str
    tracking_number: str | None
    # True when the carrier said it already had this order (an earlier attempt got through).
    already_existed: bool = False


@dataclass(frozen=True)
class TrackingEvent:
    tracking_number: str
    kind: str  # one of TRACKING_KINDS
    occurred_at: dt.datetime  # aware
    description: str = ""
    location: str = ""
    carrier_code: str = ""  # the carrier's own code for this step (SF opCode, …)


@dataclass(frozen=True)
class InterceptRequest:
    """截单 of a parcel on its way: the carrier stops it and returns it to the sender."""

    tracking_number: str
    reason: str
    # Ours, derived from the hub's interception ("OH20260128-00001-I7"): a retry names the
    # same request.
    request_id: str


@dataclass(frozen=True)
class InterceptResult:
    # True: the carrier took the request and returns the parcel. False: it refused (delivered
    # already, out for delivery, …), `message` says why: the parcel goes on to the buyer.
    accepted: bool
    message: str = ""


@dataclass(frozen=True)
class PushReply:
    """What the carrier expects back from our push endpoint."""

    status: int
    content_type: str
    body: bytes


class Carrier:
    """Subclasses implement the four calls for one carrier (and return labels where offered)."""

    code = ""
    name = ""
    # How many tracking numbers one query may carry.
    tracking_batch_size = 10

    def __init__(self, credentials: Credentials, *, session: requests.Session | None = None, timeout: float = 10.0):
        self.credentials = credentials
        self.session = session or requests.Session()
        self.timeout = timeout

    def create_waybill(self, request: WaybillRequest) -> WaybillResult:
        """Upload a shipment (create the carrier order / electronic waybill)."""
        raise NotImplementedError

    def book_pickup(self, request: WaybillRequest) -> WaybillResult:
        """Ask for a courier to collect the parcel."""
        raise NotImplementedError

    def create_return_label(self, request: WaybillRequest, *, prepaid: bool) -> WaybillResult:
        """A return waybill: `request.sender` is the buyer, `request.receiver` the warehouse,
        the carrier assigns the number and collects from the buyer. `prepaid`: the merchant
        pays the postage (else the buyer pays the courier). Adapters that do not offer it keep
        this default, and `carrier_supports_return_labels` says so before any call."""
        raise CarrierUnsupported(f"{self.name}: return labels are not supported for this carrier")

    def query_tracking(self, tracking_numbers: list[str]) -> list[TrackingEvent]:
        """Route events for up to `tracking_batch_size` numbers, oldest first."""
        raise NotImplementedError

    def intercept(self, request: InterceptRequest) -> InterceptResult:
        """Ask the carrier to stop a parcel and return it (截单). A refusal the carrier gives for
        this parcel is a result (accepted=False), not an error; errors are the usual ones.
        Adapters without an interception API keep this default (`carrier_supports_interception`)."""
        raise CarrierUnsupported(f"{self.name}: interception is not supported for this carrier")

    def parse_push(self, *, body: bytes, headers: dict[str, str], form: dict[str, str]) -> list[TrackingEvent]:
        """Verify a route push's signature (CarrierSignatureError if it fails) and return its
        events. Carriers without pushes raise NotImplementedError."""
        raise NotImplementedError

    def push_reply(self, *, ok: bool, message: str = "") -> PushReply:
        raise NotImplementedError

    # Shared plumbing ----------------------------------------------------------------------

    def _secret_values(self) -> tuple[str, ...]:
        """What must never appear in a message: the account's key and secret (adapters add
        their own, e.g. a password in `extra`)."""
        return (self.credentials.app_secret, self.credentials.app_key)

    def _scrub(self, text: str) -> str:
        """Remove the account's secrets from a text (a carrier may echo them back)."""
        for value in self._secret_values():
            if value and len(value) >= 4:
                text = text.replace(value, "***")
        return text

    def _post(self, url: str, **kwargs) -> requests.Response:
        """POST with the timeout; transport trouble and 5xx become CarrierRetryLater."""
        try:
            response = self.session.post(url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise CarrierRetryLater(f"{self.name}: no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise CarrierRetryLater(f"{self.name}: connection failed ({type(exc).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise CarrierRetryLater(f"{self.name}: HTTP {response.status_code}", code=str(response.status_code))
        if response.status_code >= 400:
            raise CarrierGiveUp(f"{self.name}: HTTP {response.status_code}", code=str(response.status_code))
        return response

    def _json(self, response: requests.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            raise CarrierRetryLater(f"{self.name}: the answer was not JSON") from None
        if not isinstance(data, dict):
            raise CarrierRetryLater(f"{self.name}: unexpected answer")
        return data


ADAPTERS = {"sf": ("sf", "SFExpress"), "zto": ("zto", "ZTOExpress"), "cainiao": ("cainiao", "Cainiao")}


def carrier_supports_return_labels(code: str) -> bool:
    return carrier_class(code).create_return_label is not Carrier.create_return_label


def carrier_supports_interception(code: str) -> bool:
    return code in ADAPTERS and carrier_class(code).intercept is not Carrier.intercept


def carrier_class(code: str) -> type[Carrier]:
    from importlib import import_module

    if code not in ADAPTERS:
        raise KeyError(f"no adapter for carrier {code!r}")
    module, name = ADAPTERS[code]
    return getattr(import_module(f"{__package__}.{module}"), name)
