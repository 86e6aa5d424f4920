"""The Celery app. With REDIS_URL the broker is Redis; without it a filesystem queue under var/
lets a real worker and beat run with no server at all (the embedded mode of `make run`)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("orderhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
