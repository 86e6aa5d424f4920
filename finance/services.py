"""Writes to finance's to-invoice list.

    invoice_request_add(*, order_id) -> (InvoiceRequest | None, result)       # the packed reaction
    invoice_mark_requested(*, invoice_id, actor, expected_version)            # 待开票 → 开票申请
    invoice_mark_issued(*, invoice_id, actor, invoice_number, expected_version)  # 开票申请 → 已开票
    invoice_cancel(*, invoice_id, actor, expected_version, reason)            # off the list, never invoiced
    invoice_details_update(*, invoice_id, actor, expected_version, buyer_title, buyer_tax_id)

Each finance move is one durable transaction: lock the order row (as every writer of the order
does, so a refund cannot slip in between the check and the write), then the invoice row; compare
the version the caller saw; check the move; save with a new version; write a non-state event on
the order's timeline (rules may react to it). A refusal raises an OrderError subclass with a
clear message and changes nothing. Gift orders carry no revenue and are never invoiced.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.events import order_event_create
from orders.exceptions import ActionNotPermitted, InvalidActionData
from orders.models import Order, OrderEvent
from orders.outbox.services import outbox_enqueue_for_event
from orders.permissions import role_of, user_display_name
from orders.services.locking import order_lock
from orders.states import Role, State

from .constants import OPEN_STATUSES, InvoiceStatus
from .events import INVOICE_CANCELLED, INVOICE_DETAILS_UPDATED, INVOICE_ISSUED, INVOICE_LISTED, INVOICE_REQUESTED
from .exceptions import InvoiceNotFound, InvoiceNumberInvalid, InvoiceNumberTaken, InvoiceRefused, StaleInvoiceError
from .models import InvoiceRequest

CHANGE_PERMISSION = "finance.change_invoicerequest"
# Paper invoices have 8 digits, fully digital ones (全电发票) 20; some systems add letters.
INVOICE_NUMBER_RE = re.compile(r"^[A-Z0-9]{8,20}$")
# The unified social credit code is 18 characters; older tax ids have 15 to 20.
TAX_ID_RE = re.compile(r"^[A-Z0-9]{15,20}$")
BUYER_TITLE_MAX = 100
REASON_MAX = 2000
# The order's own transitions that mean its money went back or never came: not invoiced.
_NOT_INVOICED_ACTIONS = ("refund", "cancel")

_ROW_FIELDS = ["status", "version", "updated_at", "updated_by"]


# ---------------------------------------------------------------------------------------------
# The packed reaction


def invoice_request_add(*, order_id: int) -> tuple[InvoiceRequest | None, str]:
    """Put the order on the to-invoice list once (run again: nothing more happens). Joins the
    caller's transaction (the outbox worker's). Gift orders and orders already refunded or
    cancelled are not listed: the result says why."""
    with transaction.atomic():
        return _invoice_request_add(order_id)


def _invoice_request_add(order_id: int) -> tuple[InvoiceRequest | None, str]:
    order = order_lock(order_id)
    if order.is_gift:
        return None, "gift orders are never invoiced"
    if order.state in (State.REFUNDED, State.CANCELLED):
        return None, f"order {order.number} is {order.state}: not invoiced"
    now = timezone.now()
    invoice, created = InvoiceRequest.objects.get_or_create(
        order=order,
        defaults={"amount": order.amount, "currency": order.currency, "added_at": now, "updated_at": now},
    )
    if not created:
        return invoice, f"order {order.number} is already on the to-invoice list ({invoice.status})"
    _event(
        order,
        INVOICE_LISTED,
        actor=None,
        at=now,
        invoice=invoice,
        data={"from": "", "to": invoice.status},
    )
    return invoice, f"added order {order.number} ({invoice.amount} {invoice.currency}) to the to-invoice list"


# ---------------------------------------------------------------------------------------------
# Finance's moves


def invoice_mark_requested(*, invoice_id, actor, expected_version: int | None) -> InvoiceRequest:
    """待开票 → 开票申请: finance submitted the request to the invoicing system."""
    label = _("Mark invoice requested")
    _check_permission(actor, label)
    with transaction.atomic(durable=True):
        invoice = _lock(invoice_id)
        _check_version(invoice, expected_version)
        _check_invoiceable(invoice)
        _check_status(invoice, InvoiceStatus.PENDING, label)
        now = timezone.now()
        invoice.status = InvoiceStatus.REQUESTED
        invoice.requested_at, invoice.requested_by = now, actor
        _save(invoice, actor, now, ["requested_at", "requested_by"])
        _event(
            invoice.order, INVOICE_REQUESTED, actor=actor, at=now, invoice=invoice, data=_move(InvoiceStatus.PENDING)
        )
    return invoice


def invoice_mark_issued(*, invoice_id, actor, invoice_number, expected_version: int | None) -> InvoiceRequest:
    """开票申请 → 已开票 with the invoice's number, which no other order may carry."""
    label = _("Mark invoice issued")
    _check_permission(actor, label)
    number = invoice_number_clean(invoice_number)
    try:
        with transaction.atomic(durable=True):
            invoice = _lock(invoice_id)
            _check_version(invoice, expected_version)
            _check_invoiceable(invoice)
            _check_status(invoice, InvoiceStatus.REQUESTED, label)
            _check_number_free(number, invoice)
            now = timezone.now()
            invoice.status = InvoiceStatus.ISSUED
            invoice.invoice_number = number
            invoice.issued_at, invoice.issued_by = now, actor
            _save(invoice, actor, now, ["invoice_number", "issued_at", "issued_by"])
            _event(
                invoice.order,
                INVOICE_ISSUED,
                actor=actor,
                at=now,
                invoice=invoice,
                note=_("Invoice number %(number)s") % {"number": number},
                data={**_move(InvoiceStatus.REQUESTED), "invoice_number": number},
            )
    except IntegrityError:
        # Another order took the number between our check and our commit.
        other = InvoiceRequest.objects.filter(invoice_number=number).select_related("order").first()
        if other is None:
            raise
        raise InvoiceNumberTaken(invoice_number=number, other_order=other.order.number) from None
    return invoice


