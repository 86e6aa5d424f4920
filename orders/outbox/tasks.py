"""The outbox's Celery tasks: thin, id in, one service call. Retries live in the outbox rows,
not here. Their names stay "orders.tasks.…": beat schedules and queued messages name them."""

from celery import shared_task

from .services import outbox_deliver, outbox_drain, outbox_redispatch_due


@shared_task(name="orders.tasks.outbox_drain", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def outbox_drain_task(lane: str) -> int:
    return outbox_drain(lane)


# One message by id: what releases before the lanes sent, still queued during an upgrade.
@shared_task(name="orders.tasks.outbox_process", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def outbox_process(message_id: int) -> str | None:
    return outbox_deliver(message_id)


@shared_task(name="orders.tasks.outbox_redispatch", ignore_result=True)
def outbox_redispatch() -> int:
    return outbox_redispatch_due()
