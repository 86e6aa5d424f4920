"""Delivered orders are archived after N days when no after-sales case is open: set-based
selection, one event per order through the transition service, idempotent, N from the hub
settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from aftersales.models import ReturnRequest
from orders.models import HubSettings, Order, OrderEvent
from orders.selectors import hub_settings_get
from orders.services.archive import orders_archive_due
from orders.states import State

pytestmark = pytest.mark.django_db


def delivered_days_ago(order, days: float):
    Order.objects.filter(pk=order.pk).update(state_changed_at=timezone.now() - timedelta(days=days))
    return order


def state_of(order) -> str:
    return Order.objects.get(pk=order.pk).state


def test_archives_what_is_due_and_nothing_else(make_order):
    due = delivered_days_ago(make_order("delivered"), 16)
    invoiced = delivered_days_ago(make_order("invoice_requested"), 20)
    recent = delivered_days_ago(make_order("delivered"), 10)
    returning = delivered_days_ago(make_order("return_requested"), 30)
    in_transit = delivered_days_ago(make_order("picked_up"), 30)

    run = orders_archive_due()

    assert (run.archived, run.skipped) == (2, 0)
    assert state_of(due) == state_of(invoiced) == State.ARCHIVED
    assert state_of(recent) == State.DELIVERED
    assert state_of(returning) == State.RETURN_REQUESTED
    assert state_of(in_transit) == State.PICKED_UP
    event = OrderEvent.objects.filter(order=due).latest("id")
    assert (event.action, event.actor_role, event.actor_id) == ("archive", "system", None)
    assert "15 days" in event.note
    assert OrderEvent.objects.filter(order=due, action="archive").count() == 1


def test_an_open_after_sales_case_keeps_the_order_open(make_order):
    order = delivered_days_ago(make_order("delivered"), 40)
    ReturnRequest.objects.create(order=order, reason="坏了", source="channel", status="requested")
    assert orders_archive_due().archived == 0
    assert state_of(order) == State.DELIVERED


def test_running_twice_changes_nothing_the_second_time(make_order):
    orders = [delivered_days_ago(make_order("delivered"), 16 + i) for i in range(5)]
    first = orders_archive_due(batch_size=2)
    events = OrderEvent.objects.count()
    second = orders_archive_due(batch_size=2)
    assert (first.archived, second.archived, second.skipped) == (5, 0, 0)
    assert OrderEvent.objects.count() == events
    assert {state_of(o) for o in orders} == {State.ARCHIVED}


def test_the_delay_operations_set_takes_effect_at_once(make_order):
    order = delivered_days_ago(make_order("delivered"), 6)
    assert orders_archive_due().archived == 0
    settings_row = hub_settings_get()
    settings_row.archive_after_days = 5
    settings_row.save()
    assert HubSettings.objects.get().archive_after_days == 5
    assert orders_archive_due().archived == 1
    assert state_of(order) == State.ARCHIVED


def test_gifts_are_archived_with_their_main_order_not_on_their_own(make_order):
    main = delivered_days_ago(make_order("delivered"), 20)
    gift = make_order("delivered", main_order=main, amount="0.00")
    delivered_days_ago(gift, 20)
    lone_gift_main = make_order("picked_up")
    lone_gift = delivered_days_ago(make_order("delivered", main_order=lone_gift_main, amount="0.00"), 20)

    assert orders_archive_due().archived == 1
    assert state_of(main) == state_of(gift) == State.ARCHIVED
    assert OrderEvent.objects.filter(order=gift, action="archive").count() == 1
    # Its main order is still on the road: the gift waits for it.
    assert state_of(lone_gift) == State.DELIVERED
