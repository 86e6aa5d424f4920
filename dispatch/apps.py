from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = _("Dispatch promises")

    def ready(self):
        from django.db.models.signals import post_migrate

        from .beat import proposal_schedule_install

        # The daily proposal task, created once after migrate, then operations' to edit or pause
        # in the admin (Periodic tasks), as the alert sweeps' are (alerts/beat.py).
        post_migrate.connect(proposal_schedule_install, sender=self, dispatch_uid="dispatch_proposal_schedule")
