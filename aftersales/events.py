"""After-sales' timeline event types that are not state changes (the state changes are the
request_return, approve_return, reject_return and refund transitions). Imports no models, so
anything can import it; declared on AftersalesConfig (orders.plugins)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from orders.plugins import EventType

# Finance (or the system) asked for money to go back; the gateway call is in the outbox.
REFUND_REQUESTED = "refund_requested"
# Money went back without closing a return (a partial or goodwill refund).
REFUND_PAID = "refund_paid"
# The gateway refused the refund: no money moved, the refund is failed and may be asked again.
REFUND_FAILED = "refund_failed"

# The carrier gave the approved return its waybill (the return label).
RETURN_LABEL_ISSUED = "return_label_issued"
# A channel (Shopify) asked for a return the hub could not open (wrong state, already open):
# written on the order's timeline so customer service sees the buyer's request anyway.
RETURN_REQUEST_REFUSED = "return_request_refused"

EVENT_TYPES = [
    EventType(REFUND_REQUESTED, _("requested a refund"), _("A refund was requested")),
    EventType(REFUND_PAID, _("paid a refund"), _("A refund was paid (no return closed)")),
    EventType(REFUND_FAILED, _("recorded a refused refund"), _("A refund was refused")),
    EventType(RETURN_LABEL_ISSUED, _("issued the return label"), _("A return label was issued")),
    EventType(
        RETURN_REQUEST_REFUSED,
        _("refused a return request from the channel"),
        _("A channel's return request was refused"),
    ),
]
