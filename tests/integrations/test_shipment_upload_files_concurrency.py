"""Two people making a shop's upload file at the same moment, on PostgreSQL: the shop's row lock
lines them up, so each shipment lands in one file and the second is told there is nothing new."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from integrations.models import ShipmentUploadFile, ShipmentUploadLine, UploadScope
from integrations.services.upload_files import UploadFileRefused, shipment_upload_file_create
from orders.models import Shipment
from tests.factories import ShipmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_makers_at_once_share_no_shipment(make_order, users):
    orders = [make_order("packed", channel="jd", external_id=f"JD-RACE-{n}") for n in range(3)]
    for n, order in enumerate(orders):
        ShipmentFactory(order=order, carrier="zto", tracking_number=f"ZTO77RACE{n:04d}", actor=users["wh1"])
    shop_id = orders[0].shop_id
    outcomes: dict[str, object] = {}
    pids: list[int] = []
    lock = threading.Lock()

    def make(who: str) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                with lock:
                    pids.append(cursor.fetchone()[0])
            outcomes[who] = shipment_upload_file_create(shop_id=shop_id, scope=UploadScope.SINCE_LAST, actor=users[who])
        except UploadFileRefused as exc:
            outcomes[who] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=make, args=(who,), daemon=True) for who in ("wh1", "ops1")]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM orders_shop WHERE id = %s FOR UPDATE", [shop_id])
        for thread in threads:
            thread.start()
        # Both wait on the shop's row: the race is certain, not likely.
        deadline = time.monotonic() + 20
        while True:
            with connection.cursor() as cursor:
                # pg_stat_activity is a snapshot per transaction: this one is held open, so clear it.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND wait_event_type = 'Lock'", [pids]
                )
                if len(pids) == 2 and cursor.fetchone()[0] == 2:
                    break
            assert time.monotonic() < deadline, "the two makers never both waited on the shop's lock"
            time.sleep(0.02)
    for thread in threads:
        thread.join(timeout=30)
    made = [o for o in outcomes.values() if not isinstance(o, Exception)]
    refused = [o for o in outcomes.values() if isinstance(o, UploadFileRefused)]
    assert len(made) == 1 and len(refused) == 1 and "Nothing new" in refused[0].message
    assert ShipmentUploadFile.objects.count() == 1
    assert ShipmentUploadLine.objects.count() == Shipment.objects.filter(order__shop_id=shop_id).count() == 3
