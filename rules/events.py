"""The rules app's event type and its outbox reaction's code. Imports no models, so anything can
import it; declared on RulesConfig (orders.plugins)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from orders.plugins import EventType

# The event a rule writes when its action changes no field or state (a notification, an alert).
RULE_APPLIED = "rule_applied"
# The outbox reaction that runs the rules of an event after its commit.
RULES_RUN_REACTION = "rules_run"
# The outbox reaction of an approval rule: due when the rule's cooling-off is over.
RULE_APPROVE_REACTION = "rule_approve"

EVENT_TYPES = [EventType(RULE_APPLIED, _("applied an operations rule"), _("An operations rule took an action"))]
