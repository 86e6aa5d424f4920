"""The touchless rate and paid → allocated, on orders with known timelines."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from kpis.selectors import kpi_paid_to_allocated, kpi_touchless
from orders.models import Order
from orders.services.attachments import order_attachment_add
from orders.services.orders import order_create
from orders.services.transition import order_transition
from orders.states import Carrier

pytestmark = pytest.mark.django_db


def _ship(order, users, warehouse, *, approve_by=None, allocate_by=None, number="SF1"):
    order_transition(order.pk, "approve", actor=approve_by)
    order_transition(order.pk, "allocate", actor=allocate_by, warehouse=warehouse)
    order_transition(order.pk, "pack", actor=users["wh1"])
    order_transition(order.pk, "ship", actor=users["wh1"], carrier=Carrier.SF, tracking_number=number)


def test_touchless_counts_orders_no_person_acted_on_before_shipping(users, warehouses):
    start = timezone.now() - timedelta(hours=2)
    orders = []
    for number in range(4):
        order = order_create(actor=None, channel="shopify", amount="10.00", external_id=f"T{number}")
        order_transition(order.pk, "pay", actor=None)
        orders.append(order)
    by_system, by_system_too, approved_by_hand, with_a_note = orders
    _ship(by_system, users, warehouses[0], number="SF100001")
    _ship(by_system_too, users, warehouses[0], number="SF100002")
    _ship(approved_by_hand, users, warehouses[0], approve_by=users["cs1"], number="SF100003")
    order_attachment_add(order_id=with_a_note.pk, actor=users["cs1"], note="买家来电")
    _ship(with_a_note, users, warehouses[0], number="SF100004")
    # Not shipped: not counted either way.
    order_create(actor=None, channel="shopify", amount="10.00", external_id="T-open")

    figures = kpi_touchless(since=start, until=timezone.now() + timedelta(seconds=1))
    assert (figures["shipped"], figures["touchless"], figures["percent"]) == (4, 2, 50.0)
    assert list(figures["per_day"].values()) == [50.0]
    # A person acting after shipping (a reship note) does not change what happened before.
    order_attachment_add(order_id=by_system.pk, actor=users["cs1"], note="已发货后补充")
    assert kpi_touchless(since=start, until=timezone.now() + timedelta(seconds=1))["touchless"] == 2


def test_paid_to_allocated_percentiles(users, warehouses):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        for minutes in (11, 12, 30):
            order = order_create(actor=None, channel="shopify", amount="10.00", external_id=f"P{minutes}")
            order_transition(order.pk, "pay", actor=None)
            order_transition(order.pk, "approve", actor=None)
            traveller.shift(timedelta(minutes=minutes))
            order_transition(order.pk, "allocate", actor=None, warehouse=warehouses[0])
        figures = kpi_paid_to_allocated(since=start, until=timezone.now() + timedelta(seconds=1))
    assert figures["samples"] == 3
    assert (figures["p50_seconds"], figures["p95_seconds"]) == (720.0, 1800.0)


def test_the_dashboard_shows_both(client, users, warehouses):
    order = order_create(actor=None, channel="shopify", amount="10.00", external_id="D1")
    order_transition(order.pk, "pay", actor=None)
    _ship(order, users, warehouses[0], number="SF200001")
    client.force_login(users["ops1"])
    body = client.get(reverse("kpis:dashboard")).content.decode()
    assert 'id="kpi-touchless"' in body and "100.0 %" in body
    assert 'id="kpi-paid-to-allocated"' in body and 'id="chart-touchless"' in body
    assert Order.objects.get(pk=order.pk).state == "shipped"
