"""The board pages: which exist, who may open each, and in what order they are offered; and
the panels other apps add to a board page's heading."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .plugins import hub_extensions


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
    # Every role may look (its own alerts are assigned to it); operations and the tech lead act.
    Board("alerts", _("Alerts"), "alerts.view_alert", "alert_board:board"),
    # The three health KPIs: operations and the tech lead.
    Board("kpis", _("KPIs"), "kpis.view_kpidaily", "kpis:dashboard"),
    # Promised ship times proposed from history, for operations to accept (an admin list).
    Board("promises", _("Ship promises"), "dispatch.view_promiseproposal", "admin:dispatch_promiseproposal_changelist"),
)
BOARDS_BY_CODE = {board.code: board for board in BOARDS}


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