def invoice_cancel(*, invoice_id, actor, expected_version: int | None, reason: str) -> InvoiceRequest:
    """Take the order off the list before an invoice is issued (refunded, or the buyer wants
    none). The reason is required and goes on the timeline."""
    label = _("Take off the to-invoice list")
    _check_permission(actor, label)
    reason = _clean_reason(reason)
    with transaction.atomic(durable=True):
        invoice = _lock(invoice_id)
        _check_version(invoice, expected_version)
        _cancel_locked(invoice, actor=actor, reason=reason, label=label)
    return invoice


def invoice_cancel_for_refund(*, order_id: int) -> str:
    """The system's side (the `invoice_list_cancel` reaction, for a rule on the refund): take
    the refunded order off the list unless its invoice is already issued, which is then
    finance's call (a red-letter invoice) and is said so in the result. Joins the caller's
    transaction."""
    with transaction.atomic():
        return _invoice_cancel_for_refund(order_id)


def _invoice_cancel_for_refund(order_id: int) -> str:
    order = order_lock(order_id)
    invoice = InvoiceRequest.objects.select_for_update(of=("self",)).filter(order=order).first()
    if invoice is None:
        return f"order {order.number} is not on the to-invoice list"
    invoice.order = order
    if invoice.status == InvoiceStatus.ISSUED:
        return f"invoice {invoice.invoice_number} of order {order.number} is already issued: finance reverses it"
    if invoice.status == InvoiceStatus.CANCELLED:
        return f"order {order.number} was already taken off the to-invoice list"
    _cancel_locked(
        invoice,
        actor=None,
        reason=_("The order was refunded: it is not invoiced."),
        label=_("Take off the to-invoice list"),
    )
    return f"took order {order.number} off the to-invoice list"


