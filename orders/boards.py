"""The board pages: which exist, who may open each, and in what order they are offered."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


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
