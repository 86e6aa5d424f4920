"""Celery tasks: thin, id in, one service call. Retries live in the outbox rows, not here."""

from celery import shared_task

from .services.archive import orders_archive_due
from .services.outbox import outbox_deliver, outbox_redispatch_due


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def outbox_process(message_id: int) -> str | None:
    return outbox_deliver(message_id)


@shared_task(ignore_result=True)
def outbox_redispatch() -> int:
    return outbox_redispatch_due()


@shared_task(ignore_result=True)
def orders_archive() -> dict:
    run = orders_archive_due()
    return {"archived": run.archived, "skipped": run.skipped}
