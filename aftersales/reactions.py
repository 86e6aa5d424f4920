"""Reaction kinds of after-sales."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from orders.outbox.kinds import ReactionKind

from .services.refunds import refund_pay
from .services.return_labels import return_label_failed, return_label_issue
from .services.returns import RETURN_LABEL_REACTION


def pay_refund(message) -> str:
    """Pay the refund through the payment gateway. Written by the refund service itself with the
    refund request (not by a rule), so it is internal: the rule editor does not offer it."""
    return refund_pay(refund_id=message.params["refund_id"])


# Declared on AftersalesConfig (orders.plugins). Both are internal: the refund and return
# services write them themselves, no rule does.
REACTION_KINDS = [
    ReactionKind(
        RETURN_LABEL_REACTION,
        gettext_lazy("Issue the return label through the carrier"),
        return_label_issue,
        lambda params: params,
        integration=True,
        internal=True,
        on_failure=return_label_failed,
    ),
    ReactionKind(
        "refund_pay",
        gettext_lazy("Pay the refund through the payment gateway"),
        pay_refund,
        lambda params: params,
        integration=True,
        internal=True,
    ),
]
