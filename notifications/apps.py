from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class NotificationsConfig(HubAppConfig):
    name = "notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    # Whom the order's events told, on the order's timeline page.
    extensions = {"orders.timeline_sections": "notifications.timeline.TIMELINE_SECTIONS"}
