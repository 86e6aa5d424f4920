"""The alert sweeps: each finds the orders now in one condition with one set-based query over
indexed columns, then brings that kind's active alerts in line with `alerting.alerts_sync`
(open the new ones, touch the known ones, resolve the rest with the reason).

    sweep_stale(now=None)        no state change for the threshold, per state
    sweep_conflicts(now=None)    changed by N or more roles of people within the window
    sweep_sla(now=None)          paid, not shipped within the warehouse's promised hours
    sweep_risk_holds(now=None)   on risk hold longer than the kind's {"minutes": N}

Each returns SweepCounts(opened, touched, resolved). Thresholds are read at every run (the hub
settings, the per-state stale thresholds, the kind's params), so an admin edit takes effect at the
next sweep. Running a sweep twice opens nothing and resolves nothing the second time; it touches
the active alerts (last seen at, times seen).

The definitions are the boards' (orders.selectors): the watched states, the stale threshold of
HubSettings, the contested-orders condition `order_contested_q`. Two differences, on purpose: a
per-state StaleThreshold overrides the hub's default, and risk holds are left to their own kind
(one alert per fact, with its own threshold), so the stale sweep skips them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order, Warehouse
from orders.selectors import BoardClock, hub_settings_get, order_contested_q, order_promise_start
from orders.states import STALE_WATCHED_STATES, State

from .alerting import AlertRow, SweepCounts, alert_policy, alerts_sync
from .models import AlertKind, StaleThreshold

DEFAULT_RISK_HOLD_MINUTES = 120
DEFAULT_PROMISED_HOURS = 48

# Paid and not shipped yet: the promise to ship runs from the payment. A risk hold does not
# stop the buyer's clock, so it counts too.
SLA_STATES = (State.PAID, State.RISK_HOLD, State.REVIEWED, State.ALLOCATED, State.PACKED)
# The order left the building (or will not): what resolves an SLA alert as "shipped".
SHIPPED_STATES = (
    State.SHIPPED,
    State.PICKED_UP,
    State.DELIVERED,
    State.INVOICE_REQUESTED,
    State.RETURN_REQUESTED,
    State.RETURN_APPROVED,
)
STALE_SWEPT_STATES = tuple(s for s in STALE_WATCHED_STATES if s != State.RISK_HOLD)


def _moved_on_reasons(*, leaving: tuple[str, ...] = ()) -> dict[str, str]:
    """Per state the order is in now: why the alert cleared when it changed state (`leaving`:
    the condition's own states, which say nothing about a move)."""
    reasons = {}
    for state in State:
        if state in leaving:
            continue
        if state in SHIPPED_STATES:
            text = _("Shipped: the order moved on to “%(state)s”.")
        elif state in (State.CANCELLED, State.REFUNDED, State.ARCHIVED):
            text = _("Closed: the order moved on to “%(state)s”.")
        else:
            text = _("The order moved on to “%(state)s”.")
        reasons[state.value] = text % {"state": state.label}
    return reasons


def _int_param(params: dict, key: str, default: int) -> int:
    try:
        value = int(params.get(key, default))
    except (TypeError, ValueError):
        return default
    return value if value > 0 else default


# ---------------------------------------------------------------------------------------------
# Stale


def stale_thresholds() -> dict[str, int]:
    """Minutes per swept state: the state's own threshold, else the hub's default."""
    default = hub_settings_get().stale_after_minutes
    own = dict(StaleThreshold.objects.filter(state__in=STALE_SWEPT_STATES).values_list("state", "minutes"))
    return {state.value: own.get(state, default) for state in STALE_SWEPT_STATES}


def stale_orders_q(*, now: datetime, thresholds: dict[str, int]) -> Q:
    """One index range per state on (state, state_changed_at), OR-ed (a BitmapOr on PostgreSQL)."""
    condition = Q()
    for state, minutes in thresholds.items():
        condition |= Q(state=state, state_changed_at__lt=now - timedelta(minutes=minutes))
    return condition


def sweep_stale(now: datetime | None = None) -> SweepCounts:
    now = now or timezone.now()
    thresholds = stale_thresholds()
    labels = {state.value: state.label for state in State}
    found = (
        Order.objects.filter(stale_orders_q(now=now, thresholds=thresholds))
        .order_by()
        .values_list("pk", "number", "state", "state_changed_at")
    )
    rows = [
        AlertRow(
            order_id=pk,
            title=_("Order %(number)s: no change for over %(minutes)s min in “%(state)s”")
            % {"number": number, "minutes": thresholds[state], "state": labels[state]},
            details={"state": state, "state_changed_at": changed.isoformat(), "threshold_minutes": thresholds[state]},
        )
        for pk, number, state, changed in found.iterator(chunk_size=5000)
    ]
    return alerts_sync(
        kind=AlertKind.STALE_ORDER,
        rows=rows,
        reason=_("No longer stale: the threshold was raised."),
        reason_by_state=_moved_on_reasons(),
        only_if_moved=True,
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Conflicting edits


def sweep_conflicts(now: datetime | None = None) -> SweepCounts:
    """The operations board's "conflicting" (the same condition), for orders that still take
    changes."""
    now = now or timezone.now()
    clock = BoardClock.read(now=now)
    hours = round((clock.now - clock.conflict_since).total_seconds() / 3600)
    found = Order.objects.filter(order_contested_q(clock)).order_by().values_list("pk", "number", "state")
    rows = [
        AlertRow(
            order_id=pk,
            title=_("Order %(number)s: changed by %(roles)s or more roles within %(hours)s h")
            % {"number": number, "roles": clock.conflict_role_count, "hours": hours},
            details={"roles_at_least": clock.conflict_role_count, "window_hours": hours},
        )
        for pk, number, _state in found
    ]
    return alerts_sync(
        kind=AlertKind.CONFLICTING_EDITS,
        rows=rows,
        reason=_("Fewer than %(roles)s roles changed the order within the last %(hours)s h.")
        % {"roles": clock.conflict_role_count, "hours": hours},
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Promised ship time


def sweep_sla(now: datetime | None = None) -> SweepCounts:
    now = now or timezone.now()
    params = alert_policy(AlertKind.SLA_BREACH).params
    default_hours = _int_param(params, "default_promised_hours", DEFAULT_PROMISED_HOURS)
    promises = dict(Warehouse.objects.values_list("pk", "promised_ship_hours"))
    # Per warehouse (a handful) a cut-off on the paid time; paid after ordered, so the ordered
    # time bounds it too and spares the event lookup for the orders paid recently.
    due = Q(warehouse__isnull=True, paid_at__lt=now - timedelta(hours=default_hours))
    for warehouse_id, hours in promises.items():
        due |= Q(warehouse_id=warehouse_id, paid_at__lt=now - timedelta(hours=hours))
    earliest_cutoff = now - timedelta(hours=min([default_hours, *promises.values()]))
    found = (
        Order.objects.filter(state__in=SLA_STATES, ordered_at__lt=earliest_cutoff)
        .annotate(paid_at=order_promise_start())
        .filter(due)
        .order_by()
        .values_list("pk", "number", "warehouse_id", "paid_at")
    )
    rows = []
    for pk, number, warehouse_id, paid_at in found.iterator(chunk_size=5000):
        hours = promises.get(warehouse_id, default_hours)
        rows.append(
            AlertRow(
                order_id=pk,
                title=_("Order %(number)s: not shipped within %(hours)s h of payment")
                % {"number": number, "hours": hours},
                details={
                    "paid_at": paid_at.isoformat(),
                    "promised_hours": hours,
                    "due_at": (paid_at + timedelta(hours=hours)).isoformat(),
                    "warehouse_id": warehouse_id,
                },
            )
        )
    return alerts_sync(
        kind=AlertKind.SLA_BREACH,
        rows=rows,
        reason=_("Within the promised ship time now: the promise was changed."),
        reason_by_state=_moved_on_reasons(leaving=SLA_STATES),
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Risk holds


def sweep_risk_holds(now: datetime | None = None) -> SweepCounts:
    now = now or timezone.now()
    minutes = _int_param(alert_policy(AlertKind.RISK_HOLD_WAITING).params, "minutes", DEFAULT_RISK_HOLD_MINUTES)
    found = (
        Order.objects.filter(state=State.RISK_HOLD, state_changed_at__lt=now - timedelta(minutes=minutes))
        .order_by()
        .values_list("pk", "number", "state_changed_at")
    )
    rows = [
        AlertRow(
            order_id=pk,
            title=_("Order %(number)s: on risk hold for over %(minutes)s min") % {"number": number, "minutes": minutes},
            details={"held_since": held.isoformat(), "threshold_minutes": minutes},
        )
        for pk, number, held in found.iterator(chunk_size=5000)
    ]
    reasons = _moved_on_reasons(leaving=(State.RISK_HOLD,))
    reasons.update(
        {
            state: _("Released from the risk hold: the order moved on to “%(state)s”.") % {"state": State(state).label}
            for state in (State.PAID, State.REVIEWED, State.ALLOCATED, State.PACKED)
        }
    )
    return alerts_sync(
        kind=AlertKind.RISK_HOLD_WAITING,
        rows=rows,
        reason=_("No longer waiting too long: the threshold was raised."),
        reason_by_state=reasons,
        now=now,
    )


SWEEPS = {
    "stale": sweep_stale,
    "conflicts": sweep_conflicts,
    "sla": sweep_sla,
    "risk_holds": sweep_risk_holds,
}


def sweeps_run_all(now: datetime | None = None) -> dict[str, dict]:
    now = now or timezone.now()
    return {name: sweep(now=now).as_dict() for name, sweep in SWEEPS.items()}


__all__ = [
    "SWEEPS",
    "SweepCounts",
    "sweep_conflicts",
    "sweep_risk_holds",
    "sweep_sla",
    "sweep_stale",
    "sweeps_run_all",
]
