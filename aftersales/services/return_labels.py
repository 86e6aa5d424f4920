"""The return label: the outbox reaction `return_label_issue` asks the carrier of the order's
warehouse for a return waybill (the buyer sends, the warehouse receives).

Written by the approval itself (`returns._approve`), not by a reaction rule: an approved return
always needs its label, so operations cannot switch it off by editing rules, and the kind is
internal (the rule editor does not offer it, so no rule can ask for a second one).

- The carrier account is chosen as for the pickup booking, by the order's warehouse (enabled
  accounts, lowest priority first), skipping carriers whose adapter issues no return labels.
  None → a clear failure at once ("no carrier configured for warehouse …").
- The carrier-side order id is derived from the return (`OH…-R<id>`), so a retry after a crash
  cannot make a second label: the adapter reads the earlier one back.
- Success: the return gets label_status issued, the carrier and the number, and the order's
  timeline a `return_label_issued` event (whose rules run as for any event).
- Failure for good (after the outbox's retries, or at once when retrying cannot help): the
  `on_failure` hook marks the label failed with the error, and the outbox writes the failure on
  the timeline and alerts the tech lead (the `reaction_failed` rules).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.carriers.base import (
    Address,
    CarrierDuplicate,
    CarrierGiveUp,
    CarrierRetryLater,
    WaybillRequest,
    carrier_class,
    carrier_supports_return_labels,
)
from integrations.models import CarrierAccount
from orders.events import order_event_create
from orders.models import Order
from orders.outbox.kinds import ReactionFailed, ReactionRetryLater
from orders.outbox.services import outbox_enqueue_for_event
from orders.states import Carrier

from ..events import RETURN_LABEL_ISSUED
from ..models import LabelStatus, ReturnRequest, ReturnStatus

_DESCRIPTION_MAX = 60


def return_carrier_account_for(order: Order) -> CarrierAccount:
    warehouse = order.warehouse
    if warehouse is None:
        raise ReactionFailed(
            _("Order %(number)s has no warehouse, so no carrier is configured to issue its return label.")
            % {"number": order.number}
        )
    accounts = list(CarrierAccount.objects.filter(enabled=True, warehouses=warehouse).order_by("priority", "id"))
    if not accounts:
        raise ReactionFailed(
            _(
                "No carrier configured for warehouse %(warehouse)s: the return label cannot be issued. Add a "
                "carrier account for the warehouse, then retry this reaction."
            )
            % {"warehouse": warehouse.name}
        )
    for account in accounts:
        if carrier_supports_return_labels(account.carrier):
            return account
    raise ReactionFailed(
        _("No carrier configured for warehouse %(warehouse)s issues return labels (configured: %(carriers)s).")
        % {
            "warehouse": warehouse.name,
            "carriers": ", ".join(sorted({str(Carrier(a.carrier).label) for a in accounts})),
        }
    )


def return_waybill_request(case: ReturnRequest, order: Order) -> WaybillRequest:
    """The buyer (the order's shipping address) sends to the warehouse."""
    warehouse = order.warehouse
    if not warehouse.address:
        raise ReactionFailed(
            _("Warehouse %(warehouse)s has no address to receive the return.") % {"warehouse": warehouse.name}
        )
    if not order.ship_address:
        raise ReactionFailed(
            _("Order %(number)s has no address to collect the return from.") % {"number": order.number}
        )
    sender = Address(
        name=order.recipient_name,
        phone=order.recipient_phone or order.buyer_phone,
        province=order.ship_province,
        city=order.ship_city,
        district=order.ship_district,
        address=order.ship_address,
        postal_code=order.ship_postcode,
    )
    receiver = Address(
        name=warehouse.contact_name or warehouse.name,
        phone=warehouse.contact_phone,
        province=warehouse.province,
        city=warehouse.city,
        district=warehouse.district,
        address=warehouse.address,
    )
    names = [f"{item.get('name') or item.get('sku')}×{item.get('quantity')}" for item in case.items or []]
    description = "、".join(names)[:_DESCRIPTION_MAX] or "退货商品"
    return WaybillRequest(
        carrier_order_id=f"{order.number}-R{case.pk}", sender=sender, receiver=receiver, description=description
    )


def return_label_issue(message) -> str:
    """The reaction: idempotent (an issued label is not asked for again)."""
    return_id = (message.params or {}).get("return_id")
    case = ReturnRequest.objects.select_related("order__warehouse").filter(pk=return_id).first()
    if case is None:
        raise ReactionFailed(_("Return #%(id)s does not exist.") % {"id": return_id})
    if case.label_status == LabelStatus.ISSUED:
        return f"already issued: {case.label_carrier} {case.label_tracking_number}"
    if case.status not in (ReturnStatus.APPROVED, ReturnStatus.REFUNDED):
        return f"return #{case.pk} is {case.status}: no label"
    order = case.order
    account = return_carrier_account_for(order)
    request = return_waybill_request(case, order)
    adapter = carrier_class(account.carrier)(account.credentials())
    try:
        result = adapter.create_return_label(request, prepaid=case.label_prepaid)
    except CarrierRetryLater as exc:
        raise ReactionRetryLater(exc.message) from None
    except CarrierDuplicate as exc:
        # The adapter could not read the earlier label back: a person must look it up.
        raise ReactionFailed(exc.message) from None
    except CarrierGiveUp as exc:
        raise ReactionFailed(exc.message) from None
    if not result.tracking_number:
        raise ReactionRetryLater(f"{account}: {request.carrier_order_id} accepted without a waybill number yet")
    return _label_record(case.pk, account=account, tracking_number=result.tracking_number)


def _label_record(return_id: int, *, account: CarrierAccount, tracking_number: str) -> str:
    with transaction.atomic():
        case = ReturnRequest.objects.select_for_update(of=("self",)).get(pk=return_id)
        if case.label_status == LabelStatus.ISSUED:
            return f"already issued: {case.label_carrier} {case.label_tracking_number}"
        case.label_status = LabelStatus.ISSUED
        case.label_carrier = account.carrier
        case.label_tracking_number = tracking_number
        case.label_error = ""
        case.save(update_fields=["label_status", "label_carrier", "label_tracking_number", "label_error", "updated_at"])
        order = Order.objects.get(pk=case.order_id)
        carrier_label = str(Carrier(account.carrier).label)
        if case.label_prepaid:
            note = _("%(carrier)s return waybill %(number)s, postage prepaid by us.")
        else:
            note = _("%(carrier)s return waybill %(number)s, postage paid by the buyer.")
        event = order_event_create(
            order=order,
            action=RETURN_LABEL_ISSUED,
            from_state=order.state,
            actor=None,
            occurred_at=timezone.now(),
            note=note % {"carrier": carrier_label, "number": tracking_number},
            data={
                "return_id": case.pk,
                "carrier": account.carrier,
                "tracking_number": tracking_number,
                "prepaid": case.label_prepaid,
            },
        )
        outbox_enqueue_for_event(event)
    return f"{account}: {tracking_number}"


def return_label_failed(message, error: str) -> None:
    """The outbox's final failure: the label is marked failed with the reason (unless a label
    was issued after all)."""
    ReturnRequest.objects.filter(pk=(message.params or {}).get("return_id")).exclude(
        label_status=LabelStatus.ISSUED
    ).update(label_status=LabelStatus.FAILED, label_error=error[:2000], updated_at=timezone.now())
