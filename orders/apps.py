from django.utils.translation import gettext_lazy as _

from .plugins import HubAppConfig


class OrdersConfig(HubAppConfig):
    name = "orders"
    verbose_name = _("Orders")

    # The timeline page's interceptions (截单): whom each asked, their answers, the result.
    extensions = {"orders.timeline_sections": "orders.timeline.INTERCEPTION_SECTIONS"}

    def ready(self) -> None:
        super().ready()
        from . import lookups  # noqa: F401  (registers field__any)
