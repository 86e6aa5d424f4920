"""Refunds that move money exactly once.

    refund_request(*, order_id, actor, amount, reason, return_id=None, idempotency_key=None) -> Refund
    refund_pay(*, refund_id) -> str          # the `refund_pay` reaction, run by the outbox worker

What guards what:
- The order row lock (taken first, as by every writer of the order) serialises every refund
  request of one order: the checks "already refunded?" and "how much is left?" read committed
  rows and nobody can slip in between the check and the insert.
- The database constraint `refund_once_per_return` (one pending or paid refund per return) and
  the unique idempotency key hold even against a writer that skips the lock; their
  IntegrityError is answered like the check: AlreadyRefunded, and the attempt recorded.
- The idempotency key goes to the gateway (Alipay out_request_no), which moves money at most
  once per key: a reaction that runs again after a crash between the gateway call and our
  commit gets the earlier answer, and no second payment.
- The outbox message that pays is written in the request's transaction, so a recorded refund is
  always paid (or fails visibly), never silently forgotten.

A refused request changes nothing, except that a duplicate is recorded (DuplicateRefundAttempt,
committed although the request is refused) for operations.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.outcomes import duplicate_refund_alert
from integrations.models import PaymentGatewayAccount
from integrations.payments.base import PaymentGiveUp, PaymentRetryLater, RefundOrder, RefundResult
from orders.events import order_event_create
from orders.exceptions import ActionNotPermitted, ConflictError, InvalidActionData
from orders.models import Order, OrderEvent
from orders.outbox.kinds import ReactionFailed, ReactionRetryLater
from orders.outbox.services import outbox_enqueue_for_event, outbox_enqueue_kind, outbox_enqueue_once
from orders.permissions import role_of, user_display_name
from orders.services.locking import order_lock
from orders.services.transition import order_transition_in_transaction
from orders.states import STATE_MAP, PaymentStatus, Role, State

from ..events import REFUND_FAILED, REFUND_PAID, REFUND_REQUESTED
from ..models import DuplicateRefundAttempt, Refund, RefundStatus, ReturnRequest, ReturnStatus
from ..selectors import LIVE_REFUND_STATUSES, order_refunded_total, return_refund_proposed

REFUND_PAY = "refund_pay"
LIVE_STATUSES = LIVE_REFUND_STATUSES
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # the column holds 12 digits
# Sent to the gateway as is (Alipay out_request_no: at most 64 characters).
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
# States in which the buyer's money is with us (or was, and some went back).
_PAID_STATES = [
    state for state, (_main, pay, _stage) in STATE_MAP.items() if pay in (PaymentStatus.PAID, PaymentStatus.REFUNDED)
]


class RefundRefused(InvalidActionData):
    """The refund cannot be made as asked (gift order, never paid, too much, …)."""


class AlreadyRefunded(ConflictError):
    """Someone asked again for a refund that exists: nothing was done, the attempt is recorded."""

    def __init__(self, refund: Refund):
        self.refund = refund
        paid = refund.status == RefundStatus.PAID
        when = timezone.localtime(refund.paid_at if paid and refund.paid_at else refund.requested_at)
        if refund.request_event is not None:
            who = refund.request_event.actor_display
        else:
            who = user_display_name(refund.requested_by) or str(Role.SYSTEM.label)
        super().__init__(
            _(
                "Already refunded: %(amount)s %(currency)s on %(when)s, by %(who)s (refund #%(id)s, %(status)s). "
                "Nothing was done; the attempt is recorded for operations."
            )
            % {
                "amount": refund.amount,
                "currency": refund.currency,
                "when": when.strftime("%Y-%m-%d %H:%M"),
                "who": who,
                "id": refund.pk,
                "status": refund.get_status_display(),
            }
        )


@dataclass(frozen=True)
class _Duplicate:
    existing: Refund


# -- asking for a refund ------------------------------------------------------------------------


def refund_request(
    *,
    order_id: int,
    actor,
    amount,
    reason: str,
    return_id: int | None = None,
    idempotency_key: str | None = None,
) -> Refund:
    """Record a refund of `amount` (in the order's currency) and queue its payment, in one
    durable transaction. `actor` is a user with aftersales.add_refund, or None for the system.
    With `return_id` the refund closes that (approved) return. `idempotency_key` (optional) is
    the caller's key for this request: sending it again is answered AlreadyRefunded."""
    _check_may_refund(actor)
    amount = _clean_amount(amount)
    reason = (reason or "").strip()
    if not reason:
        raise RefundRefused(_("A refund needs a reason."))
    key = _clean_key(idempotency_key)
    with transaction.atomic(durable=True):
        order = order_lock(order_id)
        outcome = _request_locked(order, actor=actor, amount=amount, reason=reason, return_id=return_id, key=key)
    # Outside the transaction: the duplicate attempt it recorded is committed.
    if isinstance(outcome, _Duplicate):
        raise AlreadyRefunded(outcome.existing)
    return outcome


def _request_locked(order: Order, *, actor, amount: Decimal, reason: str, return_id, key: str | None):
    if order.main_order_id is not None:
        main_number = Order.objects.filter(pk=order.main_order_id).values_list("number", flat=True).first()
        raise RefundRefused(
            _(
                "Order %(number)s is a gift order (main order %(main)s): a gift is never refunded with money. "
                "Refund the main order instead."
            )
            % {"number": order.number, "main": main_number}
        )
    if not _was_paid(order):
        raise RefundRefused(
            _("Order %(number)s was never paid (%(state)s): there is no money to refund.")
            % {"number": order.number, "state": State(order.state).label}
        )
    return_request = None
    if return_id is not None:
        return_request = ReturnRequest.objects.filter(pk=return_id, order_id=order.pk).first()
        if return_request is None:
            raise RefundRefused(
                _("Return #%(id)s is not a return of order %(number)s.") % {"id": return_id, "number": order.number}
            )

    existing = _existing_refund(order, return_request=return_request, key=key)
    if existing is not None:
        return _duplicate(order, existing, actor=actor, return_request=return_request, key=key)

    if return_request is not None and return_request.status != ReturnStatus.APPROVED:
        raise RefundRefused(
            _("Return #%(id)s of order %(number)s is “%(status)s”: only an approved return is refunded.")
            % {"id": return_request.pk, "number": order.number, "status": return_request.get_status_display()}
        )
    refunded = order_refunded_total(order_id=order.pk)
    left = order.amount - refunded
    if amount > left:
        raise RefundRefused(
            _(
                "A refund of %(amount)s %(currency)s is more than is left: order %(number)s was paid %(paid)s "
                "%(currency)s, %(refunded)s %(currency)s is refunded or being refunded, %(left)s %(currency)s "
                "is left."
            )
            % {
                "amount": amount,
                "currency": order.currency,
                "number": order.number,
                "paid": order.amount,
                "refunded": refunded,
                "left": max(left, Decimal("0.00")),
            }
        )

    # What the return's lines proposed (aftersales.selectors), kept with the request so the
    # timeline tells an amount typed differently from the proposal.
    proposed = None
    if return_request is not None:
        return_request.order = order
        proposed = return_refund_proposed(return_request)

    if key is None:
        key = _new_key(order, return_request)
    now = timezone.now()
    # The parcel is being stopped: paying now would refund goods that may still reach the buyer
    # (how double refunds happen). The refund waits for the interception's result.
    held = order.state == State.INTERCEPT_REQUESTED
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                order=order,
                return_request=return_request,
                amount=amount,
                currency=order.currency,
                reason=reason,
                status=RefundStatus.HELD if held else RefundStatus.PENDING,
                idempotency_key=key,
                requested_by=actor,
                requested_at=now,
            )
    except IntegrityError:
        # The last line: a writer that did not take the order lock got there first.
        existing = _existing_refund(order, return_request=return_request, key=key)
        if existing is None:
            raise
        return _duplicate(order, existing, actor=actor, return_request=return_request, key=key)

    event = order_event_create(
        order=order,
        action=REFUND_REQUESTED,
        from_state=order.state,
        actor=actor,
        occurred_at=now,
        note=reason,
        data={
            "refund": refund.pk,
            "amount": str(amount),
            "currency": order.currency,
            "return": return_request.pk if return_request else None,
            "idempotency_key": key,
            **({"proposed": str(proposed)} if proposed is not None else {}),
            **({"held": True} if held else {}),
        },
    )
    refund.request_event = event
    refund.save(update_fields=["request_event"])
    if not held:
        _payment_enqueue(refund, event)
    # Whatever else operations want on a refund request (a notification, …) comes from rules.
    outbox_enqueue_for_event(event)
    return refund


