"""Promise proposals from constructed history: the percentile per warehouse (in the database on
PostgreSQL, in Python on SQLite, the same numbers), too few orders, an idempotent recompute,
who may accept or dismiss, the SLA sweep using the accepted promise, and the daily beat task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, AlertKind
from alerts.sweeps import sweep_sla
from dispatch.exceptions import ProposalAlreadyDecided, ProposalChanged, ProposalNothingToAccept, ProposalNotPermitted
from dispatch.models import PromiseProposal, ProposalStatus
from dispatch.selectors import percentile_cont, ship_time_percentiles, ship_time_sample
from dispatch.services import (
    promise_proposal_accept,
    promise_proposal_dismiss,
    promise_proposals_compute,
    promised_hours_from_seconds,
)
from orders.models import Warehouse

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC)
# Ten orders, hours from payment to pickup. P90 (continuous): rank 0.9·9 = 8.1, between 45 and
# 50 → 45.5 h, rounded up: 46 h.
HOURS = [10, 12, 20, 24, 30, 30, 31, 40, 45, 50]


@pytest.fixture
def history(picked_up, warehouses):
    """Warehouse 0: the ten orders in the window plus one picked up before it (ignored).
    Warehouse 1: two orders in the window (too few)."""
    busy, quiet = warehouses[0], warehouses[1]
    for index, hours in enumerate(HOURS):
        picked_up(busy, paid_at=NOW - dt.timedelta(days=3 + index), hours=hours)
    picked_up(busy, paid_at=NOW - dt.timedelta(days=60), hours=500)  # picked up 39 days ago: outside
    for hours in (5, 6):
        picked_up(quiet, paid_at=NOW - dt.timedelta(days=2), hours=hours)
    return busy, quiet


def _open(warehouse) -> PromiseProposal:
    return PromiseProposal.objects.get(warehouse=warehouse, status__in=["proposed", "too_few"])


def test_the_proposal_is_the_percentile_of_paid_to_picked_up_rounded_up(history):
    busy, quiet = history
    result = promise_proposals_compute(now=NOW, min_sample_size=5)
    assert result.proposed == 1 and result.too_few == len(Warehouse.objects.filter(is_active=True)) - 1

    proposal = _open(busy)
    assert (proposal.status, proposal.proposed_hours, proposal.percentile, proposal.sample_size) == (
        ProposalStatus.PROPOSED,
        46,
        90,
        10,
    )
    assert str(proposal.observed_hours) == "45.50"
    assert (proposal.window_start, proposal.window_end) == (NOW - dt.timedelta(days=30), NOW)
    assert proposal.promise_when_computed == 48

    too_few = _open(quiet)
    assert too_few.status == ProposalStatus.TOO_FEW and too_few.proposed_hours is None and too_few.sample_size == 2
    assert too_few.reason == "Only 2 orders were picked up in the last 30 days; 5 are needed for a proposal."
    # Nothing changes until operations accept.
    assert Warehouse.objects.get(pk=busy.pk).promised_ship_hours == 48


def test_twenty_orders_are_needed_by_default(history):
    promise_proposals_compute(now=NOW)
    proposal = _open(history[0])
    assert proposal.status == ProposalStatus.TOO_FEW and proposal.min_sample_size == 20
    assert "Only 10 orders" in proposal.reason and "20 are needed" in proposal.reason


def test_a_gift_order_travels_with_its_main_order_and_is_not_counted(picked_up, warehouses):
    main = picked_up(warehouses[0], paid_at=NOW - dt.timedelta(days=2), hours=7)
    picked_up(warehouses[0], paid_at=NOW - dt.timedelta(days=2), hours=70, main_order=main, amount="0.00")
    sample = list(ship_time_sample(start=NOW - dt.timedelta(days=30), end=NOW))
    assert len(sample) == 1 and sample[0]["picked_at"] - sample[0]["paid_at"] == dt.timedelta(hours=7)


def test_the_python_percentile_is_postgresqls_percentile_cont():
    assert percentile_cont([10.0], 0.9) == 10.0
    assert percentile_cont([float(h) for h in HOURS], 0.9) == pytest.approx(45.5)
    assert percentile_cont([1.0, 2.0, 3.0, 4.0], 0.5) == pytest.approx(2.5)
    assert promised_hours_from_seconds(36 * 3600 + 1e-7) == 36  # float noise is not an hour
    assert promised_hours_from_seconds(36 * 3600 + 60) == 37
    assert promised_hours_from_seconds(0) == 1


@pytest.mark.postgres
def test_postgresql_computes_the_percentile_in_the_database(history):
    assert connection.vendor == "postgresql"
    start, end = NOW - dt.timedelta(days=30), NOW
    in_database = ship_time_percentiles(start=start, end=end, percentile=90)
    busy = in_database[history[0].pk]
    assert busy.sample_size == 10 and busy.seconds == pytest.approx(45.5 * 3600)
    # The same definition as the Python path over the same sample.
    seconds = [
        (row["picked_at"] - row["paid_at"]).total_seconds()
        for row in ship_time_sample(start=start, end=end)
        if row["warehouse_id"] == history[0].pk
    ]
    assert percentile_cont(seconds, 0.9) == pytest.approx(busy.seconds)
    assert in_database[history[1].pk].sample_size == 2


def test_computing_again_replaces_the_open_proposal(history, users):
    busy = history[0]
    promise_proposals_compute(now=NOW, min_sample_size=5)
    first = _open(busy)
    promise_proposals_compute(now=NOW + dt.timedelta(days=1), min_sample_size=5)
    promise_proposals_compute(now=NOW + dt.timedelta(days=1), min_sample_size=5)
    again = _open(busy)
    assert again.pk == first.pk and again.window_end == NOW + dt.timedelta(days=1)
    assert PromiseProposal.objects.filter(warehouse=busy).count() == 1
    assert again.sample_size == 10

    promise_proposal_accept(proposal_id=again.pk, actor=users["ops1"])
    promise_proposals_compute(now=NOW + dt.timedelta(days=1), min_sample_size=5)
    assert PromiseProposal.objects.filter(warehouse=busy).count() == 2  # the accepted one is kept
    assert _open(busy).promise_when_computed == 46


def test_operations_accept_and_the_change_is_recorded(history, users):
    promise_proposals_compute(now=NOW, min_sample_size=5)
    proposal = _open(history[0])
    accepted = promise_proposal_accept(proposal_id=proposal.pk, actor=users["ops1"], expected_hours=46)
    accepted.refresh_from_db()
    assert (accepted.status, accepted.decided_by, accepted.old_hours, accepted.new_hours) == (
        ProposalStatus.ACCEPTED,
        users["ops1"],
        48,
        46,
    )
    assert accepted.decided_at is not None
    assert Warehouse.objects.get(pk=history[0].pk).promised_ship_hours == 46

    with pytest.raises(ProposalAlreadyDecided, match="already accepted by 刘洋"):
        promise_proposal_dismiss(proposal_id=proposal.pk, actor=users["ops1"])


def test_customer_service_may_not_decide_and_nothing_changes(history, users):
    promise_proposals_compute(now=NOW, min_sample_size=5)
    proposal = _open(history[0])
    for service in (promise_proposal_accept, promise_proposal_dismiss):
        with pytest.raises(ProposalNotPermitted) as refused:
            service(proposal_id=proposal.pk, actor=users["cs1"])
        assert refused.value.message == (
            "Your role (Customer service) may not accept or dismiss promised ship times: "
            "that is for the operations lead."
        )
    with pytest.raises(ProposalNotPermitted):
        promise_proposal_accept(proposal_id=proposal.pk, actor=users["wh1"])
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PROPOSED and proposal.decided_by is None
    assert Warehouse.objects.get(pk=history[0].pk).promised_ship_hours == 48


def test_a_stale_page_or_too_few_orders_are_refused_and_dismissing_keeps_the_promise(history, users):
    promise_proposals_compute(now=NOW, min_sample_size=5)
    proposal, too_few = _open(history[0]), _open(history[1])
    with pytest.raises(ProposalChanged, match="40 h then, 46 h now"):
        promise_proposal_accept(proposal_id=proposal.pk, actor=users["ops1"], expected_hours=40)
    with pytest.raises(ProposalNothingToAccept, match="Only 2 orders"):
        promise_proposal_accept(proposal_id=too_few.pk, actor=users["ops1"])
    assert Warehouse.objects.get(pk=history[0].pk).promised_ship_hours == 48

    dismissed = promise_proposal_dismiss(proposal_id=proposal.pk, actor=users["admin"])
    assert dismissed.status == ProposalStatus.DISMISSED and dismissed.new_hours is None
    assert Warehouse.objects.get(pk=history[0].pk).promised_ship_hours == 48


def test_the_sla_sweep_checks_the_accepted_promise(make_order, users, warehouses):
    order = make_order("packed")
    warehouse = order.warehouse
    later = timezone.now() + dt.timedelta(hours=30)
    assert sweep_sla(now=later).opened == 0  # 48 h promised

    proposal = PromiseProposal.objects.create(
        warehouse=warehouse,
        proposed_hours=24,
        percentile=90,
        sample_size=25,
        min_sample_size=20,
        window_start=later - dt.timedelta(days=30),
        window_end=later,
        promise_when_computed=48,
    )
    promise_proposal_accept(proposal_id=proposal.pk, actor=users["ops1"])
    assert sweep_sla(now=later).opened == 1
    alert = Alert.objects.get(kind=AlertKind.SLA_BREACH, order=order)
    assert alert.details["promised_hours"] == 24


def test_the_daily_task_is_scheduled_after_migrate_and_an_edit_is_kept(history):
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from dispatch.beat import PROPOSAL_TASK, PROPOSAL_TASK_NAME, proposal_schedule_install
    from dispatch.tasks import promise_proposals_compute as task

    scheduled = PeriodicTask.objects.select_related("crontab").get(name=PROPOSAL_TASK_NAME)
    assert scheduled.task == PROPOSAL_TASK == "dispatch.tasks.promise_proposals_compute" and scheduled.enabled
    assert (scheduled.crontab.hour, scheduled.crontab.minute, str(scheduled.crontab.timezone)) == (
        "2",
        "30",
        "Asia/Shanghai",
    )
    scheduled.crontab = CrontabSchedule.objects.create(hour="5", minute="0")
    scheduled.enabled = False
    scheduled.save()
    assert proposal_schedule_install() is False
    scheduled.refresh_from_db()
    assert (scheduled.enabled, scheduled.crontab.hour) == (False, "5")
    scheduled.delete()
    assert proposal_schedule_install() is True

    # The task runs the service (the real clock: the constructed history is days old).
    assert set(task()) == {"proposed", "too_few"}
