from django.utils.translation import gettext_lazy as _

from orders.plugins import HubAppConfig


class DispatchConfig(HubAppConfig):
    name = "dispatch"
    verbose_name = _("Dispatch promises")

    # The daily proposal task, created once after migrate, then operations' to edit or pause in
    # the admin (Periodic tasks), as the alert sweeps' are (alerts/beat.py).
    post_migrate = ("dispatch.beat.proposal_schedule_install",)
    # The warehouse list shows each warehouse's open promise proposal (orders names no app).
    extensions = {"orders.warehouse_columns": "dispatch.admin_warehouses.WAREHOUSE_COLUMNS"}