def refunds_after_interception(events) -> None:
    """An event listener (AftersalesConfig), in the events' transaction, the order locked by
    the transition: when an interception ends, the refunds that waited for it are paid (the
    parcel is stopped) or fail with the reason (it reaches the buyer, who returns it)."""
    for event in events:
        if event.action not in ("confirm_intercept", "fail_intercept"):
            continue
        held = list(Refund.objects.select_for_update().filter(order_id=event.order_id, status=RefundStatus.HELD))
        for refund in held:
            if event.action == "confirm_intercept":
                refund.status = RefundStatus.PENDING
                refund.save(update_fields=["status"])
                # Keyed by the refund: one interception may release several.
                outbox_enqueue_once(
                    event, key=f"kind:{REFUND_PAY}:{refund.pk}", kind=REFUND_PAY, params={"refund_id": refund.pk}
                )
                continue
            reason = _("The parcel could not be stopped: it goes on to the buyer. Refund through the return.")
            refund.status = RefundStatus.FAILED
            refund.failure_reason = reason
            refund.save(update_fields=["status", "failure_reason"])
            failed = order_event_create(
                order=event.order,
                action=REFUND_FAILED,
                from_state=event.to_state,
                actor=None,
                occurred_at=event.occurred_at,
                note=reason,
                data={"refund": refund.pk, "amount": str(refund.amount), "currency": refund.currency},
            )
            outbox_enqueue_for_event(failed)


