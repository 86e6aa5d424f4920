from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AftersalesConfig(AppConfig):
    name = "aftersales"
    verbose_name = _("After-sales")

    def ready(self):
        from .refund_events import refund_event_types_register

        refund_event_types_register()

        from .return_events import return_event_types_register

        return_event_types_register()
