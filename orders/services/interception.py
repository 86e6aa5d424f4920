"""截单 (interception): stopping a parcel after the warehouse had the order.

    order_intercept_request(order_id, *, actor, reason, expected_version=None) -> OrderEvent
    interception_answer_record(interception_id, *, answer, result=None, route=None) -> Interception

A buyer cancels or changes the address while the parcel is being packed or is on its way.
Before the warehouse has the order that is a plain cancel; after it, the `request_intercept`
transition asks whoever holds the parcel to stop it:
- allocated or packed: the warehouse. It sees the order on top of its board (stage "intercept")
  and confirms with one tap that the parcel was pulled; a warehouse with a WMS URL is also sent
  the request over the WMS contract, and its system may answer (integrations.interception).
- shipped or picked up: the carrier, through its interception API where the hub has one (SF,
  ZTO) and an account for it; otherwise a person calls the carrier (route "manual").

The result is `confirm_intercept` (the parcel is stopped: cancel the order, and the refund
follows, or send it again to a changed address) or `fail_intercept` (the parcel goes on to the
buyer, who returns it after delivery). Each is a transition, recorded on the timeline with who
asked, who answered and why; the Interception row keeps the request and its result for the KPI
page (success rate, time to result). A refund asked while an interception is open waits for
its result (aftersales.services.refunds).

The transition service calls the two hooks below for the moves that open or close an
interception, inside its transaction, with the order locked: so an interception is opened by
the same `order_transition` from the admin, a board, the WMS webhook or a channel's cancel.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import IllegalTransition, InvalidActionData
from ..models import Interception, InterceptionRoute, InterceptionStatus, Order, OrderEvent
from ..states import INTERCEPTABLE, TRANSITIONS_BY_ACTION, State
from .locking import order_check_version, order_lock

REQUEST, CONFIRM, FAIL = "request_intercept", "confirm_intercept", "fail_intercept"
INTERCEPTION_ACTIONS = frozenset({REQUEST, CONFIRM, FAIL})
# After a failed interception the parcel goes on: which of these moves fit depends on whether
# it had been handed to the carrier with a tracking number.
_NEEDS_SHIPMENT = frozenset({"pick_up", "deliver"})
_CARRIER_STATES = (State.SHIPPED, State.PICKED_UP)


def interception_check_move(order: Order, action: str) -> None:
    """Before a move out of "interception failed": picked up and delivered need the parcel's
    tracking number; shipping it needs none recorded yet (the transition service refuses a
    second one)."""
    if order.state == State.INTERCEPT_FAILED and action in _NEEDS_SHIPMENT and not order.shipments.exists():
        raise InvalidActionData(
            _("Order %(number)s has no tracking number yet: record the shipment first.") % {"number": order.number}
        )


def interception_after_move(order: Order, event: OrderEvent, *, from_state: str, actor) -> None:
    """After a move that opens or closes an interception, in its transaction."""
    if event.action == REQUEST:
        shipment = None
        route = InterceptionRoute.WAREHOUSE
        if from_state in _CARRIER_STATES:
            shipment = order.shipments.order_by("-sequence").first()
            # A parcel without a tracking number of its own (a gift in its main order's box)
            # cannot be named to a carrier: a person sees to it.
            route = InterceptionRoute.CARRIER if shipment is not None else InterceptionRoute.MANUAL
        Interception.objects.create(
            order=order,
            route=route,
            from_state=from_state,
            reason=event.note,
            carrier=shipment.carrier if shipment else "",
            tracking_number=shipment.tracking_number if shipment else "",
            requested_event=event,
            requested_by=actor,
            requested_at=event.occurred_at,
        )
    elif event.action in (CONFIRM, FAIL):
        Interception.objects.filter(order=order, status=InterceptionStatus.REQUESTED).update(
            status=InterceptionStatus.INTERCEPTED if event.action == CONFIRM else InterceptionStatus.FAILED,
            resolved_event=event,
            resolved_at=event.occurred_at,
        )


def order_intercept_request(order_id: int, *, actor, reason: str, expected_version: int | None = None) -> OrderEvent:
    """What "stop this order" means where the order is: a cancel before the warehouse has it,
    an interception after (to delivery). Refused, changing nothing, once it is delivered or
    closed, or while an interception is already open."""
    from .transition import order_transition_in_transaction

    reason = (reason or "").strip()
    if not reason:
        raise InvalidActionData(_("An interception needs a reason (the buyer cancelled, the address changed, …)."))
    with transaction.atomic(durable=True):
        order = order_lock(order_id)
        order_check_version(order, expected_version)
        if order.state in TRANSITIONS_BY_ACTION["cancel"].sources and order.state != State.INTERCEPTED:
            action = "cancel"
        elif order.state in INTERCEPTABLE:
            action = REQUEST
        else:
            raise IllegalTransition(
                number=order.number,
                state_label=str(State(order.state).label),
                action_label=str(TRANSITIONS_BY_ACTION[REQUEST].label),
            )
        return order_transition_in_transaction(order.pk, action, actor=actor, note=reason)


def interception_answer_record(
    interception_id: int, *, answer: str, result: str | None = None, route: str | None = None
) -> Interception:
    """What the warehouse system or the carrier answered to an open interception, as the
    system: the answer kept on the row, the route changed when the carrier turned out to have
    no interception API here (a person calls it), and, when the answer is a result
    ("intercepted" or "failed"), the transition that closes the interception with the answer
    as its note. An interception closed meanwhile (the warehouse tapped first) is left alone."""
    from .transition import order_transition_in_transaction

    if result not in (None, InterceptionStatus.INTERCEPTED, InterceptionStatus.FAILED):
        raise ValueError(f"unknown interception result {result!r}")
    with transaction.atomic():
        order_id = Interception.objects.values_list("order_id", flat=True).get(pk=interception_id)
        order_lock(order_id)
        interception = Interception.objects.select_for_update().get(pk=interception_id)
        if not interception.is_open:
            return interception
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        interception.answer = f"{interception.answer}\n{stamp} {answer}".strip()[:4000]
        fields = ["answer"]
        if route is not None and route != interception.route:
            interception.route = route
            fields.append("route")
        interception.save(update_fields=fields)
        if result is not None:
            action = CONFIRM if result == InterceptionStatus.INTERCEPTED else FAIL
            order_transition_in_transaction(order_id, action, actor=None, note=answer[:500])
            interception.refresh_from_db()
        return interception
