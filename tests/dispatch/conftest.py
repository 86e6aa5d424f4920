"""History built through the real transition service at chosen moments: an order paid at T and
picked up by the carrier H hours later, in a given warehouse."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from unittest import mock

import pytest

from orders.services.transition import order_transition


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
        with clock(paid_at):
            order_transition(order.pk, "pay", actor=users["fin1"])
        with clock(step):
            order_transition(order.pk, "approve", actor=users["cs1"])
            order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouse)
            order_transition(order.pk, "pack", actor=users["wh1"])
            order_transition(
                order.pk,
                "ship",
                actor=users["wh1"],
                carrier="sf",
                tracking_number=f"SF{next(counter):06d}{order.pk:06d}",
            )
        with clock(paid_at + dt.timedelta(hours=hours)):
            order_transition(order.pk, "pick_up", actor=None)
        return order

    return make
