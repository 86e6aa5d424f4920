"""The outbox reaction of the rules app: run the operations rules of an event after its commit."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from orders.reactions import ReactionKind, no_params, reaction_kind_register

from .services import RULES_RUN_REACTION, rules_apply_for_event


def rules_run(message) -> str:
    # The worker holds the message's transaction: the firings and the actions commit with it.
    return rules_apply_for_event(message.event)


def register() -> None:
    reaction_kind_register(
        ReactionKind(RULES_RUN_REACTION, gettext_lazy("Run the operations rules"), rules_run, no_params)
    )
