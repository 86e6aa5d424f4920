"""The outbox reaction of the rules app: run the operations rules of an event after its commit."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from orders.outbox.kinds import ReactionKind, no_params

from .events import RULES_RUN_REACTION
from .services import rules_apply_for_event


def rules_run(message) -> str:
    # The worker holds the message's transaction: the firings and the actions commit with it.
    return rules_apply_for_event(message.event)


# Declared on RulesConfig (orders.plugins).
REACTION_KINDS = [ReactionKind(RULES_RUN_REACTION, gettext_lazy("Run the operations rules"), rules_run, no_params)]
