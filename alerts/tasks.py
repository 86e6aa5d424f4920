from celery import shared_task

from .services import notifications_stamp_acted as stamp_acted


@shared_task(ignore_result=True)
def notifications_stamp_acted() -> int:
    return stamp_acted()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_escalate_due() -> int:
    """Every minute (beat): unacknowledged alerts past their escalation time go to chat."""
    from .escalation import alerts_escalate_due as escalate

    return escalate()
