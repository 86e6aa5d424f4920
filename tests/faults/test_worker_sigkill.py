"""A Celery worker SIGKILLed in the middle of a reaction: the reaction runs again and takes
effect once.

The reaction is the waybill upload of a shipped order. The carrier creates the waybill and then
holds its answer, so the worker is certainly inside the call, with the outbox row locked and its
transaction open, when the test kills it. Two ways to die:

- "pool process": the OOM killer takes the prefork child that runs the task. The worker's main
  process sees it lost, and with `acks_late` and `reject_on_worker_lost` (orders.tasks
  .outbox_drain) hands the message back to the broker: a new child runs it again, no sweep.
- "whole worker": the container dies (SIGKILL to the main process and its pool). The message is
  still unacknowledged in Redis, where it would wait for the visibility timeout (an hour); a new
  worker gets it through the outbox's re-dispatch sweep instead (grace 0 here).

Either way PostgreSQL rolled the killed attempt back (the row is pending, attempts 0), the
second call finds the waybill already at the carrier (SF answers 8016, read as "an earlier
attempt got through"), and the row ends done: one waybill at the carrier, one upload row, one
ship event, no failure.
"""

from __future__ import annotations

import os
import signal

import pytest

from alerts.models import Alert
from orders.models import OrderEvent, OutboxMessage, OutboxStatus, Shipment
from orders.services.transition import order_transition
from tests.conftest import wait_for

from .conftest import PlannedCarrier, only_upload_rules, sf_account_for, wait_until_finished

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("death", ["pool process", "whole worker"])
def test_a_reaction_killed_mid_call_runs_again_and_takes_effect_once(
    death, workers, make_order, users, warehouses, settings
):
    only_upload_rules()
    order = make_order("packed")
    carrier_order_id = f"{order.number}-S1"
    with PlannedCarrier(hold_after_create={carrier_order_id}) as carrier:
        sf_account_for(carrier, warehouses)
        worker = workers("first", pool="prefork", concurrency=1)

        ship = order_transition(order.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF1000000000731")
        upload = OutboxMessage.objects.get(event=ship, kind="carrier_upload_waybill")
        assert carrier.held.wait(60), "the upload never reached the carrier"
        assert carrier.created[carrier_order_id] == 1  # the carrier has it; the worker waits

        if death == "pool process":
            (child,) = worker.pool_children()
            os.kill(child, signal.SIGKILL)
            # No sweep: the worker's main process gives the message back, a new child runs it.
            wait_for(lambda: carrier.calls[carrier_order_id] == 2, timeout=30, what="the upload to run again")
            sweeps = wait_until_finished([upload.pk], timeout=30, sweep_every=None)
            assert worker.process.poll() is None, "the worker's main process should have survived"
            assert "SIGKILL" in worker.log()  # it saw its pool process die
        else:
            worker.kill_everything()
            upload.refresh_from_db()
            assert (upload.status, upload.attempts) == (OutboxStatus.PENDING, 0)  # rolled back
            settings.ORDERHUB_OUTBOX_GRACE_SECONDS = 0
            workers("second", pool="prefork", concurrency=1)
            sweeps = wait_until_finished([upload.pk], timeout=60, sweep_every=1.0)
            assert sweeps >= 1

    upload.refresh_from_db()
    assert upload.status == OutboxStatus.DONE, upload.last_error
    assert upload.attempts == 1  # the killed attempt left nothing, not even its count
    assert "already had" in upload.result  # the carrier's duplicate answer, taken as success
    # Once at the carrier, though called twice.
    assert carrier.calls[carrier_order_id] == 2
    assert carrier.created[carrier_order_id] == 1
    assert carrier.duplicates[carrier_order_id] == 1
    assert list(carrier.created) == [carrier_order_id]
    # Once in the hub.
    assert OutboxMessage.objects.filter(event__order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, action="ship").count() == 1
    assert not OrderEvent.objects.filter(order=order, action="reaction_failed").exists()
    assert Shipment.objects.filter(order=order).count() == 1
    assert not Alert.objects.exists()
    print(f"{death}: done after {sweeps} sweep(s)")
