"""The outbox reaction of the rules app: run the operations rules of an event after its commit."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from orders.outbox.kinds import ReactionKind, no_params

from .events import RULE_APPROVE_REACTION, RULES_RUN_REACTION
from .services import rule_approval_run, rules_apply_for_event


def rules_run(message) -> str:
    # The worker holds the message's transaction: the firings and the actions commit with it.
    return rules_apply_for_event(message.event)


def rule_approve(message) -> str:
    return rule_approval_run(rule_id=message.params["rule"], order_id=message.event.order_id)


# Declared on RulesConfig (orders.plugins).
REACTION_KINDS = [
    ReactionKind(RULES_RUN_REACTION, gettext_lazy("Run the operations rules"), rules_run, no_params),
    ReactionKind(RULE_APPROVE_REACTION, gettext_lazy("Approve for an approval rule"), rule_approve, no_params),
]
