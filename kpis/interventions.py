"""Manual interventions, tagged when they happen.

Every correction made by hand leaves an `orders.OrderEvent`; an event listener (declared on
KpisConfig, orders.plugins) hears of every batch of new events, classifies each one and, for
each intervention, writes one `ManualIntervention` row in the same transaction as the event (so a rolled-back
correction is not counted, and one that committed always is). The rules, first match wins:

1. **Reconciliation fix** — the event's data carries `"reconciliation_run"` and a non-empty
   `"applied_by"` (the person who ran `manage.py reconcile --fix`; the reconcile command writes
   `{"reconciliation_run": id, "source", "file", "row", "applied_by": username or ""}`). An
   empty `applied_by` is an automatic fix and is not counted. The command moves orders as the
   system, so the person is looked up by that username.
2. **Tracking number re-entered** — action `reship` taken by a person (any actor but the
   system): a tracking number typed in again.
3. **Status forced** — a transition (an action of `orders.states.TRANSITIONS`) taken by a
   superuser (actor role `admin`): someone stepping outside the roles to force a status.

Everything else — the roles' own work, the system's moves, notes, intake — is not an
intervention. A batch import's events are heard too (none of them is a correction today, but
a change to these rules can never miss that path).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from orders.permissions import role_of
from orders.states import TRANSITIONS_BY_ACTION, Role

from .models import InterventionKind, ManualIntervention


def intervention_kind_for_event(event) -> str | None:
    """The intervention kind an event records, or None: the rules above, nothing else."""
    data = event.data if isinstance(event.data, dict) else {}
    if data.get("reconciliation_run") and data.get("applied_by"):
        return InterventionKind.RECONCILIATION_FIX
    if event.action == "reship" and event.actor_role != Role.SYSTEM and event.actor_id is not None:
        return InterventionKind.TRACKING_REENTERED
    if event.action in TRANSITIONS_BY_ACTION and event.actor_role == Role.ADMIN:
        return InterventionKind.FORCED_STATUS
    return None


def interventions_tag(events) -> None:
    """Event listener (declared on KpisConfig): tag the new events that are manual
    interventions, in their transaction, one event or a batch import alike."""
    rows = []
    for event in events:
        kind = intervention_kind_for_event(event)
        if kind is None:
            continue
        actor_id, actor_role = event.actor_id, event.actor_role or ""
        if kind == InterventionKind.RECONCILIATION_FIX and actor_id is None:
            # The reconcile command moves orders as the system; the person is `applied_by`.
            actor_id, actor_role = _person(event.data["applied_by"])
        rows.append(
            ManualIntervention(
                kind=kind,
                order_id=event.order_id,
                event=event,
                actor_id=actor_id,
                actor_role=actor_role,
                occurred_at=event.occurred_at,
            )
        )
    if rows:
        ManualIntervention.objects.bulk_create(rows)


def _person(username: str) -> tuple[int | None, str]:
    user = get_user_model().objects.filter(username=username).first()
    return (user.pk, role_of(user) or "") if user else (None, "")
