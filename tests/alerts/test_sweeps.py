"""The alert sweeps: each kind opens, dedupes and resolves itself with the reason; a second run
changes nothing; thresholds edited in the admin apply at the next run. The same tests run on
SQLite (the embedded path) and PostgreSQL (the upsert against the partial unique index); the
`postgres` ones pin the SQL path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.alerting import LAST_SEEN_EVERY
from alerts.models import Alert, AlertKind, AlertKindSettings, StaleThreshold
from alerts.sweeps import sweep_conflicts, sweep_risk_holds, sweep_sla, sweep_stale, sweeps_run_all
from orders.models import HubSettings, Order
from orders.selectors import hub_settings_get
from orders.services.hub_settings import hub_settings_save
from orders.services.transition import order_transition

pytestmark = pytest.mark.django_db


def _age(order, *, minutes: int) -> None:
    """The order has sat in its state for `minutes` (the test's only direct write)."""
    Order.objects.filter(pk=order.pk).update(state_changed_at=timezone.now() - timedelta(minutes=minutes))


def _counts(result) -> tuple[int, int, int]:
    return result.opened, result.touched, result.resolved


def _snapshot():
    return sorted(Alert.objects.values_list("pk", "kind", "order_id", "status", "resolution"))


def _kind_settings(kind: str, **values) -> None:
    """What operations save in the admin for one kind."""
    AlertKindSettings.objects.update_or_create(kind=kind, defaults=values)


def _active(kind: str):
    return Alert.objects.filter(kind=kind, status__in=["open", "acknowledged"])


# ---------------------------------------------------------------------------------------------
# Stale


def test_stale_opens_dedupes_and_resolves_when_the_order_moves(make_order, users):
    stale, fresh = make_order("paid"), make_order("paid")
    _age(stale, minutes=180)
    _age(fresh, minutes=30)

    assert _counts(sweep_stale()) == (1, 0, 0)
    alert = _active(AlertKind.STALE_ORDER).get()
    assert alert.order_id == stale.pk and alert.details["state"] == "paid" and alert.details["threshold_minutes"] == 120
    assert stale.number in alert.title and alert.escalate_at is not None

    assert _counts(sweep_stale()) == (0, 1, 0)  # the same alert, found again
    alert.refresh_from_db()
    # Unchanged and seen moments ago: not rewritten (alerting.LAST_SEEN_EVERY).
    assert alert.seen_count == 1 and Alert.objects.count() == 1
    later = timezone.now() + LAST_SEEN_EVERY + timedelta(minutes=1)
    result = sweep_stale(now=later)
    assert (_counts(result), result.rewritten) == ((0, 1, 0), 1)  # the last sighting refreshed
    alert.refresh_from_db()
    assert alert.seen_count == 2 and alert.last_seen_at == later and Alert.objects.count() == 1

    order_transition(stale.pk, "approve", actor=users["cs1"])
    assert _counts(sweep_stale()) == (0, 0, 1)
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by is None and alert.resolved_at is not None
    assert alert.resolution == "The order moved on to “Reviewed”."


def test_stale_per_state_threshold_and_hub_settings_apply_at_the_next_sweep(make_order):
    paid, reviewed = make_order("paid"), make_order("reviewed")
    _age(paid, minutes=45)
    _age(reviewed, minutes=45)
    assert _counts(sweep_stale()) == (0, 0, 0)

    StaleThreshold.objects.create(state="reviewed", minutes=30)
    assert _counts(sweep_stale()) == (1, 0, 0)
    assert _active(AlertKind.STALE_ORDER).get().order_id == reviewed.pk

    HubSettings.objects.update_or_create(pk=1, defaults={"stale_after_minutes": 40})
    assert _counts(sweep_stale()) == (1, 1, 0)  # paid now stale too (hub default)

    StaleThreshold.objects.filter(state="reviewed").update(minutes=600)
    assert _counts(sweep_stale()) == (0, 1, 1)
    cleared = Alert.objects.get(order_id=reviewed.pk)
    assert cleared.status == "resolved" and cleared.resolution == "No longer stale: the threshold was raised."


def test_a_second_run_changes_nothing(make_order, users):
    stale, held = make_order("allocated"), make_order("risk_hold")
    _age(stale, minutes=300)
    _age(held, minutes=300)
    first = sweeps_run_all()
    assert first["stale"]["opened"] == 1 and first["risk_holds"]["opened"] == 1
    before = _snapshot()
    second = sweeps_run_all()
    assert all(counts["opened"] == 0 and counts["resolved"] == 0 for counts in second.values())
    assert _snapshot() == before


def test_a_switched_off_kind_opens_nothing_and_resolves_its_active_alerts(make_order):
    order = make_order("packed")
    _age(order, minutes=300)
    assert _counts(sweep_stale()) == (1, 0, 0)
    _kind_settings(AlertKind.STALE_ORDER, enabled=False)
    assert _counts(sweep_stale()) == (0, 0, 1)
    assert Alert.objects.get().resolution == "Operations switched this alert kind off."
    assert _counts(sweep_stale()) == (0, 0, 0)
    assert not _active(AlertKind.STALE_ORDER).exists()
    _kind_settings(AlertKind.STALE_ORDER, enabled=True)
    assert _counts(sweep_stale()) == (1, 0, 0)


# ---------------------------------------------------------------------------------------------
# Risk holds


def test_risk_hold_opens_with_the_kind_threshold_and_resolves_when_released(make_order, users):
    held = make_order("risk_hold")
    _age(held, minutes=90)
    assert _counts(sweep_risk_holds()) == (0, 0, 0)  # default 120 min
    _kind_settings(AlertKind.RISK_HOLD_WAITING, params={"minutes": 60})
    assert _counts(sweep_risk_holds()) == (1, 0, 0)
    assert _counts(sweep_risk_holds()) == (0, 1, 0)
    order_transition(held.pk, "release", actor=users["ops1"])
    assert _counts(sweep_risk_holds()) == (0, 0, 1)
    alert = Alert.objects.get(kind=AlertKind.RISK_HOLD_WAITING)
    assert alert.status == "resolved"
    assert alert.resolution == "Released from the risk hold: the order moved on to “Paid”."


def test_stale_sweep_leaves_risk_holds_to_their_own_kind(make_order):
    held = make_order("risk_hold")
    _age(held, minutes=600)
    assert _counts(sweep_stale()) == (0, 0, 0)


# ---------------------------------------------------------------------------------------------
# Conflicting edits


def _contested_order(make_order, users, warehouses):
    order = make_order("risk_hold")
    order_transition(order.pk, "release", actor=users["ops1"])
    order_transition(order.pk, "approve", actor=users["cs1"])
    order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouses[0])
    return order


