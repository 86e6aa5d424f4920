"""The sweeps' beat schedule, kept in the database (django-celery-beat) so operations can change
or pause it in the admin (Periodic tasks) without a deploy.

`sweep_schedules_install` runs after every `migrate` (post_migrate, so `make run`, CI and a
fresh deploy all get it): it creates the periodic tasks that are missing, every minute by
default, and never touches one that exists, so an edited interval or a task switched off
stays as operations left it. (Entries in CELERY_BEAT_SCHEDULE would not do: the database
scheduler writes them over the admin's edits each time beat starts.) To stop a sweep, switch
its periodic task off rather than deleting it: a deleted one comes back at the next migrate.
"""

from __future__ import annotations

from orders.beat import periodic_tasks_ready

SWEEP_TASKS = {
    "alerts: stale orders": "alerts.tasks.alerts_sweep_stale",
    "alerts: conflicting edits": "alerts.tasks.alerts_sweep_conflicts",
    "alerts: promised ship time": "alerts.tasks.alerts_sweep_sla",
    "alerts: risk holds waiting": "alerts.tasks.alerts_sweep_risk_holds",
    "alerts: logistics watch": "alerts.tasks.alerts_sweep_logistics",
}
DEFAULT_EVERY_MINUTES = 1


def sweep_schedules_install(**kwargs) -> int:
    """Create the sweeps' missing periodic tasks; returns how many were created."""
    from django.apps import apps
    from django.db import DEFAULT_DB_ALIAS

    using = kwargs.get("using", DEFAULT_DB_ALIAS)
    if not periodic_tasks_ready(using):
        return 0
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    existing = set(PeriodicTask.objects.using(using).filter(name__in=SWEEP_TASKS).values_list("name", flat=True))
    missing = [name for name in SWEEP_TASKS if name not in existing]
    if not missing:
        return 0
    every = IntervalSchedule.objects.using(using).filter(every=DEFAULT_EVERY_MINUTES, period="minutes").order_by(
        "pk"
    ).first() or IntervalSchedule.objects.using(using).create(every=DEFAULT_EVERY_MINUTES, period="minutes")
    for name in missing:
        PeriodicTask.objects.using(using).create(name=name, task=SWEEP_TASKS[name], interval=every, enabled=True)
    return len(missing)
