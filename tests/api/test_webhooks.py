"""Outbound webhooks: written to the outbox with the event, POSTed signed to a local receiver
that verifies the signature as docs/api.md tells integrators to, logged per attempt, retried,
filtered by event type and brand, replayable."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from api.models import WebhookDelivery, WebhookSubscription
from api.services.webhooks import WEBHOOK_DELIVER, webhook_delivery_replay
from orders.models import OrderEvent
from orders.outbox.models import OutboxMessage, OutboxStatus
from orders.outbox.services import outbox_deliver_due, outbox_drain
from orders.services.transition import order_transition
from tests.fakes.webhook_receiver import FakeWebhookReceiver

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-1234567890"


def _subscribe(url: str, *, types=("approve",), brands=(), secret: str = SECRET) -> WebhookSubscription:
    subscription = WebhookSubscription.objects.create(
        name=f"erp {WebhookSubscription.objects.count()}", url=url, secret=secret, event_types=list(types)
    )
    subscription.brands.set(brands)
    return subscription


def _deliver_due() -> None:
    """What the calls lane's worker does, here in the test's thread."""
    outbox_drain("calls", budget_seconds=5)


def _attempt_once() -> None:
    """One attempt of the one due row (a drain would also take a retry that is due already)."""
    outbox_deliver_due("calls", limit=1)


def _make_due() -> None:
    OutboxMessage.objects.filter(kind=WEBHOOK_DELIVER, status=OutboxStatus.PENDING).update(
        next_attempt_at=timezone.now()
    )


def test_an_event_is_delivered_signed_and_logged(make_order, users):
    order = make_order("paid")
    with FakeWebhookReceiver(secret=SECRET) as receiver:
        subscription = _subscribe(receiver.url)
        event = order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
        assert OutboxMessage.objects.filter(event=event, kind=WEBHOOK_DELIVER).count() == 1
        _deliver_due()
    [request] = receiver.requests
    assert request.status == 200
    assert request.headers["x-orderhub-event"] == "approve"
    payload = json.loads(request.body)
    assert payload["event_id"] == event.pk
    assert payload["type"] == "approve"
    assert payload["to_state"] == "reviewed"
    assert payload["order"]["number"] == order.number
    assert payload["order"]["brand"] == order.shop.brand.code
    assert "buyer_email" not in json.dumps(payload) and order.buyer_email not in request.body.decode()
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.subscription, delivery.event_id, delivery.ok, delivery.status_code, delivery.attempt) == (
        subscription,
        event.pk,
        True,
        200,
        1,
    )
    assert delivery.delivery_id == request.headers["x-orderhub-delivery"]
    assert delivery.response_excerpt == '{"ok":true}'
    assert OutboxMessage.objects.get(event=event, kind=WEBHOOK_DELIVER).status == OutboxStatus.DONE


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(make_order, users):
    order = make_order("paid")
    with FakeWebhookReceiver(secret=SECRET) as receiver:
        _subscribe(receiver.url, secret="another-secret")
        order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
        _attempt_once()
    assert [r.status for r in receiver.requests] == [401]
    assert receiver.accepted == {}
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.ok, delivery.status_code) == (False, 401)
    message = OutboxMessage.objects.get(kind=WEBHOOK_DELIVER)
    assert message.status == OutboxStatus.PENDING and message.attempts == 1


def test_a_failing_receiver_is_retried_with_the_same_delivery_id_and_each_attempt_logged(make_order, users):
    order = make_order("paid")
    with FakeWebhookReceiver(secret=SECRET) as receiver:
        receiver.answers.extend(["server_error", "server_error"])
        _subscribe(receiver.url)
        order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
        for _ in range(3):
            _make_due()
            _attempt_once()
    assert [r.status for r in receiver.requests] == [500, 500, 200]
    assert len({r.headers["x-orderhub-delivery"] for r in receiver.requests}) == 1
    log = list(WebhookDelivery.objects.order_by("attempt").values_list("attempt", "ok", "status_code"))
    assert log == [(1, False, 500), (2, False, 500), (3, True, 200)]
    assert "500 Internal Server Error" in WebhookDelivery.objects.get(attempt=1).response_excerpt
    assert OutboxMessage.objects.get(kind=WEBHOOK_DELIVER).status == OutboxStatus.DONE


def test_a_receiver_that_is_not_there_is_logged_as_a_connection_failure(make_order, users):
    order = make_order("paid")
    _subscribe("http://127.0.0.1:9/hooks/orderhub")  # the discard port: nothing listens
    order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
    _attempt_once()
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.ok is False and delivery.status_code is None
    assert "connection failed" in delivery.error
    assert OutboxMessage.objects.get(kind=WEBHOOK_DELIVER).status == OutboxStatus.PENDING


def test_only_the_subscribed_types_and_brands_are_sent(make_order, users, brands):
    alpha = make_order("paid", shop=brands["alpha"])
    beta = make_order("paid", shop=brands["beta"])
    with FakeWebhookReceiver(secret=SECRET) as receiver:
        _subscribe(receiver.url, types=("approve",), brands=[brands["alpha"].brand])
        _subscribe(receiver.url, types=("flag_risk",))
        for order in (alpha, beta):
            order_transition(order.pk, "approve", actor=users["ops1"], expected_version=order.version)
        _deliver_due()
    sent = [json.loads(r.body)["order"]["number"] for r in receiver.requests]
    assert sent == [alpha.number]
    # beta's message ran and ended without a call; no flag_risk subscription was asked.
    assert OutboxMessage.objects.filter(kind=WEBHOOK_DELIVER).count() == 2
    assert not OutboxMessage.objects.filter(kind=WEBHOOK_DELIVER, status=OutboxStatus.PENDING).exists()


def test_a_delivery_can_be_replayed(make_order, users):
    order = make_order("paid")
    with FakeWebhookReceiver(secret=SECRET) as receiver:
        _subscribe(receiver.url)
        event = order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
        _deliver_due()
        replayed = webhook_delivery_replay(delivery_id=WebhookDelivery.objects.get().pk, actor=users["tech1"])
        _deliver_due()
    assert [json.loads(r.body)["event_id"] for r in receiver.requests] == [event.pk, event.pk]
    assert receiver.requests[1].headers["x-orderhub-delivery"] == replayed
    assert len(receiver.accepted) == 2
    assert WebhookDelivery.objects.filter(ok=True).count() == 2


def test_an_inactive_subscription_asks_for_nothing(make_order, users):
    order = make_order("paid")
    subscription = _subscribe("http://127.0.0.1:9/hooks/orderhub")
    subscription.is_active = False
    subscription.save()
    order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
    assert not OutboxMessage.objects.filter(kind=WEBHOOK_DELIVER).exists()


def test_a_delivery_gets_its_own_attempts_then_fails_with_an_alert(make_order, users, settings):
    """The suite allows 3 attempts per reaction; a webhook keeps its 24 (at production back-off
    more than an hour), then fails for good: on the timeline and as the tech lead's alert."""
    from alerts.models import Alert
    from api.services.webhooks import WEBHOOK_MAX_ATTEMPTS

    assert settings.ORDERHUB_OUTBOX_MAX_ATTEMPTS < WEBHOOK_MAX_ATTEMPTS
    order = make_order("paid")
    _subscribe("http://127.0.0.1:9/hooks/orderhub")
    order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
    message = OutboxMessage.objects.get(kind=WEBHOOK_DELIVER)
    for attempt in range(1, WEBHOOK_MAX_ATTEMPTS + 1):
        _make_due()
        _attempt_once()
        message.refresh_from_db()
        assert message.attempts == attempt
        expected = OutboxStatus.FAILED if attempt == WEBHOOK_MAX_ATTEMPTS else OutboxStatus.PENDING
        assert message.status == expected, attempt
    assert WebhookDelivery.objects.filter(ok=False).count() == WEBHOOK_MAX_ATTEMPTS
    failure = OrderEvent.objects.get(order=order, action="reaction_failed")
    assert failure.data["reaction"] == WEBHOOK_DELIVER and failure.data["integration"] is True
    [alert] = Alert.objects.filter(kind="integration_failure")
    # The tech lead sees which subscription's receiver it was, not only "a webhook".
    assert alert.details["integration"] == "webhook_deliver:subscription “erp 0”"
    assert "erp 0" in alert.title


