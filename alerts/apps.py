from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class AlertsConfig(HubAppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    # Integration failures open alerts and later successes clear them.
    outcome_listeners = ("alerts.outcomes.integration_outcome",)
    # The logistics watch follows each paid order's events (alerts/watch.py).
    event_listeners = ("alerts.watch.watch_events_apply",)
    # The sweeps' periodic tasks, created once, then operations' to edit (alerts/beat.py).
    post_migrate = ("alerts.beat.sweep_schedules_install",)
    # The open alerts' counts at the top of the operations board.
    # …and the carriers' scans of its parcel.
    extensions = {
        "orders.board_panels": "alerts.panels.BOARD_PANELS",
        "integrations.tracking_listeners": "alerts.watch.watch_tracking_apply",
        # The deadline, first scan and latest scan on the order's timeline page.
        "orders.timeline_sections": "alerts.timeline.TIMELINE_SECTIONS",
    }
