from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class ReconciliationConfig(HubAppConfig):
    name = "reconciliation"
    verbose_name = _("Reconciliation")
