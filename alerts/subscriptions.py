"""The reaction rules as the outbox's subscription source (declared on AlertsConfig)."""

from __future__ import annotations

from .models import ReactionRule


def reaction_rule_subscriptions(event_type: str) -> list[tuple]:
    """(rule id, reaction kind, params) of the enabled reaction rules for an event type."""
    return list(ReactionRule.objects.filter(event_type=event_type, enabled=True).values_list("id", "kind", "params"))
