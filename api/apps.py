from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class ApiConfig(HubAppConfig):
    name = "api"
    verbose_name = _("Open API and webhooks")

    reaction_kinds = "api.services.webhooks.REACTION_KINDS"
    outbox_subscriptions = "api.services.webhooks.webhook_subscriptions"

    def ready(self) -> None:
        super().ready()
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from .models import WebhookSubscription
        from .services.webhooks import webhook_subscriptions_changed

        for signal in (post_save, post_delete):
            signal.connect(webhook_subscriptions_changed, sender=WebhookSubscription, dispatch_uid=f"api:{signal}")
        m2m_changed.connect(
            webhook_subscriptions_changed, sender=WebhookSubscription.brands.through, dispatch_uid="api:brands"
        )