def test_a_burst_goes_out_in_one_batch_and_each_delivery_ends_on_its_own(make_order, users, settings):
    """Due deliveries are claimed together (one transaction, their POSTs in parallel); a
    receiver that is down fails only its own rows, each logged and left for a retry."""
    settings.ORDERHUB_CALLS_BATCH = 10
    orders = [make_order("paid") for _ in range(4)]
    with FakeWebhookReceiver(secret=SECRET) as receiver:
        up = _subscribe(receiver.url)
        down = _subscribe("http://127.0.0.1:9/hooks/orderhub")  # the discard port: refused
        events = [order_transition(o.pk, "approve", actor=users["cs1"], expected_version=o.version) for o in orders]
        assert outbox_deliver_due("calls", limit=1) == 8
    assert sorted(json.loads(r.body)["event_id"] for r in receiver.requests) == sorted(e.pk for e in events)
    rows = OutboxMessage.objects.filter(kind=WEBHOOK_DELIVER)
    assert {m.params["subscription"]: m.status for m in rows if m.params["subscription"] == up.pk} == {
        up.pk: OutboxStatus.DONE
    }
    failed = [m for m in rows if m.params["subscription"] == down.pk]
    assert [(m.status, m.attempts) for m in failed] == [(OutboxStatus.PENDING, 1)] * 4
    assert all("connection failed" in m.last_error for m in failed)
    log = WebhookDelivery.objects.all()
    assert sorted((d.subscription_id, d.ok) for d in log) == [(up.pk, True)] * 4 + [(down.pk, False)] * 4


def test_a_batch_that_breaks_is_tried_one_delivery_at_a_time(make_order, users, settings, monkeypatch):
    from api.services import webhooks

    settings.ORDERHUB_CALLS_BATCH = 10
    orders = [make_order("paid") for _ in range(3)]
    prepare = webhooks._post_prepare
    broken = orders[1].pk

    def prepare_or_raise(message):
        if message.event.order_id == broken:
            raise RuntimeError("a bug in one delivery")
        return prepare(message)

    monkeypatch.setattr(webhooks, "_post_prepare", prepare_or_raise)
    with FakeWebhookReceiver(secret=SECRET) as receiver:
        _subscribe(receiver.url)
        for o in orders:
            order_transition(o.pk, "approve", actor=users["cs1"], expected_version=o.version)
        assert outbox_deliver_due("calls", limit=1) == 3
    assert len(receiver.accepted) == 2
    outcome = {m.event.order_id: (m.status, m.attempts) for m in OutboxMessage.objects.filter(kind=WEBHOOK_DELIVER)}
    assert outcome[broken] == (OutboxStatus.PENDING, 1)
    assert [v for k, v in outcome.items() if k != broken] == [(OutboxStatus.DONE, 1)] * 2
    assert "a bug in one delivery" in OutboxMessage.objects.get(event__order_id=broken, kind=WEBHOOK_DELIVER).last_error
