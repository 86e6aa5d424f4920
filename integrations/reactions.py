"""Carrier reactions: book the pickup when an order is packed, upload the waybill when it is
shipped with a tracking number. The carrier-side order id is derived from our order (pickup)
or shipment (waybill), so a retry never creates a second one at the carrier."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.models import Shipment
from orders.outbox.kinds import ReactionFailed, ReactionKind, ReactionRetryLater, no_params

from .carriers.base import (
    Address,
    CarrierDuplicate,
    CarrierGiveUp,
    CarrierRetryLater,
    WaybillRequest,
    carrier_class,
)
from .events import SHOPIFY_FULFILMENT_WRITE
from .models import CarrierAccount
from .services.writeback import shopify_fulfilment_failed, shopify_fulfilment_retrying, shopify_fulfilment_write


def carrier_account_for(order, carrier: str | None = None) -> CarrierAccount:
    accounts = CarrierAccount.objects.filter(enabled=True)
    if carrier:
        accounts = accounts.filter(carrier=carrier)
    if order.warehouse_id:
        accounts = accounts.filter(warehouses=order.warehouse_id)
    account = accounts.order_by("priority", "id").first()
    if account is None:
        raise ReactionFailed(
            _("No carrier account is configured for %(carrier)s at %(warehouse)s.")
            % {"carrier": carrier or _("any carrier"), "warehouse": order.warehouse or _("no warehouse")}
        )
    return account


def waybill_request(order, carrier_order_id: str, tracking_number: str | None = None) -> WaybillRequest:
    warehouse = order.warehouse
    if warehouse is None or not warehouse.address:
        raise ReactionFailed(_("The order's warehouse has no sender address."))
    if not order.ship_address:
        raise ReactionFailed(_("The order has no shipping address."))
    sender = Address(
        name=warehouse.contact_name or warehouse.name,
        phone=warehouse.contact_phone,
        province=warehouse.province,
        city=warehouse.city,
        district=warehouse.district,
        address=warehouse.address,
    )
    receiver = Address(
        name=order.recipient_name,
        phone=order.recipient_phone or order.buyer_phone,
        province=order.ship_province,
        city=order.ship_city,
        district=order.ship_district,
        address=order.ship_address,
        postal_code=order.ship_postcode,
    )
    return WaybillRequest(
        carrier_order_id=carrier_order_id, sender=sender, receiver=receiver, tracking_number=tracking_number
    )


def _call(account: CarrierAccount, method: str, request: WaybillRequest) -> str:
    adapter = carrier_class(account.carrier)(account.credentials())
    try:
        result = getattr(adapter, method)(request)
    except CarrierDuplicate:
        return f"{account}: already had {request.carrier_order_id} (an earlier attempt got through)"
    except CarrierRetryLater as exc:
        raise ReactionRetryLater(exc.message) from None
    except CarrierGiveUp as exc:
        raise ReactionFailed(exc.message) from None
    text = f"{account}: {request.carrier_order_id}"
    if result.tracking_number:
        text += f" → {result.tracking_number}"
        if request.tracking_number and result.tracking_number != request.tracking_number:
            # Recorded, never applied: a tracking number is only ever set by a shipment row.
            text += f" (differs from ours, {request.tracking_number}; ours is kept)"
    return text


def upload_waybill(message) -> str:
    shipment = Shipment.objects.filter(event_id=message.event_id).select_related("order__warehouse").first()
    if shipment is None:
        raise ReactionFailed(_("This event carries no shipment to upload."))
    order = shipment.order
    account = carrier_account_for(order, shipment.carrier)
    request = waybill_request(order, f"{order.number}-S{shipment.sequence}", shipment.tracking_number)
    return _call(account, "create_waybill", request)


def book_pickup(message) -> str:
    order = message.event.order
    account = carrier_account_for(order)
    return _call(account, "book_pickup", waybill_request(order, f"{order.number}-P"))


def _interception_call(message) -> str:
    from .interception import interception_call

    return interception_call(message)


# Declared on IntegrationsConfig (orders.plugins).
REACTION_KINDS = [
    ReactionKind(
        "interception_call",
        gettext_lazy("Ask the warehouse system or the carrier to stop the parcel (截单)"),
        _interception_call,
        no_params,
        integration=True,
        # Created for every interception by this app's subscription, not chosen in rules.
        internal=True,
    ),
    ReactionKind(
        "carrier_book_pickup", gettext_lazy("Book the carrier pickup"), book_pickup, no_params, integration=True
    ),
    ReactionKind(
        "carrier_upload_waybill",
        gettext_lazy("Upload the waybill to the carrier"),
        upload_waybill,
        no_params,
        integration=True,
    ),
    ReactionKind(
        SHOPIFY_FULFILMENT_WRITE,
        gettext_lazy("Write the shipment back to Shopify"),
        shopify_fulfilment_write,
        no_params,
        integration=True,
        # Enqueued by the shipment itself for a shop with an Admin API account
        # (integrations.services.writeback), not chosen in a rule.
        internal=True,
        on_retry=shopify_fulfilment_retrying,
        on_failure=shopify_fulfilment_failed,
    ),
]