def _payment_enqueue(refund: Refund, event: OrderEvent) -> None:
    """The payment's outbox message, written with the request rather than by a reaction rule:
    paying a recorded refund must not depend on a rule that can be edited, disabled or missing
    from a database migrated before refunds existed."""
    outbox_enqueue_kind(event, kind=REFUND_PAY, params={"refund_id": refund.pk})


def _existing_refund(order: Order, *, return_request: ReturnRequest | None, key: str | None) -> Refund | None:
    """The refund this request repeats: the one with its key, or the live one of its return."""
    refunds = Refund.objects.select_related("request_event", "requested_by")
    if key is not None:
        by_key = refunds.filter(idempotency_key=key).first()
        if by_key is not None:
            if by_key.order_id != order.pk:
                raise RefundRefused(_("The request key %(key)s belongs to another order's refund.") % {"key": key})
            if by_key.status == RefundStatus.FAILED:
                raise RefundRefused(
                    _("Refund #%(id)s with the request key %(key)s failed (%(reason)s): ask again with a new key.")
                    % {"id": by_key.pk, "key": key, "reason": by_key.failure_reason or "—"}
                )
            return by_key
    if return_request is not None:
        return refunds.filter(return_request=return_request, status__in=LIVE_STATUSES).order_by("pk").first()
    return None


def _duplicate(order: Order, existing: Refund, *, actor, return_request, key) -> _Duplicate:

    attempt = DuplicateRefundAttempt.objects.create(
        order=order,
        return_request=return_request or existing.return_request,
        existing_refund=existing,
        attempted_by=actor,
        idempotency_key=key or "",
    )
    # Operations see it on the alert board; a person resolves it after checking the refunds.
    duplicate_refund_alert(attempt=attempt)
    return _Duplicate(existing)


