"""tracking_push_apply: pushed events matched to the carrier's shipments by tracking number and
applied like polled ones; numbers the hub does not know, or of another carrier, change nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.carriers.base import DELIVERED, PICKED_UP, TrackingEvent
from integrations.models import TrackingRecord
from integrations.tracking import tracking_push_apply
from orders.models import Order

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 1, 29, 9, 12, tzinfo=dt.UTC)


def _event(number: str, kind: str, minutes: int = 0) -> TrackingEvent:
    return TrackingEvent(tracking_number=number, kind=kind, occurred_at=AT + dt.timedelta(minutes=minutes))


def test_known_numbers_move_their_orders_and_unknown_ones_are_ignored(make_order):
    order = make_order("shipped")
    shipment = order.shipments.get()
    applied = tracking_push_apply(
        carrier=shipment.carrier,
        events=[_event(shipment.tracking_number, PICKED_UP), _event("NOPE", DELIVERED)],
    )
    assert applied == {shipment.tracking_number: ["pick_up"]}
    assert Order.objects.get(pk=order.pk).state == "picked_up"
    assert list(TrackingRecord.objects.values_list("shipment_id", "via")) == [(shipment.pk, "push")]


def test_a_number_of_another_carrier_changes_nothing(make_order):
    order = make_order("shipped")
    shipment = order.shipments.get()
    other = "zto" if shipment.carrier != "zto" else "sf"
    assert tracking_push_apply(carrier=other, events=[_event(shipment.tracking_number, DELIVERED)]) == {}
    assert Order.objects.get(pk=order.pk).state == "shipped"
    assert not TrackingRecord.objects.exists()


def test_the_same_push_twice_records_once_and_moves_once(make_order):
    order = make_order("shipped")
    shipment = order.shipments.get()
    events = [_event(shipment.tracking_number, DELIVERED)]
    assert tracking_push_apply(carrier=shipment.carrier, events=events) == {shipment.tracking_number: ["deliver"]}
    assert tracking_push_apply(carrier=shipment.carrier, events=events) == {shipment.tracking_number: []}
    assert TrackingRecord.objects.count() == 1
