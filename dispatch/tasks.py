from celery import shared_task

from .services import promise_proposals_compute as compute


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360)
def promise_proposals_compute() -> dict:
    """Daily (beat, dispatch/beat.py; editable in the admin): each warehouse's promised ship
    time proposed from the last 30 days. Idempotent: a second run replaces the open proposals."""
    return compute().as_dict()
