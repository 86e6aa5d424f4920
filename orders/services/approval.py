"""审单策略: the system approves a clean order for an approval rule, once its cooling-off is over.

    order_approve_automatically_in_transaction(order_id, note=..., data=...) -> AutoApproval

The rule engine schedules the approval (rules.services, the "approve" action); when its time
comes this decides, on the locked order: an order no longer waiting for approval (a buyer's
early cancel, a person who approved it first, a risk hold) is left as it is; an order with an
open exception, or whose address cannot be shipped to, is not approved: the address problem is
raised as an exception, and an `approval_refused` line on the timeline names what stopped it,
so the order waits in its owner's exception queue. Otherwise the order is approved by the
system, the note naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..events import APPROVAL_REFUSED, order_event_create
from ..models import OrderException
from ..outbox.services import outbox_enqueue_for_event
from ..states import ExceptionReason, State
from .locking import order_lock
from .order_exceptions import Source, address_problems, exception_note, order_exception_raise
from .transition import order_transition_in_transaction

APPROVED = "approved"
REFUSED = "refused"
NOT_WAITING = "not_waiting"


@dataclass(frozen=True)
class AutoApproval:
    outcome: str  # APPROVED, REFUSED or NOT_WAITING
    detail: str = ""
    reasons: tuple[str, ...] = ()


def order_approve_automatically_in_transaction(order_id: int, *, note: str, data: dict) -> AutoApproval:
    """Approve the order as the system if it is paid and clean, inside the caller's transaction
    (the outbox worker's). `note` and `data` name the rule on the timeline."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_approve_automatically_in_transaction needs an open transaction")
    order = order_lock(order_id)
    if order.state != State.PAID:
        return AutoApproval(NOT_WAITING, f"the order is {order.state}")
    # The address may have been edited during the cooling-off: look at it as it is now.
    problems = address_problems(order)
    if problems:
        order_exception_raise(
            order=order,
            reason=ExceptionReason.ADDRESS_INCOMPLETE,
            source=Source.RULE,
            detail=", ".join(problems),
            data={**data, "missing": problems},
        )
    open_reasons = tuple(
        OrderException.objects.filter(order_id=order.pk, cleared_at__isnull=True)
        .order_by("raised_at", "id")
        .values_list("reason", flat=True)
    )
    if open_reasons:
        refused = order_event_create(
            order=order,
            action=APPROVAL_REFUSED,
            from_state=order.state,
            actor=None,
            occurred_at=timezone.now(),
            note=f"{note} · " + "; ".join(exception_note(reason, "") for reason in open_reasons),
            data={**data, "reasons": list(open_reasons)},
        )
        outbox_enqueue_for_event(refused)
        return AutoApproval(REFUSED, ", ".join(open_reasons), open_reasons)
    order_transition_in_transaction(order.pk, "approve", actor=None, note=note, event_data=data)
    return AutoApproval(APPROVED)
