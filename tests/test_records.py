"""The record: events, shipments and history are append-only, in the code and in the database."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from orders.models import AppendOnlyError, OrderEvent, Shipment


@pytest.mark.django_db
def test_events_refuse_update_and_delete_in_code(make_order):
    order = make_order("shipped")
    event = OrderEvent.objects.filter(order=order).last()
    event.note = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        OrderEvent.objects.filter(order=order).update(note="x")
    with pytest.raises(AppendOnlyError):
        OrderEvent.objects.filter(order=order).delete()
    with pytest.raises(AppendOnlyError):
        Shipment.objects.filter(order=order).update(tracking_number="OVERWRITTEN1")
    assert OrderEvent.objects.get(pk=event.pk).note == ""


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["orders_orderevent", "orders_shipment"])
def test_database_refuses_raw_update(table, make_order):
    make_order("shipped")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        column = "note" if table == "orders_orderevent" else "tracking_number"
        cursor.execute(f"UPDATE {table} SET {column} = 'OVERWRITTEN1'")
    assert not Shipment.objects.filter(tracking_number="OVERWRITTEN1").exists()


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize("table", ["orders_orderevent", "orders_shipment", "orders_historicalorder"])
def test_postgres_refuses_raw_delete(table, make_order):
    make_order("shipped")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        assert cursor.fetchone()[0] > 0


@pytest.mark.django_db
def test_timeline_records_actor_role_and_change(make_order, users):
    order = make_order("packed")
    lines = [(e.action, e.from_state, e.to_state, e.actor_name, e.actor_role) for e in order.events.order_by("id")]
    assert lines == [
        ("created", "", "submitted", "", "system"),
        ("pay", "submitted", "paid", "", "system"),
        ("approve", "paid", "reviewed", "张明", "customer_service"),
        ("allocate", "reviewed", "allocated", "王强", "warehouse"),
        ("pack", "allocated", "packed", "王强", "warehouse"),
    ]
    versions = list(order.events.order_by("id").values_list("order_version", flat=True))
    assert versions == [1, 2, 3, 4, 5]
    # Field history of the order row, with the user who made each change.
    history = list(order.history.order_by("history_id").values_list("state", "history_user__username"))
    assert history == [
        ("submitted", None),
        ("paid", None),
        ("reviewed", "cs1"),
        ("allocated", "wh1"),
        ("packed", "wh1"),
    ]


@pytest.mark.django_db
def test_actor_name_is_a_snapshot(make_order, users):
    order = make_order("reviewed")
    cs = users["cs1"]
    cs.first_name = "明明"
    cs.save()
    approve = order.events.get(action="approve")
    assert approve.actor_name == "张明"
