"""Celery tasks: thin, id in, one service call. The outbox's own live in orders/outbox/tasks.py
(imported here, so the worker's autodiscovery finds them)."""

from celery import shared_task

from .outbox.tasks import outbox_drain_task, outbox_process, outbox_redispatch  # noqa: F401
from .services.archive import orders_archive_due


@shared_task(ignore_result=True)
def orders_archive() -> dict:
    run = orders_archive_due()
    return {"archived": run.archived, "skipped": run.skipped}
