"""Reaction kinds of finance: the packed order goes on the to-invoice list; a refunded one can be
taken off it (operations add that rule on "Mark refund paid" if they want it)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from orders.outbox.kinds import ReactionKind, no_params

from .services import invoice_cancel_for_refund, invoice_request_add


def invoice_list_add(message) -> str:
    """Idempotent: one row per order however often it runs; a gift order is skipped, which is
    an outcome, not a failure."""
    _invoice, result = invoice_request_add(order_id=message.event.order_id)
    return result


def invoice_list_cancel(message) -> str:
    return invoice_cancel_for_refund(order_id=message.event.order_id)


# Declared on FinanceConfig (orders.plugins).
REACTION_KINDS = [
    ReactionKind("invoice_list_add", gettext_lazy("Add to finance's to-invoice list"), invoice_list_add, no_params),
    ReactionKind(
        "invoice_list_cancel",
        gettext_lazy("Take off finance's to-invoice list (refunded orders)"),
        invoice_list_cancel,
        no_params,
    ),
]