def test_conflicts_open_dedupe_and_resolve_when_the_window_passes(
    make_order, users, warehouses, django_capture_on_commit_callbacks
):
    contested, calm = _contested_order(make_order, users, warehouses), make_order("allocated")
    assert _counts(sweep_conflicts()) == (1, 0, 0)
    assert _active(AlertKind.CONFLICTING_EDITS).get().order_id == contested.pk
    assert _counts(sweep_conflicts()) == (0, 1, 0)
    assert not Alert.objects.filter(order_id=calm.pk).exists()

    settings_row = hub_settings_get()
    settings_row.conflict_role_count = 4
    with django_capture_on_commit_callbacks(execute=True):
        hub_settings_save(settings_row, changed=["conflict_role_count"])
    assert _counts(sweep_conflicts()) == (0, 0, 1)
    settings_row.conflict_role_count = 3
    with django_capture_on_commit_callbacks(execute=True):
        hub_settings_save(settings_row, changed=["conflict_role_count"])
    assert _counts(sweep_conflicts()) == (1, 0, 0)  # a new alert: the old one stays resolved
    later = timezone.now() + timedelta(hours=25)
    assert _counts(sweep_conflicts(now=later)) == (0, 0, 1)
    assert Alert.objects.filter(kind=AlertKind.CONFLICTING_EDITS, status="resolved").count() == 2
    reasons = set(Alert.objects.values_list("resolution", flat=True))
    assert reasons == {
        "Fewer than 4 roles changed the order within the last 24 h.",
        "Fewer than 3 roles changed the order within the last 24 h.",
    }


# ---------------------------------------------------------------------------------------------
# Promised ship time


