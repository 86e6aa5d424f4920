"""The board pages: which exist, who may open each, and in what order they are offered; each
order board defined once (ORDER_BOARDS: its rows, filters, next steps, bulk actions and
columns), which both its phone page (board_views) and its admin changelist (admin_boards)
read; and the panels other apps add to a board page's heading.

Adding a column to a board is one entry in its `columns`: the card on the phone and the
changelist both show it. Adding a filter is one filter in its FilterSet (orders/filters.py):
the phone page's filter form and the changelist's sidebar both offer it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .filters import CustomerServiceBoardFilter, ExceptionBoardFilter, OperationsBoardFilter, WarehouseBoardFilter
from .models import Order
from .permissions import user_display_name
from .plugins import hub_extensions
from .selectors import (
    CS_WORKING_ORDER,
    board_rows,
    cs_board_rows,
    ops_board_rows,
    order_list_for_cs_board,
    order_list_for_exception_board,
    order_list_for_ops_board,
    order_list_for_warehouse_board,
    warehouse_board_rows,
)
from .states import State
from .templatetags.orderhub import choice_label


@dataclass(frozen=True)
class Board:
    code: str
    label: str
    permission: str
    url_name: str


BOARDS = (
    Board("cs", _("Customer service"), "orders.view_customerserviceboard", "orders:board_cs"),
    Board("warehouse", _("Warehouse"), "orders.view_warehouseboard", "orders:board_warehouse"),
    Board("ops", _("Operations"), "orders.view_operationsboard", "orders:board_ops"),
    # Every role works the exceptions it owns (异常订单); operations see every queue.
    Board("exceptions", _("Exceptions"), "orders.view_exceptionboard", "orders:board_exceptions"),
    # Every role may look (its own alerts are assigned to it); operations and the tech lead act.
    Board("alerts", _("Alerts"), "alerts.view_alert", "alert_board:board"),
    # The three health KPIs: operations and the tech lead.
    Board("kpis", _("KPIs"), "kpis.view_kpidaily", "kpis:dashboard"),
    # Promised ship times proposed from history, for operations to accept (an admin list).
    Board("promises", _("Ship promises"), "dispatch.view_promiseproposal", "admin:dispatch_promiseproposal_changelist"),
)
BOARDS_BY_CODE = {board.code: board for board in BOARDS}


def _local(value) -> str:
    return timezone.localtime(value).strftime("%m-%d %H:%M") if value else ""


def _channel(order: Order) -> str:
    channel = choice_label(order, "channel")
    return f"{channel} · {order.external_id}" if order.external_id else channel


@dataclass(frozen=True)
class BoardColumn:
    """One column of a board: `text(order)` is the cell ("" when there is nothing to show: the
    card leaves it out, the changelist shows "—"), read from what the board's query loads (no
    query per row). `in_card=False`: the card's head already shows it (the amount)."""

    key: str
    label: Any
    text: Callable[[Order], str]
    ordering: str | None = None
    in_card: bool = True
    css: str = ""


COLUMNS = {
    column.key: column
    for column in (
        BoardColumn("state", _("Fine state"), partial(choice_label, field_name="state"), "state", css="oh-state"),
        BoardColumn("stage", _("Stage"), partial(choice_label, field_name="warehouse_stage"), "stage_rank"),
        BoardColumn("brand", _("Brand"), lambda order: order.shop.brand.name, css="oh-brand"),
        BoardColumn("channel", _("Channel"), _channel, "channel"),
        BoardColumn("warehouse", _("Warehouse"), lambda order: order.warehouse.name if order.warehouse_id else ""),
        BoardColumn(
            "owner",
            _("Customer-service owner"),
            lambda order: user_display_name(order.cs_owner) if order.cs_owner_id else gettext("No owner"),
            "cs_owner__username",
        ),
        BoardColumn("amount", _("Amount"), lambda order: f"{order.amount:,.2f} {order.currency}", "amount", False),
        BoardColumn(
            "ordered_at", _("Ordered at"), lambda order: _local(order.ordered_at), "ordered_at", css="oh-quiet"
        ),
        BoardColumn(
            "exceptions",
            _("Open exceptions"),
            lambda order: ", ".join(str(e.get_reason_display()) for e in getattr(order, "open_exceptions", ())),
            # The card lists them with their details and buttons.
            in_card=False,
        ),
        BoardColumn(
            "state_changed_at",
            _("State changed"),
            lambda order: _local(order.state_changed_at),
            "state_changed_at",
            css="oh-quiet",
        ),
    )
}


@dataclass(frozen=True)
class OrderBoard:
    """An order board, for both its pages. `queryset(clock=, user=)`: the board's orders for
    this viewer; `read_rows(queryset, clock=, limit=)`: its first rows in the working order
    (`working_order`, which the changelist pages through the same way); `filterset`: its filters
    (django-filter; the changelist's sidebar is made from the same filters, but "q", which is
    its search box); `next_action` / `secondary`: the step a row offers per state (and the holds
    behind a reason); `bulk_actions`: the changelist's actions; `columns`: keys of COLUMNS."""

    code: str
    title: Any
    queryset: Callable[..., Any]
    read_rows: Callable[..., tuple[list[Order], bool]]
    working_order: tuple[str, ...] | None
    filterset: type
    columns: tuple[str, ...]
    rows_template: str
    next_action: Mapping[str, str]
    secondary: Mapping[str, tuple[str, ...]]
    bulk_actions: tuple[str, ...]

    def column_list(self) -> list[BoardColumn]:
        return [COLUMNS[key] for key in self.columns]

    def cells(self, order: Order) -> list[tuple[BoardColumn, str]]:
        """The card's cells of `order` (those not already in the card's head, and not empty)."""
        cells = []
        for column in self.column_list():
            if column.in_card:
                text = column.text(order)
                if text:
                    cells.append((column, text))
        return cells


