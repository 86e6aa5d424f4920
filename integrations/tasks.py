from celery import shared_task

from .tracking import tracking_sync as sync


@shared_task(ignore_result=True, soft_time_limit=540, time_limit=590)
def tracking_sync() -> dict:
    return sync()
