from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RulesConfig(AppConfig):
    name = "rules"
    verbose_name = _("Operations rules")

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

        from orders.events import event_type_register

        from .defaults import rules_defaults_install_if_empty
        from .models import Rule, RuleAction
        from .services import RULE_APPLIED, rules_cache_clear

        event_type_register(
            RULE_APPLIED, verb=_("applied an operations rule"), label=_("An operations rule took an action")
        )
        # A rule saved in this process counts at the next order (other processes: within the TTL).
        for model in (Rule, RuleAction):
            post_save.connect(rules_cache_clear, sender=model, dispatch_uid=f"rules_cache_{model.__name__}_save")
            post_delete.connect(rules_cache_clear, sender=model, dispatch_uid=f"rules_cache_{model.__name__}_delete")
        for through in (Rule.shops.through, Rule.brands.through, Rule.warehouses.through):
            m2m_changed.connect(rules_cache_clear, sender=through, dispatch_uid=f"rules_cache_{through.__name__}")
        # A flushed database (transactional tests) has lost what the data migration installed.
        post_migrate.connect(rules_defaults_install_if_empty, sender=self, dispatch_uid="rules_defaults")
