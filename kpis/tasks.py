from celery import shared_task

from .services import kpi_daily_refresh_recent


@shared_task(ignore_result=True, soft_time_limit=100, time_limit=120)
def kpi_daily_refresh() -> int:
    """Hourly (beat): today's and yesterday's KPI snapshots for the dashboard's history."""
    return len(kpi_daily_refresh_recent())
