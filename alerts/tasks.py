from celery import shared_task

from .services import notifications_stamp_acted as stamp_acted


@shared_task(ignore_result=True)
def notifications_stamp_acted() -> int:
    return stamp_acted()
