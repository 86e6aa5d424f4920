"""What carriers say about shipments: recorded once per step, and a picked-up or delivered
step of an order's current shipment moves the order as the system. A carrier never changes a
tracking number: events are matched to shipments by it, nothing more.

Extension point `integrations.tracking_listeners`: callables `listener(shipment=, events=,
via=)`, told of the events of an order's *current* shipment each time they are applied (a push
or a poll; already-recorded steps come again, so a listener must be idempotent), after they are
recorded and before the order moves. The alerts app's logistics watch keeps the first and last
scan from them and raises delivery exceptions and returns at once (alerts/watch.py)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db.models import F, OuterRef, Subquery
from django.utils.translation import gettext as _

from orders.exceptions import ConflictError, IllegalTransition
from orders.models import Order, Shipment
from orders.plugins import hub_extensions
from orders.services.transition import order_transition
from orders.states import State

from .carriers.base import DELIVERED, IN_TRANSIT, PICKED_UP, CarrierError, TrackingEvent, carrier_class
from .models import CarrierAccount, TrackingRecord

logger = logging.getLogger(__name__)

IN_FLIGHT = (State.SHIPPED, State.PICKED_UP)
TRACKING_LISTENERS = "integrations.tracking_listeners"


def tracking_apply(*, shipment: Shipment, events: list[TrackingEvent], via: str) -> list[str]:
    """Record the events that are new for this shipment and move its order if they say so.
    Returns the actions taken on the order."""
    for event in events:
        if event.tracking_number != shipment.tracking_number:
            continue
        TrackingRecord.objects.get_or_create(
            shipment=shipment,
            occurred_at=event.occurred_at,
            kind=event.kind,
            carrier_code=event.carrier_code[:32],
            defaults={"description": event.description[:300], "location": event.location[:120], "via": via},
        )
    latest = Shipment.objects.filter(order_id=shipment.order_id).order_by("-sequence").values_list("pk", flat=True)
    if latest.first() != shipment.pk:
        return []  # an earlier parcel of a re-shipped order: recorded, the order follows the new one
    mine = [e for e in events if e.tracking_number == shipment.tracking_number]
    for listener in hub_extensions(TRACKING_LISTENERS):
        listener(shipment=shipment, events=mine, via=via)
    kinds = {e.kind for e in mine}
    state = Order.objects.values_list("state", flat=True).get(pk=shipment.order_id)
    carrier = shipment.get_carrier_display()
    moves = []
    if DELIVERED in kinds and state in IN_FLIGHT:
        moves.append(("deliver", _("%(carrier)s reports it delivered") % {"carrier": carrier}))
    elif kinds & {PICKED_UP, IN_TRANSIT} and state == State.SHIPPED:
        moves.append(("pick_up", _("%(carrier)s reports it picked up") % {"carrier": carrier}))
    done = []
    for action, note in moves:
        try:
            order_transition(shipment.order_id, action, actor=None, note=note)
        except (ConflictError, IllegalTransition) as exc:
            # Someone (or another push) moved it first: the record stands, nothing else to do.
            logger.info("tracking: %s of %s not applied: %s", action, shipment.order_id, exc.message)
        else:
            done.append(action)
    return done


def tracking_push_apply(*, carrier: str, events: list[TrackingEvent]) -> dict[str, list[str]]:
    """Apply the events a carrier pushed: matched to that carrier's shipments by tracking
    number, then applied like polled ones (tracking_apply, via "push"). A tracking number the
    hub does not know is logged and ignored. Returns {tracking number: the order's actions}
    for the numbers it knew."""
    by_number: dict[str, list[TrackingEvent]] = {}
    for event in events:
        by_number.setdefault(event.tracking_number, []).append(event)
    shipments = Shipment.objects.filter(carrier=carrier, tracking_number__in=list(by_number)).select_related("order")
    known = {s.tracking_number: s for s in shipments}
    applied = {}
    for number, mine in by_number.items():
        if number in known:
            applied[number] = tracking_apply(shipment=known[number], events=mine, via="push")
        else:
            logger.info("carrier push (%s): unknown tracking number, ignored", carrier)
    return applied


def shipments_in_flight(carrier: str):
    """Current shipments (the newest per order) of orders the carrier still has."""
    newest = Shipment.objects.filter(order_id=OuterRef("order_id")).order_by("-sequence").values("sequence")[:1]
    return (
        Shipment.objects.filter(carrier=carrier, order__state__in=IN_FLIGHT)
        .annotate(newest=Subquery(newest))
        .filter(sequence=F("newest"))
        .select_related("order")
        .order_by("order__state_changed_at")
    )


def tracking_sync(*, max_calls_per_account: int | None = None, pause: float | None = None) -> dict:
    """Poll every enabled carrier account for its shipments in flight, in batches the carrier
    accepts, at most `max_calls_per_account` calls a run and `pause` seconds apart (the
    carriers' rate limits). A failing batch is logged and tried again next run."""
    max_calls = max_calls_per_account or settings.ORDERHUB_TRACKING_MAX_CALLS
    pause = settings.ORDERHUB_TRACKING_PAUSE if pause is None else pause
    summary = {"calls": 0, "events": 0, "moves": 0, "errors": 0}
    for account in CarrierAccount.objects.filter(enabled=True).prefetch_related("warehouses"):
        adapter = carrier_class(account.carrier)(account.credentials())
        shipments = shipments_in_flight(account.carrier)
        warehouse_ids = [w.pk for w in account.warehouses.all()]
        if warehouse_ids:
            shipments = shipments.filter(order__warehouse_id__in=warehouse_ids)
        batch_size = adapter.tracking_batch_size
        pending = list(shipments[: batch_size * max_calls])
        for start in range(0, len(pending), batch_size):
            batch = {s.tracking_number: s for s in pending[start : start + batch_size]}
            if summary["calls"] and pause:
                time.sleep(pause)
            summary["calls"] += 1
            try:
                events = adapter.query_tracking(list(batch))
            except CarrierError as exc:
                summary["errors"] += 1
                logger.warning("tracking: %s query failed: %s", account, exc.message)
                continue
            summary["events"] += len(events)
            for number, shipment in batch.items():
                mine = [e for e in events if e.tracking_number == number]
                if mine:
                    summary["moves"] += len(tracking_apply(shipment=shipment, events=mine, via="poll"))
    return summary
