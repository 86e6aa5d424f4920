from celery import shared_task

from .services import notifications_stamp_acted as stamp_acted


@shared_task(ignore_result=True)
def notifications_stamp_acted() -> int:
    """Every minute (beat): when each recent notification's recipient acted, the latency KPI's data."""
    return stamp_acted()