def _new_key(order: Order, return_request: ReturnRequest | None) -> str:
    """Derived from the return (the n-th refund of it: a failed one may be followed by another),
    else random. Under the order lock, so two requests never derive the same key unseen."""
    if return_request is not None:
        n = Refund.objects.filter(return_request=return_request).count() + 1
        return f"{order.number}-R{return_request.pk}-{n}"
    return f"{order.number}-{uuid.uuid4().hex}"


def _check_may_refund(actor) -> None:
    if actor is None or (actor.is_active and actor.has_perm("aftersales.add_refund")):
        return
    role = role_of(actor)
    raise ActionNotPermitted(
        role_label=str(Role(role).label) if role else _("no role"), action_label=_("Request a refund")
    )


def _clean_amount(amount) -> Decimal:
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise RefundRefused(_("“%(amount)s” is not an amount.") % {"amount": amount}) from None
    if not value.is_finite() or value <= 0:
        raise RefundRefused(_("A refund must be more than zero."))
    if value != value.quantize(CENT) or value > MAX_AMOUNT:
        raise RefundRefused(_("“%(amount)s” is not an amount with at most two decimals.") % {"amount": amount})
    return value.quantize(CENT)


def _clean_key(key) -> str | None:
    if key in (None, ""):
        return None
    key = str(key).strip()
    if not KEY_RE.match(key):
        raise RefundRefused(_("A request key is 6–64 letters, digits, dashes or underscores."))
    return key


def _was_paid(order: Order) -> bool:
    if order.state in _PAID_STATES:
        return True
    # Paid and then cancelled: the timeline shows the money arrived.
    return order.state == State.CANCELLED and order.events.filter(to_state__in=_PAID_STATES).exists()


# -- paying it ----------------------------------------------------------------------------------


def payment_account_for(refund: Refund) -> PaymentGatewayAccount:
    accounts = PaymentGatewayAccount.objects.filter(enabled=True)
    if refund.gateway:
        # A refund tried on one gateway stays on it: the key means something only there.
        accounts = accounts.filter(gateway=refund.gateway)
    account = accounts.order_by("gateway", "id").first()
    if account is None:
        raise ReactionFailed(
            _("No payment gateway is configured: add an enabled payment gateway account. Refund #%(id)s stays pending.")
            % {"id": refund.pk}
        )
    return account


def refund_trade_reference(order: Order) -> str:
    """The payment the buyer made, as the gateway knows it: the channel's order id, or ours."""
    return order.external_id or order.number


def refund_pay(*, refund_id: int) -> str:
    """Pay a pending refund through the gateway. Idempotent: a paid or failed refund is left
    alone, and a repeated call sends the same key, which the gateway never pays twice."""
    refund = Refund.objects.select_related("order").filter(pk=refund_id).first()
    if refund is None:
        raise ReactionFailed(_("Refund #%(id)s does not exist.") % {"id": refund_id})
    if refund.status == RefundStatus.PAID:
        return f"refund #{refund.pk} was paid already ({refund.gateway_reference})"
    if refund.status == RefundStatus.FAILED:
        return f"refund #{refund.pk} failed earlier: nothing paid"
    account = payment_account_for(refund)
    gateway = account.adapter(timeout=getattr(settings, "ORDERHUB_PAYMENT_TIMEOUT", 15.0))
    try:
        result = gateway.refund(
            RefundOrder(
                trade_reference=refund_trade_reference(refund.order),
                amount=refund.amount,
                currency=refund.currency,
                idempotency_key=refund.idempotency_key,
                reason=refund.reason,
            )
        )
    except PaymentRetryLater as exc:
        raise ReactionRetryLater(exc.message) from None
    except PaymentGiveUp as exc:
        if not exc.refused:
            # Credentials, signatures, an answer we cannot trust: the refund stays pending for
            # a person (the tech lead is alerted) and is paid by retrying the message.
            raise ReactionFailed(exc.message) from None
        refund_fail(refund_id=refund.pk, reason=exc.message, gateway=account.gateway)
        return f"refund #{refund.pk} refused by {account}: {exc.message}"
    refund_mark_paid(refund_id=refund.pk, result=result, gateway=account.gateway)
    moved = "money moved" if result.money_moved else "the gateway had paid it on an earlier attempt"
    return f"refund #{refund.pk} paid through {account} ({result.gateway_reference}): {moved}"


