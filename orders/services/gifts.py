"""Gift orders (赠品单) follow their main order.

When a main order ships, is picked up, delivered, closed or cancelled, its gift orders take the
same road in the same transaction, as the system, through the transition service: locked after
the main order, in primary-key order (a gift is always created after its main order, so main
first then gifts is primary-key order, the one order every locker in the hub uses).

A gift that cannot follow (held for risk review, already cancelled) is not forced: its
timeline says why, and the main order moves on.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..states import State

_NOT_SHIPPED = frozenset({State.SUBMITTED, State.PAID, State.REVIEWED, State.ALLOCATED, State.PACKED})
_CANCELLABLE = frozenset({State.SUBMITTED, State.PAYMENT_FAILED, State.PAID, State.RISK_HOLD, State.REVIEWED})
_ON_THE_ROAD = frozenset({State.SHIPPED, State.PICKED_UP})
_DELIVERED = frozenset({State.DELIVERED, State.INVOICE_REQUESTED})
_ENDED = frozenset({State.CANCELLED, State.REFUNDED})

# The main order's action → where its gifts go: "shipped", "picked_up", "delivered", "closed",
# "cancelled".
FOLLOWED_ACTIONS = {
    "ship": "shipped",
    "reship": "shipped",
    "pick_up": "picked_up",
    "deliver": "delivered",
    "refund": "closed",
    "archive": "closed",
    "cancel": "cancelled",
}


def gift_moves(*, main_action: str, gift_state: str) -> list[str] | None:
    """The system's moves that take a gift in `gift_state` to where its main order went with
    `main_action`: [] when it is there already, None when it cannot follow."""
    goal = FOLLOWED_ACTIONS.get(main_action)
    if goal is None:
        return []
    if goal == "shipped":
        if gift_state in _NOT_SHIPPED:
            return ["ship_with_main"]
        return [] if gift_state in _ON_THE_ROAD | _DELIVERED | {State.ARCHIVED} else None
    if goal == "picked_up":
        if gift_state in _NOT_SHIPPED:
            return ["ship_with_main", "pick_up"]
        if gift_state == State.SHIPPED:
            return ["pick_up"]
        return [] if gift_state in {State.PICKED_UP} | _DELIVERED | {State.ARCHIVED} else None
    if goal == "delivered":
        if gift_state in _NOT_SHIPPED:
            return ["ship_with_main", "deliver"]
        if gift_state in _ON_THE_ROAD:
            return ["deliver"]
        return [] if gift_state in _DELIVERED | {State.ARCHIVED} else None
    if goal == "closed":
        if gift_state == State.ARCHIVED:
            return []
        if gift_state in _DELIVERED | _ENDED:
            return ["archive"]
        if gift_state in _ON_THE_ROAD:
            return ["deliver", "archive"]
        # Never sent: the gift goes nowhere now.
        return ["cancel"] if gift_state in _CANCELLABLE else None
    if goal == "cancelled":
        if gift_state == State.CANCELLED:
            return []
        return ["cancel"] if gift_state in _CANCELLABLE else None
    return None


def gift_follow_note(main_number: str) -> str:
    return _("Follows its main order %(number)s.") % {"number": main_number}


def gift_not_followed_note(*, main_number: str, action_label: str, state_label: str) -> str:
    return _(
        "Main order %(number)s: %(action)s. This gift is “%(state)s” and cannot follow by itself; "
        "please move it by hand."
    ) % {"number": main_number, "action": action_label, "state": state_label}
