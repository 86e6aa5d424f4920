from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class IntegrationsConfig(HubAppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    event_types = "integrations.events.EVENT_TYPES"
    reaction_kinds = "integrations.reactions.REACTION_KINDS"
    outbox_subscriptions = "integrations.interception.interception_subscriptions"
    # A shipment of a Shopify shop with an Admin API account gets its write-back message in
    # the shipment's own transaction (integrations.services.writeback).
    event_listeners = ("integrations.services.writeback.writeback_enqueue_for_events",)
    extensions = {"orders.timeline_sections": "integrations.timeline.TIMELINE_SECTIONS"}
