"""The integrations app's timeline event types and reaction codes. Imports no models, so
anything can import it; declared on IntegrationsConfig (orders.plugins)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from orders.plugins import EventType

# A shipment the channel acknowledged through its API (the Shopify fulfilment exists and
# carries our tracking number). Its failure is the outbox's `reaction_failed` event.
CHANNEL_WRITTEN_BACK = "channel_written_back"
# The outbox reaction that writes a shipment back to Shopify.
SHOPIFY_FULFILMENT_WRITE = "shopify_fulfilment_write"
# The transitions that record a shipment (orders.services.transition: a Shipment row each).
SHIPMENT_ACTIONS = frozenset({"ship", "reship"})

EVENT_TYPES = [
    EventType(
        CHANNEL_WRITTEN_BACK,
        _("wrote the shipment back to the sales channel"),
        _("A shipment was written back to the sales channel"),
    )
]
