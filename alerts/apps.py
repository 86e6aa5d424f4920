from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self):
        from orders.services.outbox import outbox_outcome_listener_register

        from .outcomes import integration_outcome

        # Integration failures open alerts and later successes clear them; the outbox only
        # knows it has listeners.
        outbox_outcome_listener_register(integration_outcome)
