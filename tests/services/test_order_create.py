from __future__ import annotations

import re
import threading

import pytest
from django.db import connection

from orders.exceptions import ActionNotPermitted, InvalidActionData
from orders.models import Order
from orders.services.orders import order_create, order_number_next, order_update_details
from orders.states import Priority


@pytest.mark.django_db
def test_numbers_are_readable_and_sequential():
    first, second = order_number_next(), order_number_next()
    assert re.fullmatch(r"OH\d{8}-\d{5}", first)
    assert int(second[-5:]) == int(first[-5:]) + 1


@pytest.mark.django_db
def test_create_sets_priority_for_high_value_orders(users):
    cheap = order_create(actor=None, channel="taobao", amount="500.00")
    dear = order_create(actor=None, channel="taobao", amount="500.01")
    usd = order_create(actor=None, channel="amazon", amount="900.00", currency="usd")
    assert (cheap.priority, dear.priority, usd.priority) == (Priority.NORMAL, Priority.HIGH, Priority.NORMAL)
    assert usd.currency == "USD"
    assert dear.events.get().action == "created"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"channel": "ebay"}, "Unknown channel"),
        ({"amount": "-1"}, "zero or more"),
        ({"amount": "1.001"}, "two decimals"),
        ({"amount": "abc"}, "not an amount"),
        ({"amount": "NaN"}, "zero or more"),
        ({"currency": "RMB1"}, "currency code"),
        ({"buyer_email": "not-an-email"}, "not an email"),
    ],
)
def test_create_refuses_bad_input(fields, message, users):
    kwargs = {"actor": None, "channel": "shopify", "amount": "10.00", **fields}
    with pytest.raises(InvalidActionData, match=message):
        order_create(**kwargs)
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_external_id_is_unique_per_channel(users):
    order_create(actor=None, channel="shopify", amount="10.00", external_id="1001")
    order_create(actor=None, channel="amazon", amount="10.00", external_id="1001")
    with pytest.raises(InvalidActionData, match="already in the hub"):
        order_create(actor=None, channel="shopify", amount="10.00", external_id="1001")
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_gift_orders_are_derived_from_their_main_order(users):
    main = order_create(actor=None, channel="shopify", amount="300.00")
    gift = order_create(actor=None, channel="shopify", amount="0.00", main_order=main)
    gift = Order.objects.get(pk=gift.pk)
    main = Order.objects.get(pk=main.pk)
    assert gift.is_gift and not main.is_gift
    with pytest.raises(InvalidActionData, match="cannot itself be a gift"):
        order_create(actor=None, channel="shopify", amount="0.00", main_order=gift)


@pytest.mark.django_db
def test_roles_without_add_permission_cannot_create(users):
    with pytest.raises(ActionNotPermitted):
        order_create(actor=users["wh1"], channel="manual", amount="10.00")
    assert order_create(actor=users["cs1"], channel="manual", amount="10.00").events.get().actor_role == (
        "customer_service"
    )


@pytest.mark.django_db
def test_update_details_refuses_a_non_cs_owner_and_unknown_fields(make_order, users):
    order = make_order("paid")
    with pytest.raises(InvalidActionData, match="not an active customer-service user"):
        order_update_details(
            order_id=order.pk, actor=users["ops1"], expected_version=order.version, cs_owner=users["wh1"]
        )
    with pytest.raises(InvalidActionData, match="cannot be edited"):
        order_update_details(order_id=order.pk, actor=users["ops1"], expected_version=order.version, amount="1.00")
    with pytest.raises(ActionNotPermitted):
        order_update_details(order_id=order.pk, actor=users["wh1"], expected_version=order.version, priority=1)
    assert Order.objects.get(pk=order.pk).version == order.version


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_creation_never_repeats_a_number(users):
    numbers, errors = [], []
    barrier = threading.Barrier(8)

    def create():
        try:
            barrier.wait()
            for _ in range(10):
                numbers.append(order_create(actor=None, channel="manual", amount="1.00").number)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(numbers) == 80 == len(set(numbers))
