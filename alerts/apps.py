from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class AlertsConfig(HubAppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    # Integration failures open alerts and later successes clear them.
    outcome_listeners = ("alerts.outcomes.integration_outcome",)
    # The sweeps' periodic tasks, created once, then operations' to edit (alerts/beat.py).
    post_migrate = ("alerts.beat.sweep_schedules_install",)
    # The open alerts' counts at the top of the operations board.
    extensions = {"orders.board_panels": "alerts.panels.BOARD_PANELS"}
