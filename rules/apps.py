from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class RulesConfig(HubAppConfig):
    name = "rules"
    verbose_name = _("Operations rules")

    event_types = "rules.events.EVENT_TYPES"
    reaction_kinds = "rules.reactions.REACTION_KINDS"
    # A flushed database (transactional tests) has lost what the data migration installed.
    post_migrate = ("rules.defaults.rules_defaults_install_if_empty",)
    # The rules are the outbox's subscriptions: which reactions each event type asks for.
    outbox_subscriptions = "rules.services.rules_subscriptions"
    # Intake asks the "order created" rules about each new order (orders.services.intake_plans).
    extensions = {"orders.intake_planners": "rules.intake.INTAKE_PLANNER"}

    def ready(self):
        super().ready()
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from .models import Rule, RuleAction
        from .services import rules_cache_clear

        # A rule saved in this process counts at the next order (other processes: within the TTL).
        for model in (Rule, RuleAction):
            post_save.connect(rules_cache_clear, sender=model, dispatch_uid=f"rules_cache_{model.__name__}_save")
            post_delete.connect(rules_cache_clear, sender=model, dispatch_uid=f"rules_cache_{model.__name__}_delete")
        throughs = (
            Rule.shops.through,
            Rule.brands.through,
            Rule.warehouses.through,
            RuleAction.users.through,
            RuleAction.robots.through,
        )
        for through in throughs:
            m2m_changed.connect(rules_cache_clear, sender=through, dispatch_uid=f"rules_cache_{through.__name__}")
