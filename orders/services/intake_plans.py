"""What other apps decide about new orders at intake, asked through one extension point so the
order app names none of them (orders/plugins.py). The rules engine is the one today: its
"order created" rules set the priority lane on the row before the INSERT, are named in the
`created` event's note, and leave the rest of their actions to the outbox.

An app declares `extensions = {"orders.intake_planners": "<app>.intake.INTAKE_PLANNER"}` with an
`IntakePlanner`. The single intake (order_create_in_transaction) and the batch intake
(_orders_create_bulk) both go through `IntakePlans`, so they cannot decide differently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..models import Order, OrderEvent
from ..outbox.models import OutboxMessage
from ..plugins import hub_extensions

INTAKE_PLANNERS = "orders.intake_planners"


class IntakePlan(Protocol):
    def note_with(self, note: str) -> str: ...


@dataclass(frozen=True)
class IntakePlanner:
    # (new orders, not saved) -> one plan per order; may change the rows' fields.
    plan: Callable[[list[Order]], Sequence[IntakePlan]]
    # (the plans, the saved `created` events, insert=how the batch writes rows or None) -> the
    # outbox rows (unsaved) the plans ask for; written with the events' own, dispatched with them.
    record: Callable[..., list[OutboxMessage]]


class IntakePlans:
    """Every planner's plans for one batch of new orders (one order is a batch of one)."""

    def __init__(self, orders: list[Order]) -> None:
        planners: list[IntakePlanner] = hub_extensions(INTAKE_PLANNERS)
        self._planned = [(planner, list(planner.plan(orders))) for planner in planners]

    def note(self, index: int, note: str) -> str:
        """The `created` event's note for the index-th order: `note` with what the plans add."""
        for _planner, plans in self._planned:
            note = plans[index].note_with(note)
        return note

    def record(self, created: list[OrderEvent], *, insert: Any = None) -> list[OutboxMessage]:
        messages: list[OutboxMessage] = []
        for planner, plans in self._planned:
            messages.extend(planner.record(plans, created, insert=insert))
        return messages
