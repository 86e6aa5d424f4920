"""Event types and the one factory that writes an order's timeline.

An event is a fact in the past tense; it is written in the same transaction as the change it
records, only through `order_event_build` (a batch import saves many at once, a transition saves
its one with the order's row: services/order_rows.py) and `order_event_create` (one). Every
saved batch goes to `order_events_recorded`, so the apps' event listeners hear of an import's
events as of a single transition's.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .model_rows import RowBuilder
from .models import OrderEvent
from .outbox.listeners import events_tell
from .permissions import role_of, user_display_name
from .states import TRANSITIONS_BY_ACTION

ORDER_CREATED = "created"
ORDER_DETAILS_UPDATED = "details_updated"
# A reaction (notification, carrier call, …) failed for good after its retries.
REACTION_FAILED = "reaction_failed"
# The warehouse system sent an event that could not be applied (out of order, illegal).
WMS_EVENT_REJECTED = "wms_rejected"
# Someone added a note and/or files to the timeline. Not a change to the order: the state and
# the version stay as they are.
ATTACHMENTS_ADDED = "attachments_added"
# A gift order could not follow its main order (e.g. the gift is on a risk hold): the reason is
# the note, for someone to sort out by hand.
GIFT_NOT_FOLLOWED = "gift_not_followed"
# 异常订单: a reason for a person to look at the order was raised, or cleared by its owner
# (orders.services.order_exceptions). Neither changes the state or the version.
EXCEPTION_RAISED = "exception_raised"
EXCEPTION_CLEARED = "exception_cleared"
# An approval rule's turn came and the order was not clean (an open exception): it waits in the
# exception queue for its owner. No state or version change.
APPROVAL_REFUSED = "approval_refused"
# 拆单/合单 (orders/services/split_merge.py): on the order split, on the part split off from it
# (its first event), and on the order others were merged into; the parts merged take the
# `merge` transition.
ORDER_SPLIT = "split"
ORDER_SPLIT_OFF = "split_off"
ORDER_MERGED_IN = "merged_in"

_OTHER_VERBS = {
    ORDER_CREATED: _("created the order"),
    ORDER_DETAILS_UPDATED: _("updated the order details"),
    REACTION_FAILED: _("recorded a failed reaction"),
    WMS_EVENT_REJECTED: _("refused a warehouse-system event"),
    ATTACHMENTS_ADDED: _("added a note or attachments"),
    GIFT_NOT_FOLLOWED: _("could not move the gift with its main order"),
    EXCEPTION_RAISED: _("raised an exception"),
    EXCEPTION_CLEARED: _("cleared an exception"),
    APPROVAL_REFUSED: _("did not approve automatically"),
    ORDER_SPLIT: _("split lines off into a new order"),
    ORDER_SPLIT_OFF: _("made this order from lines split off another"),
    ORDER_MERGED_IN: _("merged the buyer's other orders into this one"),
}

# What a reaction rule can listen to: every transition, plus the events above.
EVENT_TYPE_CHOICES = [
    *((t.action, t.label) for t in TRANSITIONS_BY_ACTION.values()),
    (ORDER_CREATED, _("Order created")),
    (ORDER_DETAILS_UPDATED, _("Order details updated")),
    (REACTION_FAILED, _("A reaction failed for good")),
    (WMS_EVENT_REJECTED, _("A warehouse-system event was refused")),
    (ATTACHMENTS_ADDED, _("A note or attachments were added")),
    (GIFT_NOT_FOLLOWED, _("A gift order could not follow its main order")),
    (EXCEPTION_RAISED, _("An exception was raised (异常订单)")),
    (EXCEPTION_CLEARED, _("An exception was cleared")),
    (APPROVAL_REFUSED, _("An automatic approval was refused")),
    (ORDER_SPLIT, _("An order was split")),
    (ORDER_SPLIT_OFF, _("An order was made by a split")),
    (ORDER_MERGED_IN, _("Orders were merged into an order")),
]


def event_type_register(code: str, *, verb, label) -> None:
    """Another app's event type (after-sales, finance): its timeline verb and its name in the
    rule editor. Apps declare theirs on their AppConfig (`event_types`, orders.plugins), which
    calls this; registering twice is harmless."""
    if code in TRANSITIONS_BY_ACTION:
        raise ValueError(f"{code!r} is a transition, not an event type")
    _OTHER_VERBS[code] = verb
    if code not in {c for c, _label in EVENT_TYPE_CHOICES}:
        EVENT_TYPE_CHOICES.append((code, label))


def event_verb(action: str) -> str:
    if action in TRANSITIONS_BY_ACTION:
        return str(TRANSITIONS_BY_ACTION[action].verb)
    return str(_OTHER_VERBS.get(action, action))


def order_event_build(
    *,
    order,
    action: str,
    from_state: str,
    actor,
    occurred_at,
    note: str = "",
    data: dict | None = None,
    to_state: str | None = None,
    version: int | None = None,
):
    """One timeline event, not yet saved: the actor's name and role are kept as they are now.
    `to_state` and `version` default to the order's; a batch intake that writes an order's
    steps at once names each step's."""
    return _NEW_EVENT(
        order=order,
        action=action,
        from_state=from_state,
        to_state=order.state if to_state is None else to_state,
        actor=actor,
        actor_name=user_display_name(actor),
        actor_role=role_of(actor),
        occurred_at=occurred_at,
        order_version=order.version if version is None else version,
        note=note,
        data=data or {},
    )


# An import builds two events per order: built without Model.__init__ (orders/model_rows.py).
_NEW_EVENT = RowBuilder(OrderEvent)


def order_events_recorded(events) -> None:
    """Saved events, in their transaction: the apps' event listeners hear of them (one event
    or a whole import alike)."""
    events_tell(events)


def order_event_create(
    *, order, action: str, from_state: str, actor, occurred_at, note: str = "", data: dict | None = None
):
    """Append one event to `order`'s timeline."""
    event = order_event_build(
        order=order, action=action, from_state=from_state, actor=actor, occurred_at=occurred_at, note=note, data=data
    )
    event.save(force_insert=True)
    order_events_recorded([event])
    return event
