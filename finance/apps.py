from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class FinanceConfig(HubAppConfig):
    name = "finance"
    verbose_name = _("Finance")

    event_types = "finance.events.EVENT_TYPES"
    reaction_kinds = "finance.reactions.REACTION_KINDS"
