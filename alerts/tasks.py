from celery import shared_task

from .escalation import alerts_escalate_due as escalate
from .sweeps import sweep_conflicts, sweep_logistics, sweep_risk_holds, sweep_sla, sweep_stale


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_escalate_due() -> int:
    """Every minute (beat): unacknowledged alerts past their escalation time go to chat."""
    return escalate()


# The sweeps: beat runs them every minute by default (alerts/beat.py; editable in the admin).
# Each is idempotent, so a late or doubled run does no harm.


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_stale() -> dict:
    return sweep_stale().as_dict()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_conflicts() -> dict:
    return sweep_conflicts().as_dict()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_sla() -> dict:
    return sweep_sla().as_dict()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_risk_holds() -> dict:
    return sweep_risk_holds().as_dict()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_logistics() -> dict:
    """The logistics watch: ship-by soon, not collected, no scan, delivery exceptions, returns."""
    return sweep_logistics()
