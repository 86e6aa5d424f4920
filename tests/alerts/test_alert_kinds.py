"""Integration failures and duplicate refund attempts: each opens, dedupes and resolves."""

from __future__ import annotations

import pytest

from aftersales.services.refunds import AlreadyRefunded, refund_request
from alerts.models import Alert, AlertKind
from integrations.models import CarrierAccount
from orders.models import OutboxMessage, OutboxStatus
from orders.outbox.services import outbox_deliver, outbox_retry
from orders.services.transition import order_transition
from tests.fakes.cainiao import FakeCainiao

pytestmark = pytest.mark.django_db

APP_KEY, SECRET = "cn-provider-1", "cn-secret-1"


def ship(make_order, users, tracking):
    order = make_order("packed")
    event = order_transition(order.pk, "ship", actor=users["wh1"], carrier="cainiao", tracking_number=tracking)
    return order, OutboxMessage.objects.get(event=event, kind="carrier_upload_waybill")


def test_a_waybill_upload_that_fails_for_good_opens_one_alert_and_a_later_success_resolves_it(
    make_order, users, warehouses
):
    order, upload = ship(make_order, users, "LP73100000000201")
    # No carrier account: the upload cannot succeed, it fails for good at once.
    assert outbox_deliver(upload.pk) == OutboxStatus.FAILED
    alert = Alert.objects.get(kind=AlertKind.INTEGRATION_FAILURE)
    assert (alert.order_id, alert.status, alert.seen_count) == (order.pk, "open", 1)
    assert alert.details["integration"] == "carrier_upload_waybill:cainiao"
    assert alert.details["outbox_message"] == upload.pk
    assert order.number in alert.title and alert.escalate_at is not None

    # Retried from the admin and failing again: the same alert, seen twice.
    outbox_retry(message_id=upload.pk, actor=users["ops1"])
    assert outbox_deliver(upload.pk) == OutboxStatus.FAILED
    assert Alert.objects.filter(kind=AlertKind.INTEGRATION_FAILURE).count() == 1
    alert.refresh_from_db()
    assert (alert.status, alert.seen_count) == ("open", 2)

    with FakeCainiao(app_key=APP_KEY, secret=SECRET) as cainiao:
        account = CarrierAccount.objects.create(
            name="菜鸟",
            carrier="cainiao",
            endpoint=cainiao.url,
            app_key=APP_KEY,
            app_secret=SECRET,
            extra={"cp_code": "YTO"},
        )
        account.warehouses.set(warehouses)
        outbox_retry(message_id=upload.pk, actor=users["ops1"])
        assert outbox_deliver(upload.pk) == OutboxStatus.DONE
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by is None
    assert alert.resolution.startswith("the upload succeeded at ")


def test_a_success_of_another_reaction_does_not_resolve_it(make_order, users):
    order, upload = ship(make_order, users, "LP73100000000202")
    outbox_deliver(upload.pk)
    notify = OutboxMessage.objects.filter(event__order=order, kind="notify").exclude(status="done").first()
    if notify is not None:
        outbox_deliver(notify.pk)
    assert Alert.objects.get(kind=AlertKind.INTEGRATION_FAILURE).status == "open"


def test_non_integration_failures_open_no_alert(make_order, users):
    from orders.outbox.kinds import _KINDS, ReactionKind, reaction_kind, reaction_kind_register

    def boom(message):
        from orders.outbox.kinds import ReactionFailed

        raise ReactionFailed("nope")

    reaction_kind("notify")  # load the built-in kinds first
    reaction_kind_register(ReactionKind("test_internal_boom", "boom", boom, lambda p: p))
    try:
        order = make_order("paid")
        event = order.events.order_by("-id").first()
        message = OutboxMessage.objects.create(event=event, kind="test_internal_boom", idempotency_key="boom-1")
        assert outbox_deliver(message.pk) == OutboxStatus.FAILED
        assert not Alert.objects.exists()
    finally:
        _KINDS.pop("test_internal_boom", None)


def test_a_duplicate_refund_attempt_opens_an_alert_that_a_person_resolves(make_order, users):
    from alerts.alerting import alert_resolve

    order = make_order("delivered", amount="199.00")
    refund_request(order_id=order.pk, actor=users["fin1"], amount="20.00", reason="补偿", idempotency_key="form-dup-1")
    assert not Alert.objects.exists()
    for _ in range(2):
        with pytest.raises(AlreadyRefunded):
            refund_request(
                order_id=order.pk, actor=users["fin1"], amount="20.00", reason="补偿", idempotency_key="form-dup-1"
            )
    alert = Alert.objects.get()
    assert (alert.kind, alert.order_id, alert.status, alert.seen_count) == ("duplicate_refund", order.pk, "open", 2)
    assert alert.details["idempotency_key"] == "form-dup-1"
    alert_resolve(alert_id=alert.pk, actor=users["ops1"], note="checked: paid once", expected_version=alert.version)
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by, alert.resolution) == ("resolved", users["ops1"], "checked: paid once")
