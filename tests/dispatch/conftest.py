"""History built through the real transition service at chosen moments: an order paid at T and
picked up by the carrier H hours later, in a given warehouse."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from unittest import mock

import pytest

from tests.factories import OrderEventFactory, ShipmentFactory


@contextmanager
def clock(at: dt.datetime):
    """The services' clock (timezone.now) reads `at`."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


@pytest.fixture
def picked_up(make_order, users):
    """picked_up(warehouse, paid_at=…, hours=…): an order paid at `paid_at`, allocated to the
    warehouse, packed and shipped a minute later, picked up `hours` after payment."""
    counter = iter(range(1, 10_000))

    def make(warehouse, *, paid_at: dt.datetime, hours: float, **fields):
        order = make_order("submitted", **fields)
        step = paid_at + dt.timedelta(minutes=1)
        OrderEventFactory(order=order, action="pay", actor=users["fin1"], at=paid_at)
        OrderEventFactory(order=order, action="approve", actor=users["cs1"], at=step)
        OrderEventFactory(order=order, action="allocate", actor=users["wh1"], at=step, warehouse=warehouse)
        OrderEventFactory(order=order, action="pack", actor=users["wh1"], at=step)
        tracking_number = f"SF{next(counter):06d}{order.pk:06d}"
        ShipmentFactory(order=order, actor=users["wh1"], at=step, carrier="sf", tracking_number=tracking_number)
        OrderEventFactory(order=order, action="pick_up", actor=None, at=paid_at + dt.timedelta(hours=hours))
        return order

    return make
