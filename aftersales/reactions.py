"""Reaction kinds of after-sales."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from orders.reactions import ReactionKind, reaction_kind_register


def pay_refund(message) -> str:
    """Pay the refund through the payment gateway. Written by the refund service itself with the
    refund request (not by a rule), so it is internal: the rule editor does not offer it."""
    from .services.refunds import refund_pay

    return refund_pay(refund_id=message.params["refund_id"])


def register() -> None:
    from .services.return_labels import return_label_reaction_register

    return_label_reaction_register()
    reaction_kind_register(
        ReactionKind(
            "refund_pay",
            gettext_lazy("Pay the refund through the payment gateway"),
            pay_refund,
            lambda params: params,
            integration=True,
            internal=True,
        )
    )
