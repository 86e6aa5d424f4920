from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self):
        from django.db.models.signals import post_migrate

        from orders.services.outbox import outbox_outcome_listener_register

        from .beat import sweep_schedules_install

        # The sweeps' periodic tasks, created once, then operations' to edit (alerts/beat.py).
        post_migrate.connect(sweep_schedules_install, sender=self, dispatch_uid="alerts_sweep_schedules")

        from .outcomes import integration_outcome

        # Integration failures open alerts and later successes clear them; the outbox only
        # knows it has listeners.
        outbox_outcome_listener_register(integration_outcome)
