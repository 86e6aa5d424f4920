from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class NotificationsConfig(HubAppConfig):
    name = "notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    # Notify people (in-app, email) and chat robots: the rules' "notify" action runs these.
    reaction_kinds = "notifications.reactions.REACTION_KINDS"
    # Whom the order's events told, on the order's timeline page.
    extensions = {"orders.timeline_sections": "notifications.timeline.TIMELINE_SECTIONS"}
