"""Manual interventions are tagged when they happen, by the real services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from kpis.models import InterventionKind, ManualIntervention
from orders.events import order_event_create
from orders.models import Order
from orders.services.transition import order_transition
from orders.states import Role

pytestmark = pytest.mark.django_db


def test_a_superuser_forcing_a_status_is_tagged(make_order, users):
    order = make_order("paid")
    event = order_transition(order.id, "approve", actor=users["admin"])
    tag = ManualIntervention.objects.get()
    assert (tag.kind, tag.event_id, tag.order_id, tag.actor, tag.actor_role) == (
        InterventionKind.FORCED_STATUS,
        event.id,
        order.id,
        users["admin"],
        Role.ADMIN,
    )
    assert tag.occurred_at == event.occurred_at


def test_a_tracking_number_re_entered_by_the_warehouse_is_tagged(make_order, users):
    order = make_order("shipped")
    assert not ManualIntervention.objects.exists()
    event = order_transition(
        order.id, "reship", actor=users["wh1"], note="面单破损,重新发出", carrier="zto", tracking_number="ZTO3000000002"
    )
    tag = ManualIntervention.objects.get()
    assert (tag.kind, tag.event_id, tag.actor, tag.actor_role) == (
        InterventionKind.TRACKING_REENTERED,
        event.id,
        users["wh1"],
        Role.WAREHOUSE,
    )


def test_the_roles_own_work_and_the_systems_moves_are_not_interventions(make_order, users, warehouses):
    order = make_order("paid")
    order_transition(order.id, "approve", actor=users["cs1"])
    order_transition(order.id, "allocate", actor=None, warehouse=warehouses[0])
    make_order("delivered")
    assert not ManualIntervention.objects.exists()


def _reconciliation_event(order, *, applied_by, actor):
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        return order_event_create(
            order=locked,
            action="details_updated",
            from_state=locked.state,
            actor=actor,
            occurred_at=locked.updated_at,
            note="reconciled",
            data={"reconciliation_run": 7, "source": "wms", "file": "wms.csv", "row": 12, "applied_by": applied_by},
        )


def test_a_reconciliation_fix_applied_by_a_person_is_tagged_and_an_automatic_one_is_not(make_order, users):
    order = make_order("packed")
    _reconciliation_event(order, applied_by="", actor=None)
    assert not ManualIntervention.objects.exists()
    event = _reconciliation_event(order, applied_by="ops1", actor=users["ops1"])
    tag = ManualIntervention.objects.get()
    assert (tag.kind, tag.event_id, tag.actor) == (InterventionKind.RECONCILIATION_FIX, event.id, users["ops1"])


def test_a_reconciliation_fix_moved_by_the_system_names_the_person_who_applied_it(make_order, users):
    order = make_order("packed")
    event = _reconciliation_event(order, applied_by="ops1", actor=None)
    assert event.actor_role == Role.SYSTEM
    tag = ManualIntervention.objects.get()
    assert (tag.kind, tag.actor, tag.actor_role) == (
        InterventionKind.RECONCILIATION_FIX,
        users["ops1"],
        Role.OPERATIONS,
    )


def test_a_correction_rolled_back_is_not_counted(make_order, users):
    order = make_order("packed")
    with pytest.raises(RuntimeError), transaction.atomic():
        _reconciliation_event(order, applied_by="ops1", actor=users["ops1"])
        assert ManualIntervention.objects.count() == 1
        raise RuntimeError("the fix failed later in the same transaction")
    assert not ManualIntervention.objects.exists()


def _carrier_export(tmp_path, order):
    import csv
    import io

    tracking = order.shipments.order_by("-sequence").first().tracking_number
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([["运单号", "状态", "备注"], [tracking, "已签收", ""]])
    path = tmp_path / "sf.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def test_manage_py_reconcile_fix_by_a_person_is_tagged_and_feeds_accuracy(tmp_path, make_order, users):
    import io

    from django.core.management import call_command

    from kpis.selectors import kpi_status_accuracy
    from reconciliation.defaults import default_mappings_install
    from reconciliation.models import ReconciliationRun, SourceMapping

    default_mappings_install(SourceMapping)
    order = make_order("shipped")
    path = _carrier_export(tmp_path, order)
    call_command("reconcile", str(path), "--source", "carrier", "--fix", "--user", "ops1", stdout=io.StringIO())
    run = ReconciliationRun.objects.get()
    assert (run.fixed, run.status_compared, run.status_matched) == (1, 1, 0)
    tag = ManualIntervention.objects.get()
    event = Order.objects.get(pk=order.pk).events.latest("id")
    assert (tag.kind, tag.event_id, tag.actor, tag.actor_role) == (
        InterventionKind.RECONCILIATION_FIX,
        event.id,
        users["ops1"],
        Role.OPERATIONS,
    )
    accuracy = kpi_status_accuracy(since=run.started_at, until=run.finished_at + timedelta(seconds=1))
    assert (accuracy["percent"], accuracy["runs"][0]["id"]) == (0.0, run.id)
