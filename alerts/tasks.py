from celery import shared_task


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_escalate_due() -> int:
    """Every minute (beat): unacknowledged alerts past their escalation time go to chat."""
    from .escalation import alerts_escalate_due as escalate

    return escalate()


# The sweeps: beat runs them every minute by default (alerts/beat.py; editable in the admin).
# Each is idempotent, so a late or doubled run does no harm.


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_stale() -> dict:
    from .sweeps import sweep_stale

    return sweep_stale().as_dict()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_conflicts() -> dict:
    from .sweeps import sweep_conflicts

    return sweep_conflicts().as_dict()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_sla() -> dict:
    from .sweeps import sweep_sla

    return sweep_sla().as_dict()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_risk_holds() -> dict:
    from .sweeps import sweep_risk_holds

    return sweep_risk_holds().as_dict()