def invoice_details_update(
    *, invoice_id, actor, expected_version: int | None, buyer_title: str, buyer_tax_id: str
) -> InvoiceRequest:
    """The invoice title and tax id (发票抬头 / 税号), while the invoice is not issued yet: an
    issued invoice keeps what it was issued with."""
    label = _("Save invoice title and tax id")
    _check_permission(actor, label)
    title = _clean_title(buyer_title)
    tax_id = _clean_tax_id(buyer_tax_id)
    with transaction.atomic(durable=True):
        invoice = _lock(invoice_id)
        _check_version(invoice, expected_version)
        _check_invoiceable(invoice)
        if invoice.status not in OPEN_STATUSES:
            raise InvoiceRefused(
                _("The invoice request of order %(number)s is “%(status)s”: its title and tax id stay as they are.")
                % {"number": invoice.order.number, "status": invoice.get_status_display()}
            )
        before = {"buyer_title": invoice.buyer_title, "buyer_tax_id": invoice.buyer_tax_id}
        after = {"buyer_title": title, "buyer_tax_id": tax_id}
        if before == after:
            return invoice
        now = timezone.now()
        invoice.buyer_title, invoice.buyer_tax_id = title, tax_id
        _save(invoice, actor, now, ["buyer_title", "buyer_tax_id"])
        _event(
            invoice.order,
            INVOICE_DETAILS_UPDATED,
            actor=actor,
            at=now,
            invoice=invoice,
            data={"status": invoice.status, "before": before, "after": after},
        )
    return invoice


# ---------------------------------------------------------------------------------------------
# Checks and cleaning


def invoice_number_clean(value) -> str:
    number = re.sub(r"\s+", "", str(value or "")).upper()
    if not number:
        raise InvoiceNumberInvalid(_("Enter the invoice number."))
    if not INVOICE_NUMBER_RE.match(number):
        raise InvoiceNumberInvalid(
            _("“%(number)s” is not an invoice number (8–20 letters or digits).") % {"number": str(value).strip()}
        )
    return number


def _clean_title(value) -> str:
    title = " ".join(str(value or "").split())
    if len(title) > BUYER_TITLE_MAX:
        raise InvalidActionData(
            _("The invoice title is too long (%(length)d characters, at most %(max)d).")
            % {"length": len(title), "max": BUYER_TITLE_MAX}
        )
    return title


def _clean_tax_id(value) -> str:
    tax_id = re.sub(r"\s+", "", str(value or "")).upper()
    if tax_id and not TAX_ID_RE.match(tax_id):
        raise InvalidActionData(
            _("“%(tax_id)s” is not a tax id (15–20 letters or digits).") % {"tax_id": str(value).strip()}
        )
    return tax_id


def _clean_reason(value) -> str:
    reason = str(value or "").strip()
    if not reason:
        raise InvalidActionData(_("Give the reason for taking the order off the to-invoice list."))
    if len(reason) > REASON_MAX:
        raise InvalidActionData(_("The reason is too long (at most %(max)d characters).") % {"max": REASON_MAX})
    return reason


def _check_permission(actor, label) -> None:
    if actor is not None and actor.is_active and actor.has_perm(CHANGE_PERMISSION):
        return
    role = role_of(actor)
    raise ActionNotPermitted(role_label=str(Role(role).label) if role else _("no role"), action_label=str(label))


def _lock(invoice_id) -> InvoiceRequest:
    """The order first (as every writer of the order), then the invoice row."""
    try:
        order_id = InvoiceRequest.objects.filter(pk=invoice_id).values_list("order_id", flat=True).first()
    except (ValueError, TypeError):
        order_id = None
    if order_id is None:
        raise InvoiceNotFound(invoice_id)
    order = order_lock(order_id)
    invoice = InvoiceRequest.objects.select_for_update(of=("self",)).get(pk=invoice_id)
    invoice.order = order
    return invoice


