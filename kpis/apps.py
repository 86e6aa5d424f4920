from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = _("Health KPIs")

    def ready(self):
        from django.db.models.signals import post_save

        from orders.models import OrderEvent

        from .interventions import intervention_tag_on_event

        # Manual interventions are tagged when they happen, in the event's own transaction.
        post_save.connect(intervention_tag_on_event, sender=OrderEvent, dispatch_uid="kpis_intervention_tag")
