"""Periodic tasks kept in the database (django-celery-beat): what the apps that install theirs
after `migrate` share."""

from __future__ import annotations


def periodic_tasks_ready(using: str) -> bool:
    """Whether django-celery-beat is installed and its tables exist in database `using` (a
    post_migrate run may come before beat's own migrations, e.g. `migrate orders`)."""
    from django.apps import apps
    from django.db import connections

    if not apps.is_installed("django_celery_beat"):
        return False
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    return PeriodicTask._meta.db_table in connections[using].introspection.table_names()
