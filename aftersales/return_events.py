"""The return's event types on the order timeline that are not state changes (the state changes
are the request_return, approve_return and reject_return transitions). Imports no models."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# The carrier gave the approved return its waybill (the return label).
RETURN_LABEL_ISSUED = "return_label_issued"
# A channel (Shopify) asked for a return the hub could not open (wrong state, already open):
# written on the order's timeline so customer service sees the buyer's request anyway.
RETURN_REQUEST_REFUSED = "return_request_refused"


def return_event_types_register() -> None:
    from orders.events import event_type_register

    event_type_register(RETURN_LABEL_ISSUED, verb=_("issued the return label"), label=_("A return label was issued"))
    event_type_register(
        RETURN_REQUEST_REFUSED,
        verb=_("refused a return request from the channel"),
        label=_("A channel's return request was refused"),
    )
