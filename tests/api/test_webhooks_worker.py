"""Outbound webhooks end to end: PostgreSQL, the real Redis broker and a real Celery worker.
A receiver that is down when the events happen gets every one of them once it is up."""

from __future__ import annotations

import json
import socket

import pytest

from api.models import WebhookDelivery, WebhookSubscription
from api.services.webhooks import WEBHOOK_DELIVER
from orders.outbox.models import OutboxMessage, OutboxStatus
from orders.services.transition import order_transition
from tests.conftest import wait_for
from tests.fakes.webhook_receiver import PATH, FakeWebhookReceiver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECRET = "whsec-worker-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_receiver_down_then_up_loses_nothing(live_worker, make_order, users, settings):
    # Slower back-off than the suite's, so the receiver comes up well inside the attempts.
    settings.ORDERHUB_OUTBOX_BACKOFF_BASE = 0.2
    settings.ORDERHUB_OUTBOX_BACKOFF_CAP = 0.5
    port = _free_port()
    WebhookSubscription.objects.create(
        name="erp", url=f"http://127.0.0.1:{port}{PATH}", secret=SECRET, event_types=["approve"]
    )
    orders = [make_order("paid") for _ in range(5)]
    events = [order_transition(o.pk, "approve", actor=users["cs1"], expected_version=o.version) for o in orders]

    # Down: every delivery is tried and fails, more than once, and is logged each time.
    wait_for(
        lambda: all(WebhookDelivery.objects.filter(event=e, ok=False).count() >= 2 for e in events),
        what="two failed attempts per event while the receiver is down",
    )
    assert not WebhookDelivery.objects.filter(ok=True).exists()

    with FakeWebhookReceiver(secret=SECRET, port=port) as receiver:
        wait_for(lambda: len(receiver.accepted) == len(events), what="every event at the receiver")
        wait_for(
            lambda: not OutboxMessage.objects.filter(kind=WEBHOOK_DELIVER, status=OutboxStatus.PENDING).exists(),
            what="every delivery done",
        )

    assert sorted(p["event_id"] for p in receiver.accepted.values()) == sorted(e.pk for e in events)
    assert all(r.status == 200 for r in receiver.requests), "each request arrived signed and fresh"
    messages = OutboxMessage.objects.filter(kind=WEBHOOK_DELIVER)
    assert {m.status for m in messages} == {OutboxStatus.DONE}
    assert all(m.attempts >= 3 for m in messages)
    # One successful delivery logged per event, after its failed attempts.
    for event in events:
        log = list(WebhookDelivery.objects.filter(event=event).order_by("attempt").values_list("ok", flat=True))
        assert log[-1] is True and not any(log[:-1])
    assert json.loads(receiver.requests[-1].body)["type"] == "approve"
