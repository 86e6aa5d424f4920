"""The refund's event types on the order timeline (not state changes: the one state change,
return approved → refunded, is the `refund` transition). Imports no models."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# Finance (or the system) asked for money to go back; the gateway call is in the outbox.
REFUND_REQUESTED = "refund_requested"
# Money went back without closing a return (a partial or goodwill refund).
REFUND_PAID = "refund_paid"
# The gateway refused the refund: no money moved, the refund is failed and may be asked again.
REFUND_FAILED = "refund_failed"


def refund_event_types_register() -> None:
    from orders.events import event_type_register

    event_type_register(REFUND_REQUESTED, verb=_("requested a refund"), label=_("A refund was requested"))
    event_type_register(REFUND_PAID, verb=_("paid a refund"), label=_("A refund was paid (no return closed)"))
    event_type_register(REFUND_FAILED, verb=_("recorded a refused refund"), label=_("A refund was refused"))
