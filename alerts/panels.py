"""What the alerts app shows on the order boards (orders/boards.py, BOARD_PANELS): the open
alerts by severity and kind at the top of the operations board, from one GROUP BY."""

from __future__ import annotations

from orders.boards import BoardPanel

from .selectors import alert_open_counts

BOARD_PANELS = [
    BoardPanel(
        board="ops",
        permission="alerts.view_alert",
        template="alerts/_open_counts.html",
        context=lambda: {"counts": alert_open_counts()},
    ),
]
