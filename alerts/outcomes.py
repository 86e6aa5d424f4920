"""Alerts that follow outbox outcomes and refund duplicates.

Integration failures are per order: an outbox message of an integration kind (carrier pickup,
waybill upload, return label, refund payment, chat robot) that fails for good opens (or
touches) the INTEGRATION_FAILURE alert of its order, naming the integration
("carrier_upload_waybill:sf") in the title and details. Per order rather than per integration
because what someone must do is per order (fix the address, retry the upload from the admin)
and the alert is one click from that order's timeline; an outage of one carrier shows up as
many alerts of one integration on the board, filterable. A later message of the same kind for
the same order that succeeds (the retried upload) resolves it as the system: "the upload
succeeded at …".

Duplicate refund attempts open (or touch) the DUPLICATE_REFUND alert of the order. Nothing
clears that condition by itself: a person resolves it, with a note, after checking the refunds.
"""

from __future__ import annotations

from django.utils import timezone

from orders.models import OutboxStatus, Shipment
from orders.outbox.kinds import reaction_kind

from .alerting import alert_clear, alert_raise
from .models import ACTIVE_ALERT_STATUSES, Alert, AlertKind


def _integration_name(message) -> str:
    """`<reaction kind>:<carrier or channel or robot>`: what failed, as specifically as the
    message tells."""
    params = message.params or {}
    kind = reaction_kind(message.kind)
    target = (kind.target_name(message) if kind is not None and kind.target_name is not None else "") or ""
    target = target or params.get("carrier") or ""
    if not target and message.kind.startswith("carrier_"):
        target = Shipment.objects.filter(event_id=message.event_id).values_list("carrier", flat=True).first() or ""
    if not target and "robot_id" in params:
        target = f"robot {params['robot_id']}"
    if not target and message.kind == "refund_pay":
        target = "payment"
    return f"{message.kind}:{target}" if target else message.kind


def integration_outcome(message, status: str, error: str) -> None:
    """The outbox's outcome listener (registered in AlertsConfig.ready)."""
    kind = reaction_kind(message.kind)
    if kind is None or not kind.integration:
        return
    order = message.event.order
    if status == OutboxStatus.FAILED:
        integration = _integration_name(message)
        alert_raise(
            kind=AlertKind.INTEGRATION_FAILURE,
            order_id=order.pk,
            title=f"{order.number} · {integration} · {error}"[:200],
            details={
                "integration": integration,
                "reaction": message.kind,
                "outbox_message": message.pk,
                "attempts": message.attempts,
                "error": error[:500],
            },
        )
    elif status == OutboxStatus.DONE:
        # Only a success of the reaction that failed clears it (a chat message that got through
        # says nothing about the carrier).
        failed_here = Alert.objects.filter(
            kind=AlertKind.INTEGRATION_FAILURE,
            order_id=order.pk,
            status__in=ACTIVE_ALERT_STATUSES,
            details__reaction=message.kind,
        )
        if failed_here.exists():
            when = timezone.localtime(message.done_at or timezone.now())
            verb = "the upload succeeded" if "upload" in message.kind else f"{message.kind} succeeded"
            alert_clear(
                kind=AlertKind.INTEGRATION_FAILURE,
                order_id=order.pk,
                reason=f"{verb} at {when:%Y-%m-%d %H:%M:%S} (outbox message {message.pk})",
            )


def duplicate_refund_alert(*, attempt) -> None:
    """Called where a DuplicateRefundAttempt is recorded."""
    order = attempt.order
    alert_raise(
        kind=AlertKind.DUPLICATE_REFUND,
        order_id=order.pk,
        title=f"{order.number} · refund #{attempt.existing_refund_id} asked for again",
        details={
            "existing_refund": attempt.existing_refund_id,
            "attempt": attempt.pk,
            "attempted_by": attempt.attempted_by_id,
            "idempotency_key": attempt.idempotency_key,
        },
    )