def _check_version(invoice: InvoiceRequest, expected_version) -> None:
    if expected_version in (None, ""):
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise InvalidActionData(_("“%(version)s” is not a version.") % {"version": expected_version}) from None
    if expected == invoice.version:
        return
    raise StaleInvoiceError(
        number=invoice.order.number,
        changed_by=user_display_name(invoice.updated_by) if invoice.updated_by_id else str(Role.SYSTEM.label),
        changed_at=invoice.updated_at,
        expected=expected,
        actual=invoice.version,
    )


def _check_invoiceable(invoice: InvoiceRequest) -> None:
    order = invoice.order
    if order.is_gift:
        raise InvoiceRefused(
            _("Order %(number)s is a gift order: gift orders are never invoiced.") % {"number": order.number}
        )
    if OrderEvent.objects.filter(order=order, action__in=_NOT_INVOICED_ACTIONS).exists():
        raise InvoiceRefused(
            _(
                "Order %(number)s was refunded or cancelled: it is not invoiced. "
                "Take it off the to-invoice list instead."
            )
            % {"number": order.number}
        )


def _check_status(invoice: InvoiceRequest, wanted: str, label) -> None:
    if invoice.status == wanted:
        return
    number = invoice.order.number
    if invoice.status == InvoiceStatus.ISSUED:
        message = _("The invoice of order %(number)s is already issued (number %(invoice)s).") % {
            "number": number,
            "invoice": invoice.invoice_number,
        }
    elif invoice.status == InvoiceStatus.CANCELLED:
        message = _("Order %(number)s was taken off the to-invoice list: it is not invoiced.") % {"number": number}
    elif invoice.status == InvoiceStatus.PENDING:
        message = _("The invoice of order %(number)s has not been requested yet: mark it requested first.") % {
            "number": number
        }
    else:
        who = user_display_name(invoice.requested_by) if invoice.requested_by_id else str(Role.SYSTEM.label)
        when = timezone.localtime(invoice.requested_at).strftime("%Y-%m-%d %H:%M") if invoice.requested_at else "—"
        message = _("The invoice of order %(number)s was already marked requested by %(who)s at %(when)s.") % {
            "number": number,
            "who": who,
            "when": when,
        }
    raise InvoiceRefused(f"{label}: {message}")


def _check_number_free(number: str, invoice: InvoiceRequest) -> None:
    other = InvoiceRequest.objects.filter(invoice_number=number).exclude(pk=invoice.pk).select_related("order").first()
    if other is not None:
        raise InvoiceNumberTaken(invoice_number=number, other_order=other.order.number)


def _cancel_locked(invoice: InvoiceRequest, *, actor, reason: str, label) -> None:
    if invoice.status not in OPEN_STATUSES:
        _check_status(invoice, InvoiceStatus.PENDING, label)
    now = timezone.now()
    previous = invoice.status
    invoice.status = InvoiceStatus.CANCELLED
    invoice.cancelled_at, invoice.cancelled_by = now, actor
    invoice.note = reason
    _save(invoice, actor, now, ["cancelled_at", "cancelled_by", "note"])
    _event(invoice.order, INVOICE_CANCELLED, actor=actor, at=now, invoice=invoice, note=reason, data=_move(previous))


def _move(previous: str) -> dict:
    return {"from": previous}


def _save(invoice: InvoiceRequest, actor, now, fields: list[str]) -> None:
    invoice.version += 1
    invoice.updated_at, invoice.updated_by = now, actor
    invoice.save(update_fields=[*_ROW_FIELDS, *fields])


def _event(order: Order, action: str, *, actor, at, invoice: InvoiceRequest, note: str = "", data: dict) -> OrderEvent:
    """A line on the order's timeline (the order's state and version stay), and the rules that
    listen to it."""
    event = order_event_create(
        order=order,
        action=action,
        from_state=order.state,
        actor=actor,
        occurred_at=at,
        note=note,
        data={
            "invoice_request": invoice.pk,
            "to": invoice.status,
            "amount": str(invoice.amount),
            "currency": invoice.currency,
            **data,
        },
    )
    outbox_enqueue_for_event(event)
    return event