def test_sla_opens_per_warehouse_promise_and_resolves_when_shipped(make_order, users, warehouses):
    order = make_order("packed")
    warehouse = Order.objects.get(pk=order.pk).warehouse
    warehouse.promised_ship_hours = 24
    warehouse.save(update_fields=["promised_ship_hours"])
    assert _counts(sweep_sla()) == (0, 0, 0)

    later = timezone.now() + timedelta(hours=25)
    assert _counts(sweep_sla(now=later)) == (1, 0, 0)
    alert = _active(AlertKind.SLA_BREACH).get()
    assert alert.details["promised_hours"] == 24 and alert.details["warehouse_id"] == warehouse.pk
    assert _counts(sweep_sla(now=later)) == (0, 1, 0)

    order_transition(order.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF1400000000001")
    assert _counts(sweep_sla(now=later)) == (0, 0, 1)
    alert.refresh_from_db()
    assert (
        alert.status == "resolved" and alert.resolution == "Shipped: the order moved on to “Shipped, awaiting pickup”."
    )


def test_sla_without_a_warehouse_uses_the_kind_default(make_order):
    order = make_order("reviewed")
    assert Order.objects.get(pk=order.pk).warehouse_id is None
    assert _counts(sweep_sla(now=timezone.now() + timedelta(hours=30))) == (0, 0, 0)
    _kind_settings(AlertKind.SLA_BREACH, params={"default_promised_hours": 24})
    assert _counts(sweep_sla(now=timezone.now() + timedelta(hours=30))) == (1, 0, 0)


# ---------------------------------------------------------------------------------------------
# The SQL path


@pytest.mark.postgres
def test_postgresql_upsert_keeps_one_active_alert_and_counts_right(make_order):
    from django.db import connection

    assert connection.vendor == "postgresql"
    orders = [make_order("paid") for _ in range(3)]
    for order in orders:
        _age(order, minutes=500)
    assert _counts(sweep_stale()) == (3, 0, 0)
    Alert.objects.filter(order_id=orders[0].pk).update(status="acknowledged")
    result = sweep_stale()
    assert (_counts(result), result.rewritten) == ((0, 3, 0), 0)  # found again, nothing changed
    assert Alert.objects.count() == 3
    assert set(Alert.objects.values_list("seen_count", flat=True)) == {1}
    StaleThreshold.objects.create(state="paid", minutes=400)  # the title and details change
    result = sweep_stale()
    assert (_counts(result), result.rewritten) == ((0, 3, 0), 3)
    assert set(Alert.objects.values_list("seen_count", flat=True)) == {2}
    assert {a.details["threshold_minutes"] for a in Alert.objects.all()} == {400}
    assert Alert.objects.get(order_id=orders[0].pk).status == "acknowledged"  # a touch keeps the status
    Order.objects.filter(pk=orders[1].pk).update(state_changed_at=timezone.now())
    assert _counts(sweep_stale()) == (0, 2, 1)


# ---------------------------------------------------------------------------------------------
# Beat and the tasks


def test_the_sweeps_run_every_minute_and_an_edited_schedule_is_kept():
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from alerts.beat import SWEEP_TASKS, sweep_schedules_install

    sweep_schedules_install()  # migrate did it already; again it creates nothing new
    tasks = PeriodicTask.objects.filter(name__in=SWEEP_TASKS).select_related("interval")
    assert {t.task for t in tasks} == set(SWEEP_TASKS.values())
    assert all((t.enabled, t.interval.every, t.interval.period) == (True, 1, "minutes") for t in tasks)

    edited = tasks.get(task="alerts.tasks.alerts_sweep_sla")
    edited.interval = IntervalSchedule.objects.create(every=5, period="minutes")
    edited.enabled = False
    edited.save()
    assert sweep_schedules_install() == 0
    edited.refresh_from_db()
    assert (edited.enabled, edited.interval.every) == (False, 5)
    PeriodicTask.objects.filter(task="alerts.tasks.alerts_sweep_stale").delete()
    assert sweep_schedules_install() == 1


def test_the_tasks_run_the_sweeps(make_order):
    from alerts.tasks import alerts_sweep_conflicts, alerts_sweep_risk_holds, alerts_sweep_sla, alerts_sweep_stale

    _age(make_order("paid"), minutes=300)
    assert alerts_sweep_stale() == {"opened": 1, "touched": 0, "resolved": 0}
    assert alerts_sweep_stale() == {"opened": 0, "touched": 1, "resolved": 0}
    for task in (alerts_sweep_conflicts, alerts_sweep_sla, alerts_sweep_risk_holds):
        assert task() == {"opened": 0, "touched": 0, "resolved": 0}