def _lock_refund(refund_id: int) -> tuple[Order, Refund]:
    """The order first, as every writer of it does, then the refund."""
    order_id = Refund.objects.values_list("order_id", flat=True).get(pk=refund_id)
    order = order_lock(order_id)
    refund = Refund.objects.select_for_update(of=("self",)).get(pk=refund_id)
    return order, refund


def refund_mark_paid(*, refund_id: int, result: RefundResult, gateway: str) -> Refund:
    """Record the gateway's success, in one transaction with the order's event: the `refund`
    transition when the refund closes the order's approved return, else a `refund_paid` event."""
    with transaction.atomic():
        order, refund = _lock_refund(refund_id)
        if refund.status == RefundStatus.PAID:
            return refund
        if refund.status == RefundStatus.FAILED:
            raise ReactionFailed(
                _("The gateway reports refund #%(id)s as paid, but it is recorded as failed: check it by hand.")
                % {"id": refund.pk}
            )
        now = timezone.now()
        note = _("Refund of %(amount)s %(currency)s paid through %(gateway)s (reference %(reference)s).") % {
            "amount": refund.amount,
            "currency": refund.currency,
            "gateway": gateway,
            "reference": result.gateway_reference or "—",
        }
        return_request = (
            ReturnRequest.objects.filter(pk=refund.return_request_id).first() if refund.return_request_id else None
        )
        if return_request is not None and order.state == State.RETURN_APPROVED:
            event = order_transition_in_transaction(order.pk, "refund", actor=None, note=note)
        else:
            event = order_event_create(
                order=order,
                action=REFUND_PAID,
                from_state=order.state,
                actor=None,
                occurred_at=now,
                note=note,
                data={"refund": refund.pk, "amount": str(refund.amount), "currency": refund.currency},
            )
            outbox_enqueue_for_event(event)
        if return_request is not None and return_request.status == ReturnStatus.APPROVED:
            ReturnRequest.objects.filter(pk=return_request.pk).update(
                status=ReturnStatus.REFUNDED, version=F("version") + 1, updated_at=now
            )
        refund.status = RefundStatus.PAID
        refund.gateway = gateway
        refund.gateway_reference = result.gateway_reference[:128]
        refund.paid_at = now
        refund.paid_event = event
        refund.save(update_fields=["status", "gateway", "gateway_reference", "paid_at", "paid_event"])
        return refund


def refund_fail(*, refund_id: int, reason: str, gateway: str) -> Refund:
    """The gateway refused and no money moved: the refund is failed (a new one may be asked),
    with the reason on the order's timeline, where rules pick it up (finance is told)."""
    with transaction.atomic():
        order, refund = _lock_refund(refund_id)
        if refund.status != RefundStatus.PENDING:
            return refund
        refund.status = RefundStatus.FAILED
        refund.gateway = gateway
        refund.failure_reason = reason
        refund.save(update_fields=["status", "gateway", "failure_reason"])
        event = order_event_create(
            order=order,
            action=REFUND_FAILED,
            from_state=order.state,
            actor=None,
            occurred_at=timezone.now(),
            note=reason[:500],
            data={"refund": refund.pk, "amount": str(refund.amount), "currency": refund.currency},
        )
        outbox_enqueue_for_event(event)
        return refund
