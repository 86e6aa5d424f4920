"""The watch under concurrent carrier pushes (PostgreSQL, real row locks): scans of one parcel
applied from many connections at once leave the first and the latest scan right (each push
locks the watch row), and the same delivery exception pushed at once from many connections
opens one alert."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection

from alerts.models import Alert, AlertKind, OrderWatch
from integrations.carriers.base import EXCEPTION, IN_TRANSIT, TrackingEvent
from integrations.models import TrackingRecord
from integrations.tracking import tracking_apply
from orders.models import Order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
TIMEOUT = 60


def run_together(count: int, work):
    barrier = threading.Barrier(count)

    def thread(i):
        released = False
        try:
            connection.ensure_connection()
            barrier.wait(timeout=TIMEOUT)
            released = True
            return work(i)
        finally:
            if not released:
                barrier.abort()
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(thread, i) for i in range(count)]
        return [future.result(timeout=TIMEOUT) for future in futures]


def test_concurrent_scans_keep_the_first_and_latest_scan(make_order):
    order = make_order("picked_up")
    shipment = Order.objects.get(pk=order.pk).current_shipment
    start = OrderWatch.objects.get(order_id=order.pk).parcel_shipped_at + timedelta(hours=1)
    # Thread i pushes scans at start + i h, start + (i + 8) h, …: the latest of all is the last
    # thread's last, the earliest the first thread's first.
    times = {i: [start + timedelta(hours=i + THREADS * n) for n in range(4)] for i in range(THREADS)}

    def push(i):
        for at in times[i]:
            event = TrackingEvent(
                shipment.tracking_number, IN_TRANSIT, at, description=f"scan {at:%H}", carrier_code="30"
            )
            tracking_apply(shipment=shipment, events=[event], via="push")

    run_together(THREADS, push)
    everything = sorted(at for mine in times.values() for at in mine)
    row = OrderWatch.objects.get(order_id=order.pk)
    assert row.last_scan_at == everything[-1] and row.carrier_status_at == everything[-1]
    assert row.first_scan_at == everything[0]
    assert TrackingRecord.objects.filter(shipment=shipment).count() == len(everything)


def test_the_same_exception_pushed_at_once_opens_one_alert(make_order):
    order = make_order("picked_up")
    shipment = Order.objects.get(pk=order.pk).current_shipment
    at = OrderWatch.objects.get(order_id=order.pk).parcel_shipped_at + timedelta(hours=5)
    event = TrackingEvent(shipment.tracking_number, EXCEPTION, at, description="拒收", carrier_code="70")

    run_together(THREADS, lambda _i: tracking_apply(shipment=shipment, events=[event], via="push"))
    alerts = Alert.objects.filter(kind=AlertKind.DELIVERY_EXCEPTION, order_id=order.pk)
    assert alerts.count() == 1
    assert alerts.get().seen_count == THREADS  # opened once, touched by every other push
