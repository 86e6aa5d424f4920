"""The order lifecycle in one place: states, derived statuses, roles and the transition table.

This module imports no models, so anything (models, services, admin, setup_roles, the README's
role matrix, tests) can import it. The django-fsm declarations on `Order` are generated from
TRANSITIONS, so the guard, the admin buttons and the documentation cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Role(models.TextChoices):
    CUSTOMER_SERVICE = "customer_service", pgettext_lazy("role", "Customer service")
    WAREHOUSE = "warehouse", pgettext_lazy("role", "Warehouse")
    FINANCE = "finance", pgettext_lazy("role", "Finance")
    OPERATIONS = "operations", pgettext_lazy("role", "Operations")
    TECH_LEAD = "tech_lead", pgettext_lazy("role", "Tech lead")
    # Not a group: the actor of sweeps, carrier pushes, webhooks and rules (actor=None).
    SYSTEM = "system", pgettext_lazy("role", "System")
    # Superusers: recorded as such on the timeline.
    ADMIN = "admin", pgettext_lazy("role", "Administrator")


# Roles people hold through Django groups (one group per role, named by its code).
HUMAN_ROLES = (
    Role.CUSTOMER_SERVICE,
    Role.WAREHOUSE,
    Role.FINANCE,
    Role.OPERATIONS,
    Role.TECH_LEAD,
)


# Users that act for a system, not a person (an API client's service user, api app): in their
# role's group for the permissions, and in this group so that no one picks them as an owner,
# lists them as a brand's staff or sends them a role's notices (orders.selectors.people_in_role).
SERVICE_ACCOUNTS_GROUP = "service_accounts"


class State(models.TextChoices):
    """The fine state: the action nodes of the lifecycle (each named by what has happened)."""

    SUBMITTED = "submitted", _("Submitted")  # 买家提交
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    PAID = "paid", _("Paid")  # 支付成功
    RISK_HOLD = "risk_hold", _("Risk hold")  # 风控拦截
    REVIEWED = "reviewed", _("Reviewed")  # 客服审核通过
    ALLOCATED = "allocated", _("Allocated to warehouse")  # 仓库分单
    PACKED = "packed", _("Packed")  # 打包完成
    SHIPPED = "shipped", _("Shipped, awaiting pickup")  # 已发货(运单号已录入)
    PICKED_UP = "picked_up", _("Picked up by carrier")  # 物流取件
    DELIVERED = "delivered", _("Delivered")  # 签收确认
    INVOICE_REQUESTED = "invoice_requested", _("Invoice requested")  # 开票申请
    RETURN_REQUESTED = "return_requested", _("Return requested")  # 退货触发
    RETURN_APPROVED = "return_approved", _("Return approved")  # 售后审核
    REFUNDED = "refunded", _("Refunded")  # 退款打款
    ARCHIVED = "archived", _("Archived")  # 归档结案
    CANCELLED = "cancelled", _("Cancelled")
    # 合单: its lines and money went to another order of the same buyer, which ships them; the
    # platform id and the timeline stay here (Order.merged_into says where it went).
    MERGED = "merged", _("Merged into another order")
    # 截单: the buyer cancelled or changed the address after the warehouse had the order; the
    # warehouse (allocated, packed) or the carrier (shipped) is asked to stop the parcel.
    INTERCEPT_REQUESTED = "intercept_requested", _("Interception requested")  # 拦截中
    INTERCEPTED = "intercepted", _("Intercepted")  # 已拦截: the parcel is stopped, a person decides what next
    INTERCEPT_FAILED = "intercept_failed", _("Interception failed")  # 拦截失败: the parcel goes on to the buyer


class MainStatus(models.TextChoices):
    """当前主状态: what boards show."""

    PENDING_REVIEW = "pending_review", _("Pending review")  # 待审核
    REVIEWED = "reviewed", _("Reviewed")  # 已审核
    AWAITING_SHIPMENT = "awaiting_shipment", _("Awaiting shipment")  # 待发货
    SHIPPED = "shipped", _("Shipped")  # 已发货
    DELIVERED = "delivered", _("Delivered")  # 已签收
    CLOSED = "closed", _("Closed")  # 已关闭
    INTERCEPTING = "intercepting", _("Interception")  # 拦截: asked, or stopped and waiting for a decision


class PaymentStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("payment", "Pending")  # 待支付
    PAID = "paid", pgettext_lazy("payment", "Paid")  # 已支付
    FAILED = "failed", pgettext_lazy("payment", "Failed")  # 支付失败
    REFUNDED = "refunded", pgettext_lazy("payment", "Refunded")  # 已退款


class WarehouseStage(models.TextChoices):
    NONE = "", _("Not in the warehouse")
    INTERCEPT = "intercept", _("Intercept: pull the parcel")  # 待拦截
    PACKING = "packing", _("Packing")  # 待打包
    LABELLING = "labelling", _("Labelling")  # 待贴单
    AWAITING_PICKUP = "awaiting_pickup", _("Awaiting pickup")  # 待揽收


class Channel(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    AMAZON = "amazon", "Amazon"
    WALMART = "walmart", "Walmart"
    TAOBAO = "taobao", _("Taobao/Tmall")
    JD = "jd", _("JD.com")
    PINDUODUO = "pdd", _("Pinduoduo")
    DOUYIN = "douyin", _("Douyin Shop")
    MANUAL = "manual", _("Manual")


class Priority(models.IntegerChoices):
    NORMAL = 0, _("Normal")
    HIGH = 1, _("High (priority lane)")


class Carrier(models.TextChoices):
    SF = "sf", _("SF Express")
    ZTO = "zto", _("ZTO Express")
    CAINIAO = "cainiao", _("Cainiao")
    OTHER = "other", _("Other carrier")


# One mapping: fine state -> (main status, payment status, warehouse stage). The database
# computes the three derived columns from it (generated columns), so they can never be out of
# step with the fine state.
STATE_MAP: dict[str, tuple[str, str, str]] = {
    State.SUBMITTED: (MainStatus.PENDING_REVIEW, PaymentStatus.PENDING, WarehouseStage.NONE),
    State.PAYMENT_FAILED: (MainStatus.PENDING_REVIEW, PaymentStatus.FAILED, WarehouseStage.NONE),
    State.PAID: (MainStatus.PENDING_REVIEW, PaymentStatus.PAID, WarehouseStage.NONE),
    State.RISK_HOLD: (MainStatus.PENDING_REVIEW, PaymentStatus.PAID, WarehouseStage.NONE),
    State.REVIEWED: (MainStatus.REVIEWED, PaymentStatus.PAID, WarehouseStage.NONE),
    State.ALLOCATED: (MainStatus.AWAITING_SHIPMENT, PaymentStatus.PAID, WarehouseStage.PACKING),
    State.PACKED: (MainStatus.AWAITING_SHIPMENT, PaymentStatus.PAID, WarehouseStage.LABELLING),
    State.SHIPPED: (MainStatus.SHIPPED, PaymentStatus.PAID, WarehouseStage.AWAITING_PICKUP),
    State.PICKED_UP: (MainStatus.SHIPPED, PaymentStatus.PAID, WarehouseStage.NONE),
    State.DELIVERED: (MainStatus.DELIVERED, PaymentStatus.PAID, WarehouseStage.NONE),
    State.INVOICE_REQUESTED: (MainStatus.DELIVERED, PaymentStatus.PAID, WarehouseStage.NONE),
    State.RETURN_REQUESTED: (MainStatus.DELIVERED, PaymentStatus.PAID, WarehouseStage.NONE),
    State.RETURN_APPROVED: (MainStatus.DELIVERED, PaymentStatus.PAID, WarehouseStage.NONE),
    State.REFUNDED: (MainStatus.CLOSED, PaymentStatus.REFUNDED, WarehouseStage.NONE),
    State.ARCHIVED: (MainStatus.CLOSED, PaymentStatus.PAID, WarehouseStage.NONE),
    State.CANCELLED: (MainStatus.CLOSED, PaymentStatus.PENDING, WarehouseStage.NONE),
    # Paid: the money is on the order it was merged into, not given back.
    State.MERGED: (MainStatus.CLOSED, PaymentStatus.PAID, WarehouseStage.NONE),
    # On top of the warehouse board: the parcel is pulled there, or comes back there from the carrier.
    State.INTERCEPT_REQUESTED: (MainStatus.INTERCEPTING, PaymentStatus.PAID, WarehouseStage.INTERCEPT),
    State.INTERCEPTED: (MainStatus.INTERCEPTING, PaymentStatus.PAID, WarehouseStage.NONE),
    State.INTERCEPT_FAILED: (MainStatus.SHIPPED, PaymentStatus.PAID, WarehouseStage.NONE),
}
assert set(STATE_MAP) == set(State), "every state needs its derived statuses"

TERMINAL_STATES = frozenset({State.ARCHIVED, State.MERGED})

# States where someone in the hub owes the next step: an order that sits in one of them past the
# stale threshold is shown red on the boards. Not submitted (the buyer has not paid), not picked
# up (the carrier is moving it), not the closed and delivered states.
STALE_WATCHED_STATES = (
    State.PAID,
    State.RISK_HOLD,
    State.REVIEWED,
    State.ALLOCATED,
    State.PACKED,
    State.SHIPPED,
    State.RETURN_REQUESTED,
    State.RETURN_APPROVED,
    State.INTERCEPT_REQUESTED,
    State.INTERCEPTED,
)

# The customer-service board: what still needs review, and what is waiting to leave.
CS_BOARD_STATUSES = (MainStatus.PENDING_REVIEW, MainStatus.AWAITING_SHIPMENT, MainStatus.INTERCEPTING)

# The warehouse board's groups, in the order the work is done.
WAREHOUSE_BOARD_STAGES = (
    WarehouseStage.INTERCEPT,  # first: a parcel to pull before it leaves
    WarehouseStage.PACKING,
    WarehouseStage.LABELLING,
    WarehouseStage.AWAITING_PICKUP,
)


@dataclass(frozen=True)
class Transition:
    """One legal move. `roles` may take it; `requires` names the data it cannot do without."""

    action: str
    sources: tuple[str, ...]
    target: str
    roles: frozenset[str]
    label: str  # the button: "Approve"
    verb: str  # the timeline: "approved"
    requires: tuple[str, ...] = field(default=())
    # Kept even when the order is already past its final state (e.g. re-ship keeps "shipped").
    note_required: bool = False
    # Only gift orders take it (they follow their main order).
    gift_only: bool = False
    # Taken only by its own service, which does more than move the state (merge: the lines and
    # the money go to the order that absorbs this one); the order page links to that service's page.
    service_only: bool = False

    @property
    def permission_codename(self) -> str:
        return f"can_{self.action}"


CS = Role.CUSTOMER_SERVICE
WH = Role.WAREHOUSE
FIN = Role.FINANCE
OPS = Role.OPERATIONS
SYS = Role.SYSTEM

_CANCELLABLE = (State.SUBMITTED, State.PAYMENT_FAILED, State.PAID, State.RISK_HOLD, State.REVIEWED, State.INTERCEPTED)
# Where an interception can be asked: the warehouse has the order (allocated, packed) or the
# carrier has the parcel (shipped, picked up). Before that it is a plain cancel.
INTERCEPTABLE = (State.ALLOCATED, State.PACKED, State.SHIPPED, State.PICKED_UP)

TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        "pay",
        (State.SUBMITTED, State.PAYMENT_FAILED),
        State.PAID,
        frozenset({SYS, FIN}),
        _("Confirm payment"),
        _("confirmed payment"),
    ),
    Transition(
        "fail_payment",
        (State.SUBMITTED,),
        State.PAYMENT_FAILED,
        frozenset({SYS, FIN}),
        _("Mark payment failed"),
        _("marked payment failed"),
    ),
    Transition(
        "flag_risk",
        (State.PAID, State.REVIEWED),
        State.RISK_HOLD,
        # Customer service holds an order when something is off (the buyer calls about the
        # address, the payer's name does not match); only operations releases it.
        frozenset({SYS, CS, OPS}),
        _("Hold for risk review"),
        _("held for risk review"),
        note_required=True,
    ),
    Transition(
        "release",
        (State.RISK_HOLD,),
        State.PAID,
        frozenset({OPS}),
        _("Release risk hold"),
        _("released the risk hold"),
    ),
    Transition(
        "approve",
        (State.PAID,),
        State.REVIEWED,
        # The system too: an approval rule (审单策略) approves clean orders after its cooling-off.
        frozenset({CS, OPS, SYS}),
        _("Approve"),
        _("approved"),
    ),
    Transition(
        "allocate",
        (State.REVIEWED,),
        State.ALLOCATED,
        frozenset({WH, OPS, SYS}),
        _("Allocate to warehouse"),
        _("allocated to a warehouse"),
        requires=("warehouse",),
    ),
    Transition(
        "pack",
        (State.ALLOCATED,),
        State.PACKED,
        frozenset({WH}),
        _("Mark packed"),
        _("packed"),
    ),
    Transition(
        "ship",
        # After a failed interception too: the parcel had left before the warehouse could pull it.
        (State.PACKED, State.INTERCEPT_FAILED),
        State.SHIPPED,
        frozenset({WH}),
        _("Ship with tracking number"),
        _("shipped"),
        requires=("carrier", "tracking_number"),
    ),
    Transition(
        "reship",
        (State.SHIPPED, State.PICKED_UP),
        State.SHIPPED,
        frozenset({CS, WH}),
        _("Re-ship (new tracking number)"),
        _("re-shipped"),
        requires=("carrier", "tracking_number"),
        note_required=True,
    ),
    Transition(
        "ship_with_main",
        # A gift travels in its main order's parcel: it has no tracking number of its own, and
        # only the system moves it, when the main order ships (orders.services.gifts).
        (State.SUBMITTED, State.PAID, State.REVIEWED, State.ALLOCATED, State.PACKED),
        State.SHIPPED,
        frozenset({SYS}),
        _("Ship with the main order"),
        _("shipped with its main order"),
        gift_only=True,
    ),
    Transition(
        "pick_up",
        (State.SHIPPED, State.INTERCEPT_FAILED),
        State.PICKED_UP,
        frozenset({SYS, WH}),
        _("Picked up by carrier"),
        _("handed to the carrier"),
    ),
    Transition(
        "deliver",
        (State.SHIPPED, State.PICKED_UP, State.INTERCEPT_FAILED),
        State.DELIVERED,
        frozenset({SYS, CS, OPS}),
        _("Confirm delivery"),
        _("confirmed delivery"),
    ),
    Transition(
        "request_invoice",
        (State.DELIVERED,),
        State.INVOICE_REQUESTED,
        frozenset({CS, FIN}),
        _("Request invoice"),
        _("requested an invoice"),
    ),
    Transition(
        "request_return",
        (State.DELIVERED, State.INVOICE_REQUESTED),
        State.RETURN_REQUESTED,
        frozenset({CS, SYS}),
        _("Request return"),
        _("requested a return"),
        note_required=True,
    ),
    Transition(
        "approve_return",
        (State.RETURN_REQUESTED,),
        State.RETURN_APPROVED,
        frozenset({CS, OPS, SYS}),
        _("Approve return"),
        _("approved the return"),
    ),
    Transition(
        "reject_return",
        (State.RETURN_REQUESTED,),
        State.DELIVERED,
        frozenset({CS, OPS}),
        _("Reject return"),
        _("rejected the return"),
        note_required=True,
    ),
    Transition(
        "refund",
        (State.RETURN_APPROVED,),
        State.REFUNDED,
        # Only the refund service moves it, once the payment gateway confirmed the money left
        # (aftersales.services.refunds): finance asks for a refund, nobody clicks "paid".
        frozenset({SYS}),
        _("Mark refund paid"),
        _("paid the refund"),
    ),
    Transition(
        "cancel",
        _CANCELLABLE,
        State.CANCELLED,
        # The system too: a buyer who cancels on the channel cancels here.
        frozenset({CS, OPS, SYS}),
        _("Cancel order"),
        _("cancelled the order"),
        note_required=True,
    ),
    Transition(
        "request_intercept",
        INTERCEPTABLE,
        State.INTERCEPT_REQUESTED,
        # The system too: a cancel or refund the buyer asks on the channel once the warehouse
        # has the order asks for the interception by itself.
        frozenset({CS, OPS, SYS}),
        _("Request interception (截单)"),
        _("asked to intercept the parcel"),
        note_required=True,
    ),
    Transition(
        "confirm_intercept",
        (State.INTERCEPT_REQUESTED,),
        State.INTERCEPTED,
        # The warehouse pulled the parcel; customer service or operations heard it from a carrier
        # they called; the system when the WMS or the carrier's interception API answers.
        frozenset({WH, CS, OPS, SYS}),
        _("Parcel stopped (intercepted)"),
        _("confirmed the parcel was stopped"),
    ),
    Transition(
        "fail_intercept",
        (State.INTERCEPT_REQUESTED,),
        State.INTERCEPT_FAILED,
        frozenset({WH, CS, OPS, SYS}),
        _("Interception failed"),
        _("reported the parcel could not be stopped"),
        note_required=True,
    ),
    Transition(
        "resume_after_intercept",
        # An address changed rather than a cancel: the stopped order goes back to be allocated
        # and packed again (the new address is edited on the order first).
        (State.INTERCEPTED,),
        State.REVIEWED,
        frozenset({CS, OPS}),
        _("Send again after interception"),
        _("sent the stopped order back to the warehouse"),
        note_required=True,
    ),
    Transition(
        "merge",
        # Before the warehouse has it: one parcel instead of several for the same buyer.
        (State.PAID, State.REVIEWED),
        State.MERGED,
        frozenset({CS, OPS}),
        _("Merge with the buyer's other orders"),
        _("merged the order into another"),
        service_only=True,
    ),
    Transition(
        "archive",
        (State.DELIVERED, State.INVOICE_REQUESTED, State.REFUNDED, State.CANCELLED),
        State.ARCHIVED,
        frozenset({OPS, FIN, SYS}),
        _("Archive"),
        _("archived the order"),
    ),
)

TRANSITIONS_BY_ACTION: dict[str, Transition] = {t.action: t for t in TRANSITIONS}
assert len(TRANSITIONS_BY_ACTION) == len(TRANSITIONS), "action names must be unique"


def transitions_for_role(role: str) -> list[Transition]:
    return [t for t in TRANSITIONS if role in t.roles]


def derived_statuses(state: str) -> tuple[str, str, str]:
    return STATE_MAP[state]


class ExceptionReason(models.TextChoices):
    """异常订单: why an order waits for a person instead of moving by itself. Each reason has
    the role that owns it (EXCEPTION_OWNERS) and clears it; an order may carry several, and an
    order with an open one is never approved automatically."""

    BUYER_REMARK = "buyer_remark", _("Buyer remark to read")  # 买家留言
    ADDRESS_INCOMPLETE = "address_incomplete", _("Address incomplete")  # 地址不全
    AMOUNT_ANOMALY = "amount_anomaly", _("Amount anomaly")  # 金额异常
    TOTALS_MISMATCH = "totals_mismatch", _("Lines do not add up")  # 金额与明细不符
    SUSPECTED_DUPLICATE = "suspected_duplicate", _("Suspected duplicate")  # 疑似重复
    CHANNEL_REFUND = "channel_refund", _("Refund or cancel asked on the channel")  # 平台退款/取消
    OUT_OF_STOCK = "out_of_stock", _("Out of stock")  # 缺货
    RISK_HOLD = "risk_hold", _("Risk hold")  # 风控


EXCEPTION_OWNERS: dict[str, str] = {
    ExceptionReason.BUYER_REMARK: Role.CUSTOMER_SERVICE,
    ExceptionReason.ADDRESS_INCOMPLETE: Role.CUSTOMER_SERVICE,
    ExceptionReason.AMOUNT_ANOMALY: Role.FINANCE,
    ExceptionReason.TOTALS_MISMATCH: Role.FINANCE,
    ExceptionReason.SUSPECTED_DUPLICATE: Role.CUSTOMER_SERVICE,
    ExceptionReason.CHANNEL_REFUND: Role.CUSTOMER_SERVICE,
    ExceptionReason.OUT_OF_STOCK: Role.WAREHOUSE,
    ExceptionReason.RISK_HOLD: Role.OPERATIONS,
}
assert set(EXCEPTION_OWNERS) == set(ExceptionReason), "every exception reason needs its owner"

# What the owner's clearing is called on the button and the timeline.
EXCEPTION_CLEARING: dict[str, str] = {
    ExceptionReason.BUYER_REMARK: _("Remark read and accepted"),
    ExceptionReason.ADDRESS_INCOMPLETE: _("Address fixed"),
    ExceptionReason.AMOUNT_ANOMALY: _("Amount checked"),
    ExceptionReason.TOTALS_MISMATCH: _("Totals checked"),
    ExceptionReason.SUSPECTED_DUPLICATE: _("Not a duplicate"),
    ExceptionReason.CHANNEL_REFUND: _("Buyer's request handled"),
    ExceptionReason.OUT_OF_STOCK: _("Stock found"),
    ExceptionReason.RISK_HOLD: _("Released"),
}
