"""orders/model_rows.py (instances built for bulk writes without Model.__init__) and
orders/lookups.py (`field__any=`), which the batch intake and the logistics watch write and
look up with."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models.signals import post_init
from django.utils import timezone

from alerts.models import OrderWatch, WatchPhase
from orders.model_rows import RowBuilder
from orders.models import Order, OrderEvent
from orders.services.sql import rows_insert

NEW_EVENT = RowBuilder(OrderEvent)


def _field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields if not f.generated}


@pytest.mark.django_db
def test_a_built_instance_holds_what_the_constructor_would(make_order, users):
    order = make_order()
    at = timezone.now()
    values = {
        "order": order,
        "action": "pay",
        "from_state": "submitted",
        "to_state": "paid",
        "occurred_at": at,
        "order_version": 2,
    }
    built, constructed = NEW_EVENT(actor=users["cs1"], **values), OrderEvent(actor=users["cs1"], **values)
    assert _field_values(built) == _field_values(constructed)
    assert built.order is order and built.actor is users["cs1"]  # the related objects, cached
    assert built._state.adding and built._state.db is None and built.pk is None
    # A callable default is called for each instance (each its own dict).
    assert built.data == {} and built.data is not NEW_EVENT(order=order, action="x", occurred_at=at).data


@pytest.mark.django_db
def test_an_unknown_field_is_refused():
    with pytest.raises(TypeError, match="no field"):
        NEW_EVENT(action="pay", colour="red")


@pytest.mark.django_db
def test_the_constructor_is_used_when_an_app_listens_to_init(make_order):
    order, seen = make_order(), []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=OrderEvent)
    try:
        event = NEW_EVENT(order=order, action="pay", occurred_at=timezone.now())
    finally:
        post_init.disconnect(listener, sender=OrderEvent)
    assert seen == [event]


@pytest.mark.django_db
def test_built_rows_are_written_and_read_back(make_order):
    orders = [make_order(), make_order(amount=Decimal("12.50"))]
    watch = RowBuilder(OrderWatch)
    rows = [
        watch(order_id=o.pk, shop_id=o.shop_id, phase=WatchPhase.AWAITING_SHIPMENT, updated_at=timezone.now())
        for o in orders
    ]
    OrderWatch.objects.filter(order__in=orders).delete()
    rows_insert(OrderWatch, rows)  # a one-to-one key: the rows bring their own
    assert [r.pk for r in rows] == [o.pk for o in orders] and not rows[0]._state.adding
    assert set(OrderWatch.objects.filter(order_id__any=[o.pk for o in orders]).values_list("order_id", flat=True)) == {
        o.pk for o in orders
    }


@pytest.mark.django_db
def test_any_finds_what_in_finds(make_order):
    orders = [make_order() for _ in range(3)]
    ids = [orders[0].pk, orders[2].pk, -1]
    assert set(Order.objects.filter(pk__any=ids)) == set(Order.objects.filter(pk__in=ids)) == {orders[0], orders[2]}
    numbers = [orders[1].number, "OH-none"]
    assert list(Order.objects.filter(number__any=numbers)) == [orders[1]]
    assert not Order.objects.filter(pk__any=[]).exists()
