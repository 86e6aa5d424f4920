from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class KpisConfig(HubAppConfig):
    name = "kpis"
    verbose_name = _("Health KPIs")

    # Manual interventions are tagged when they happen, in the events' own transaction, for a
    # single transition and a batch import alike.
    event_listeners = ("kpis.interventions.interventions_tag",)
