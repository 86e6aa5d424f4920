from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class AftersalesConfig(HubAppConfig):
    name = "aftersales"
    verbose_name = _("After-sales")

    event_types = "aftersales.events.EVENT_TYPES"
    reaction_kinds = "aftersales.reactions.REACTION_KINDS"
    # A return and its review have their own pages: the order page links there instead of
    # offering the bare transition.
    order_actions_elsewhere = "aftersales.admin_returns.ORDER_ACTIONS_ELSEWHERE"
    # A refund asked during an interception waits for its result (截单).
    event_listeners = ("aftersales.services.refunds.refunds_after_interception",)
    # The rules' "approve the return" action changes after-sales' records: after-sales applies it.
    # Shopify's `returns/request` deliveries, signed and checked by its webhook, open returns here.
    # The order's timeline page lists its returns and the lines coming back.
    extensions = {
        "rules.action_handlers": "aftersales.services.returns.RULE_ACTION_HANDLERS",
        "orders.timeline_sections": "aftersales.timeline.TIMELINE_SECTIONS",
        "integrations.shopify_topics": "aftersales.channels.shopify_returns.SHOPIFY_TOPICS",
    }
