from django.utils.translation import gettext_lazy as _

from .plugins import HubAppConfig


class OrdersConfig(HubAppConfig):
    name = "orders"
    verbose_name = _("Orders")
