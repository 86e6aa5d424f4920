from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RulesConfig(AppConfig):
    name = "rules"
    verbose_name = _("Operations rules")

    def ready(self):
        from django.db.models.signals import post_migrate

        from .defaults import rules_defaults_install_if_empty

        # A flushed database (transactional tests) has lost what the data migration installed.
        post_migrate.connect(rules_defaults_install_if_empty, sender=self, dispatch_uid="rules_defaults")
