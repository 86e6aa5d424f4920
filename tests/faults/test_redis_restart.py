"""Redis dies and comes back while 1,000 shipped orders' waybills are being uploaded, and the
carrier fails more than half of the calls: every upload ends done exactly once, or failed with
an open integration-failure alert; none is lost, none is duplicated.

The run, with a real Celery worker process (prefork, 4 processes) on a Redis of the test's own
(no persistence, as a crashed broker without it):
1. the first 40 % are shipped before the worker starts, so their messages wait in Redis;
2. the worker starts; once 100 uploads are finished, Redis is SIGKILLed: every message still in
   its queue is gone, and so is everything the worker had taken but not acknowledged;
3. 20 orders are shipped while Redis is down (their messages cannot even be sent);
4. Redis is started again, empty; the rest are shipped;
5. the test plays beat: it runs the re-dispatch sweep (grace 3 s here) every 2 s until no row
   is pending, but only while Redis's queue is empty. A message carries no row, only "the
   calls lane has due rows": the sweep wakes a few drains, and they take every row whose
   wake-up Redis lost; waiting for the queue to drain keeps the test about what was lost.

The carrier answers by a plan per waybill (its carrier order id, `<order number>-S1`), so the
outcome of each is known in advance: half succeed at once; a quarter get a 500 first and
succeed on the retry; a quarter get a 500 every time and fail for good after the third attempt
(ORDERHUB_OUTBOX_MAX_ATTEMPTS in the test settings). 1,750 calls, 1,000 of them failing.

Size: 1,000 orders in CI (about a minute and a half on 2 cores), 5,000 under `make soak`.
The packed orders are copies of one made by the services (shipping and what follows is what is
under test; 1,000 orders walked through five transitions each would take two more minutes).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.conf import settings as django_settings

from alerts.models import Alert, AlertKind
from orders.models import Order, OrderEvent, OutboxMessage, OutboxStatus, Shipment
from orders.services.transition import order_transition
from tests.conftest import wait_for

from .conftest import PlannedCarrier, only_upload_rules, sf_account_for, soak, wait_until_finished

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = soak(1000, 5000)
SHIPPED_BEFORE_THE_WORKER = ORDERS * 2 // 5
FINISHED_WHEN_REDIS_DIES = 100
SHIPPED_WHILE_REDIS_IS_DOWN = 20
# The uploads wait on the carrier's answers: more processes than cores keep the CPU busy.
WORKER_PROCESSES = 4

OK_AT_ONCE, OK_ON_RETRY, FAILS_FOR_GOOD = "ok at once", "ok on retry", "fails for good"


def plan_of(index: int) -> str:
    if index % 2 == 0:
        return OK_AT_ONCE
    return OK_ON_RETRY if index % 4 == 1 else FAILS_FOR_GOOD


ANSWERS = {OK_AT_ONCE: [], OK_ON_RETRY: ["server_error"], FAILS_FOR_GOOD: ["server_error"] * 3}
EXPECTED = {  # plan: (status, attempts = calls at the carrier, waybills created)
    OK_AT_ONCE: (OutboxStatus.DONE, 1, 1),
    OK_ON_RETRY: (OutboxStatus.DONE, 2, 1),
    FAILS_FOR_GOOD: (OutboxStatus.FAILED, 3, 0),
}


def packed_orders(make_order, count: int) -> list[Order]:
    """One order brought to "packed" by the services, and count-1 copies of it."""
    template = make_order("packed")
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Order._meta.concrete_fields
        if not f.primary_key and not getattr(f, "generated", False) and f.attname != "number"
    }
    copies = [Order(number=f"{template.number}-{i:05d}", **fields) for i in range(1, count)]
    Order.objects.bulk_create(copies, batch_size=1000)
    return [template, *Order.objects.filter(number__startswith=f"{template.number}-").order_by("pk")]


def test_redis_restart_under_a_failing_carrier_loses_and_duplicates_no_upload(
    own_redis, broker, workers, make_order, users, warehouses, settings
):
    assert django_settings.ORDERHUB_OUTBOX_MAX_ATTEMPTS == 3  # the plans above count on it
    _app, _hub_queue = broker
    queue = django_settings.ORDERHUB_CALLS_QUEUE  # the waybill upload calls out: the calls lane
    only_upload_rules()
    started = time.monotonic()
    orders = packed_orders(make_order, ORDERS)
    assert len(orders) == ORDERS
    waybill = {order.pk: f"{order.number}-S1" for order in orders}
    plan = {order.pk: plan_of(i) for i, order in enumerate(orders)}
    settings.ORDERHUB_OUTBOX_GRACE_SECONDS = 3
    wh1 = users["wh1"]

    def ship(order):
        order_transition(order.pk, "ship", actor=wh1, carrier="sf", tracking_number=f"SF{order.pk:013d}")

    uploads = OutboxMessage.objects.filter(kind="carrier_upload_waybill")
    with PlannedCarrier(plans={waybill[o.pk]: ANSWERS[plan[o.pk]] for o in orders}) as carrier:
        sf_account_for(carrier, warehouses)
        setup_seconds = time.monotonic() - started

        first, down, rest = (
            orders[:SHIPPED_BEFORE_THE_WORKER],
            orders[SHIPPED_BEFORE_THE_WORKER : SHIPPED_BEFORE_THE_WORKER + SHIPPED_WHILE_REDIS_IS_DOWN],
            orders[SHIPPED_BEFORE_THE_WORKER + SHIPPED_WHILE_REDIS_IS_DOWN :],
        )
        for order in first:
            ship(order)
        assert own_redis.queue_length(queue) == len(first)  # every wake-up sent, none taken yet

        worker = workers("w1", pool="prefork", concurrency=WORKER_PROCESSES)
        wait_for(
            lambda: uploads.exclude(status=OutboxStatus.PENDING).count() >= FINISHED_WHEN_REDIS_DIES,
            timeout=60,
            interval=0.01,
            what=f"{FINISHED_WHEN_REDIS_DIES} uploads to finish",
        )
        queued_at_the_kill = own_redis.queue_length(queue)
        own_redis.kill()
        pending_after_the_kill = uploads.filter(status=OutboxStatus.PENDING).count()
        # Lost with Redis: the queued wake-ups; hundreds of rows now wait with none.
        assert queued_at_the_kill > 0 and pending_after_the_kill > 100

        down_started = time.monotonic()
        for order in down:
            ship(order)  # committed; the message cannot be sent (logged, left to the sweep)
        down_seconds = time.monotonic() - down_started
        own_redis.start()
        # It came back empty. How many wake-ups it holds by now is timing: the drains still
        # running re-time retries (one wake-up each) and wake a successor when their budget
        # ends, so no bound is asserted; what matters is that the rows are all taken below.
        for order in rest:
            ship(order)
        shipped_seconds = time.monotonic() - started

        sweeps = wait_until_finished(
            OutboxMessage.objects.all(),
            timeout=soak(240, 900),
            sweep_every=2.0,
            sweep_when=lambda: own_redis.queue_length(queue) == 0,
            supervised=(worker,),
        )
    total_seconds = time.monotonic() - started

    # None lost: one upload row per shipped order, each ended; the counts add up.
    rows = {row.event.order_id: row for row in uploads.select_related("event")}
    assert len(rows) == ORDERS == uploads.count()
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
    by_status = Counter(row.status for row in rows.values())
    assert by_status == {OutboxStatus.DONE: ORDERS * 3 // 4, OutboxStatus.FAILED: ORDERS // 4}, by_status

    # Each one as planned; none duplicated: a done upload created its waybill exactly once, and
    # the carrier was called exactly once per attempt.
    for order in orders:
        row, order_id = rows[order.pk], waybill[order.pk]
        expected = EXPECTED[plan[order.pk]]
        seen = (row.status, row.attempts, carrier.created[order_id])
        assert seen == expected, f"{order_id} ({plan[order.pk]}): {seen}, expected {expected}; {row.last_error}"
        assert carrier.calls[order_id] == row.attempts, order_id
        assert carrier.duplicates[order_id] == 0, order_id
    assert sum(carrier.created.values()) == by_status[OutboxStatus.DONE]
    calls, failed_calls = sum(carrier.calls.values()), ORDERS // 4 * (1 + 3)
    assert calls == ORDERS // 2 + ORDERS // 4 * (2 + 3)

    # Failed with an alert: each failed upload has its order's open integration-failure alert,
    # one failure event on its timeline, and the tech lead's notification sent.
    failed_orders = {order_id for order_id, row in rows.items() if row.status == OutboxStatus.FAILED}
    alerts = Alert.objects.filter(kind=AlertKind.INTEGRATION_FAILURE, status="open")
    assert set(alerts.values_list("order_id", flat=True)) == failed_orders
    assert alerts.count() == len(failed_orders) == Alert.objects.count()
    assert all(a.details["reaction"] == "carrier_upload_waybill" for a in alerts)
    failures = OrderEvent.objects.filter(action="reaction_failed")
    assert sorted(failures.values_list("order_id", flat=True)) == sorted(failed_orders)
    assert OutboxMessage.objects.filter(event__action="reaction_failed", kind="notify").count() == len(failed_orders)
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.DONE).exclude(pk__in=uploads).exists()

    # The orders themselves: shipped once, one tracking number each.
    assert OrderEvent.objects.filter(action="ship").count() == ORDERS == Shipment.objects.count()
    assert set(Order.objects.values_list("state", flat=True)) == {"shipped"}

    # The sweep may have had nothing to do: drains keep taking due rows while Redis is down
    # (they need only PostgreSQL), so rows whose wake-up was lost are often taken by them.
    assert own_redis.starts == 2
    print(
        f"\n{ORDERS} uploads: {by_status[OutboxStatus.DONE]} done, {by_status[OutboxStatus.FAILED]} failed "
        f"with an alert; {calls} carrier calls, {failed_calls} failed ({failed_calls / calls:.0%}); "
        f"{queued_at_the_kill} messages lost with Redis, {len(down)} shipped while it was down "
        f"({down_seconds:.1f} s); {sweeps} sweeps; {worker.restarts} worker restarts; setup {setup_seconds:.0f} s, "
        f"all shipped at {shipped_seconds:.0f} s, all finished at {total_seconds:.0f} s"
    )
