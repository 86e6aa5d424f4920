"""The daily promise-proposal task, kept in the database (django-celery-beat) so operations can
move or pause it in the admin (Periodic tasks) without a deploy.

Created after every `migrate` when missing and never touched once it exists, so an edited
schedule or a task switched off stays as operations left it (switch it off rather than
deleting it: a deleted one comes back at the next migrate). Same pattern as alerts/beat.py.
"""

from __future__ import annotations

from orders.beat import periodic_tasks_ready

PROPOSAL_TASK_NAME = "dispatch: propose promised ship times"
PROPOSAL_TASK = "dispatch.tasks.promise_proposals_compute"
# 02:30 in the hub's time zone: after the day's pickups, before anyone looks at the proposals.
DEFAULT_HOUR, DEFAULT_MINUTE = 2, 30


def proposal_schedule_install(**kwargs) -> bool:
    """Create the daily periodic task if it is missing; True when it was created."""
    from django.apps import apps
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS

    using = kwargs.get("using", DEFAULT_DB_ALIAS)
    if not periodic_tasks_ready(using):
        return False
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    tasks = PeriodicTask.objects.using(using)
    if tasks.filter(name=PROPOSAL_TASK_NAME).exists():
        return False
    schedule, _created = CrontabSchedule.objects.using(using).get_or_create(
        minute=str(DEFAULT_MINUTE),
        hour=str(DEFAULT_HOUR),
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    tasks.create(name=PROPOSAL_TASK_NAME, task=PROPOSAL_TASK, crontab=schedule, enabled=True)
    return True
