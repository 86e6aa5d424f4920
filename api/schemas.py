"""What the API reads and answers (pydantic, through django-ninja): the OpenAPI document is
generated from these, so the document and the answers cannot drift apart."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from ninja import Field, Schema

from aftersales.models import ReturnStatus
from alerts.models import AlertStatus
from orders.states import TRANSITIONS, Carrier, Channel, ExceptionReason, MainStatus, State, WarehouseStage

# Enums in the document, so a client (and schemathesis) knows every value there is.
ActionName = Enum("ActionName", {t.action: t.action for t in TRANSITIONS}, type=str)  # type: ignore[misc]
StateName = Enum("StateName", {s.value: s.value for s in State}, type=str)  # type: ignore[misc]
MainStatusName = Enum("MainStatusName", {s.value: s.value for s in MainStatus}, type=str)  # type: ignore[misc]
ChannelName = Enum("ChannelName", {c.value: c.value for c in Channel}, type=str)  # type: ignore[misc]
CarrierName = Enum("CarrierName", {c.value: c.value for c in Carrier}, type=str)  # type: ignore[misc]
StageName = Enum(  # type: ignore[misc]
    "StageName", {s.value or "none": s.value for s in WarehouseStage if s.value}, type=str
)
ReasonName = Enum("ReasonName", {r.value: r.value for r in ExceptionReason}, type=str)  # type: ignore[misc]
AlertStatusName = Enum("AlertStatusName", {s.value: s.value for s in AlertStatus}, type=str)  # type: ignore[misc]
ReturnStatusName = Enum("ReturnStatusName", {s.value: s.value for s in ReturnStatus}, type=str)  # type: ignore[misc]


class Error(Schema):
    """Every refusal: a stable `code` to branch on, a `message` to show a person."""

    code: str
    message: str
    details: list[dict] | None = None
    # 409 stale_version: who changed the order, when, and the versions.
    changed_by: str | None = None
    changed_at: datetime | None = None
    expected_version: int | None = None
    current_version: int | None = None


class ErrorOut(Schema):
    error: Error


class Me(Schema):
    name: str
    role: str
    brands: list[str]
    rate_limit_per_minute: int


class OrderSummary(Schema):
    id: int
    number: str
    channel: str
    external_id: str
    brand: str
    shop: str
    state: str
    main_status: str
    payment_status: str
    warehouse_stage: str
    warehouse: str | None
    cs_owner: str | None
    priority: int
    amount: str
    currency: str
    is_gift: bool
    main_order: str | None
    ordered_at: datetime
    state_changed_at: datetime
    updated_at: datetime
    version: int


class OrderPage(Schema):
    items: list[OrderSummary]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null on the last page.")


class Line(Schema):
    position: int
    sku: str
    name: str
    quantity: int
    unit_price: str
    discount: str
    currency: str
    is_gift: bool


class ShipmentOut(Schema):
    sequence: int
    carrier: str
    tracking_number: str
    reason: str
    created_at: datetime


class EventOut(Schema):
    id: int
    action: str
    verb: str
    from_state: str
    to_state: str
    actor_name: str
    actor_role: str
    occurred_at: datetime
    order_version: int
    note: str


class Buyer(Schema):
    email: str
    phone: str
    recipient_name: str
    recipient_phone: str
    province: str
    city: str
    district: str
    address: str
    postcode: str


class OrderDetail(OrderSummary):
    buyer: Buyer
    buyer_remark: str
    available_actions: list[str] = Field(description="The actions this client's role may take on the order now.")
    lines: list[Line]
    shipments: list[ShipmentOut]
    events: list[EventOut]


class ActionIn(Schema):
    expected_version: int = Field(
        ge=1, description="The order's version as you last read it; a change since answers 409 stale_version."
    )
    note: str = Field("", max_length=2000)
    carrier: CarrierName | None = None  # type: ignore[valid-type]
    tracking_number: str | None = Field(None, max_length=64)
    warehouse: str | None = Field(None, max_length=32, description="Warehouse code (allocate).")


class ActionOut(Schema):
    event: EventOut
    order: OrderSummary


class ExceptionOut(Schema):
    id: int
    order: str
    reason: str
    owner_role: str
    detail: str
    source: str
    raised_at: datetime
    cleared_at: datetime | None
    cleared_note: str


class ExceptionPage(Schema):
    items: list[ExceptionOut]
    next_cursor: str | None = None


class ClearIn(Schema):
    note: str = Field("", max_length=2000)


class AlertOut(Schema):
    id: int
    kind: str
    severity: str
    status: str
    title: str
    order: str | None
    integration: str
    assigned_role: str
    opened_at: datetime
    last_seen_at: datetime
    seen_count: int
    resolved_at: datetime | None


class AlertPage(Schema):
    items: list[AlertOut]
    next_cursor: str | None = None


class ReturnOut(Schema):
    id: int
    order: str
    status: str
    reason: str
    source: str
    requested_at: datetime
    decided_at: datetime | None
    label_status: str
    label_carrier: str
    label_tracking_number: str


class ReturnPage(Schema):
    items: list[ReturnOut]
    next_cursor: str | None = None
