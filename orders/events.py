"""Event types and the one factory that writes an order's timeline.

An event is a fact in the past tense; it is written in the same transaction as the change it
records, only through `order_event_create`.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

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

_OTHER_VERBS = {
    ORDER_CREATED: _("created the order"),
    ORDER_DETAILS_UPDATED: _("updated the order details"),
    REACTION_FAILED: _("recorded a failed reaction"),
    WMS_EVENT_REJECTED: _("refused a warehouse-system event"),
    ATTACHMENTS_ADDED: _("added a note or attachments"),
    GIFT_NOT_FOLLOWED: _("could not move the gift with its main order"),
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
]


def event_type_register(code: str, *, verb, label) -> None:
    """Another app's event type (after-sales, finance): its timeline verb and its name in the
    rule editor. Call it from the app's AppConfig.ready(); registering twice is harmless."""
    if code in TRANSITIONS_BY_ACTION:
        raise ValueError(f"{code!r} is a transition, not an event type")
    _OTHER_VERBS[code] = verb
    if code not in {c for c, _label in EVENT_TYPE_CHOICES}:
        EVENT_TYPE_CHOICES.append((code, label))


def event_verb(action: str) -> str:
    if action in TRANSITIONS_BY_ACTION:
        return str(TRANSITIONS_BY_ACTION[action].verb)
    return str(_OTHER_VERBS.get(action, action))


def order_event_create(
    *, order, action: str, from_state: str, actor, occurred_at, note: str = "", data: dict | None = None
):
    """Append one event to `order`'s timeline; the actor's name and role are kept as they are now."""
    from .models import OrderEvent
    from .permissions import role_of, user_display_name

    return OrderEvent.objects.create(
        order=order,
        action=action,
        from_state=from_state,
        to_state=order.state,
        actor=actor,
        actor_name=user_display_name(actor),
        actor_role=role_of(actor),
        occurred_at=occurred_at,
        order_version=order.version,
        note=note,
        data=data or {},
    )