def _rows_in_order(queryset, *, clock, limit=None):
    return board_rows(queryset) if limit is None else board_rows(queryset, limit=limit)


def _cs_rows(queryset, *, clock, limit=None):
    return cs_board_rows(queryset) if limit is None else cs_board_rows(queryset, limit=limit)


def _warehouse_rows(queryset, *, clock, limit=None):
    return warehouse_board_rows(queryset) if limit is None else warehouse_board_rows(queryset, limit=limit)


def _ops_rows(queryset, *, clock, limit=None):
    return (
        ops_board_rows(queryset, clock=clock) if limit is None else ops_board_rows(queryset, clock=clock, limit=limit)
    )


# The one next step a board offers for an order in each state (the rest is on the timeline
# and the admin page): one tap on the warehouse handheld.
NEXT_ACTION = {
    State.PAID: "approve",
    State.ALLOCATED: "pack",
    State.PACKED: "ship",
    State.SHIPPED: "pick_up",
    State.RISK_HOLD: "release",
    # 截单: the warehouse pulled the parcel (or it came back from the carrier).
    State.INTERCEPT_REQUESTED: "confirm_intercept",
}
# Offered next to the main step, behind a reason field.
SECONDARY_ACTIONS = {
    State.PAID: ("flag_risk",),
    State.REVIEWED: ("flag_risk",),
    # The buyer cancels or changes the address once the warehouse has the order.
    State.ALLOCATED: ("request_intercept",),
    State.PACKED: ("request_intercept",),
    State.INTERCEPT_REQUESTED: ("fail_intercept",),
    # Stopped: cancel it (the refund follows) or send it again to a changed address.
    State.INTERCEPTED: ("cancel", "resume_after_intercept"),
}
# The warehouse answers an interception; asking for one is customer service's.
WAREHOUSE_SECONDARY_ACTIONS = {State.INTERCEPT_REQUESTED: ("fail_intercept",)}

# The warehouse board's working order: stage, the priority lane first, the oldest first.
WAREHOUSE_WORKING_ORDER = ("stage_rank", "-priority", "ordered_at", "id")
# The operations board's: the longest-waiting first.
OPS_WORKING_ORDER = ("state_changed_at", "id")

ORDER_BOARDS = {
    board.code: board
    for board in (
        OrderBoard(
            code="cs",
            title=_("Customer-service board"),
            queryset=order_list_for_cs_board,
            read_rows=_cs_rows,
            working_order=CS_WORKING_ORDER,
            filterset=CustomerServiceBoardFilter,
            columns=("state", "brand", "channel", "amount", "owner", "ordered_at"),
            rows_template="boards/_cs_rows.html",
            next_action=NEXT_ACTION,
            secondary=SECONDARY_ACTIONS,
            bulk_actions=("approve", "hold", "assign_owner"),
        ),
        OrderBoard(
            code="warehouse",
            title=_("Warehouse today"),
            queryset=order_list_for_warehouse_board,
            read_rows=_warehouse_rows,
            working_order=WAREHOUSE_WORKING_ORDER,
            filterset=WarehouseBoardFilter,
            columns=("stage", "brand", "warehouse", "owner", "amount", "state_changed_at"),
            rows_template="boards/_warehouse_rows.html",
            next_action=NEXT_ACTION,
            secondary=WAREHOUSE_SECONDARY_ACTIONS,
            bulk_actions=("pack", "pick_up"),
        ),
        OrderBoard(
            code="ops",
            title=_("Operations board"),
            queryset=order_list_for_ops_board,
            read_rows=_ops_rows,
            working_order=OPS_WORKING_ORDER,
            filterset=OperationsBoardFilter,
            columns=("state", "brand", "channel", "warehouse", "owner", "amount", "state_changed_at"),
            rows_template="boards/_ops_rows.html",
            next_action=NEXT_ACTION,
            secondary={},
            bulk_actions=("release",),
        ),
        OrderBoard(
            code="exceptions",
            title=_("Exception queue"),
            queryset=order_list_for_exception_board,
            read_rows=_rows_in_order,
            working_order=None,
            filterset=ExceptionBoardFilter,
            columns=("exceptions", "state", "brand", "channel", "owner", "amount", "ordered_at"),
            rows_template="boards/_exception_rows.html",
            # Clearing is the step here (each exception's own button); the order's moves follow.
            next_action={},
            secondary={},
            bulk_actions=(),
        ),
    )
}


def boards_for_user(user) -> list[dict]:
    return [
        {"code": b.code, "label": b.label, "url": reverse(b.url_name)}
        for b in BOARDS
        if user.is_authenticated and user.has_perm(b.permission)
    ]


# The extension point for board panels: an app declares
# `extensions = {BOARD_PANELS: "<dotted path of a list of BoardPanel>"}` on its HubAppConfig
# (alerts: the open alerts' counts on the operations board), so orders names no app.
BOARD_PANELS = "orders.board_panels"


@dataclass(frozen=True)
class BoardPanel:
    """Shown at the top of the board `board` (a Board.code) to users with `permission`:
    `template` rendered with `context()`, which reads what it needs in a constant number of
    queries (the boards' query counts are tested)."""

    board: str
    permission: str
    template: str
    context: Callable[[], dict]


def board_panels_render(*, board: str, user) -> list[str]:
    """The panels of `board` that `user` may see, rendered (HTML, in INSTALLED_APPS order)."""
    return [
        render_to_string(panel.template, panel.context())
        for declared in hub_extensions(BOARD_PANELS)
        for panel in declared
        if panel.board == board and user.has_perm(panel.permission)
    ]
