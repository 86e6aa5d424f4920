from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo data of `make run`. It sits above every other app (the layer contract in
    pyproject.toml lets it import them all): a demo order walks through after-sales and a
    payment gateway's answer as well as the order's own transitions, and only an app that no
    other app imports may know all of them."""

    name = "demo"
    verbose_name = _("Demo data")
