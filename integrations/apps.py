from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class IntegrationsConfig(HubAppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    reaction_kinds = "integrations.reactions.REACTION_KINDS"
    outbox_subscriptions = "integrations.interception.interception_subscriptions"
