"""The warehouse form (time zone checked, working days as boxes, pickup after cut-off) and the
one-click accept / dismiss of promise proposals in the admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from dispatch.models import PromiseProposal, ProposalStatus
from orders.models import Warehouse

pytestmark = pytest.mark.django_db


def _form(warehouse: Warehouse, **changes) -> dict:
    data = {
        "code": warehouse.code,
        "name": warehouse.name,
        "is_active": "on",
        "kind": warehouse.kind,
        "region": warehouse.region,
        "time_zone": warehouse.time_zone,
        "working_days": list(warehouse.working_days),
        "cutoff_time": "16:00",
        "pickup_time": "18:00",
        "promised_ship_hours": warehouse.promised_ship_hours,
        "contact_name": warehouse.contact_name,
        "contact_phone": warehouse.contact_phone,
        "province": warehouse.province,
        "city": warehouse.city,
        "district": warehouse.district,
        "address": warehouse.address,
    }
    data.update(changes)
    return data


def _proposal(warehouse, **fields) -> PromiseProposal:
    now = timezone.now()
    values = {
        "proposed_hours": 30,
        "percentile": 90,
        "sample_size": 25,
        "min_sample_size": 20,
        "window_start": now - dt.timedelta(days=30),
        "window_end": now,
        "promise_when_computed": warehouse.promised_ship_hours,
    }
    values.update(fields)
    return PromiseProposal.objects.create(warehouse=warehouse, **values)


def test_the_warehouse_form_saves_working_days_from_boxes(client, users, warehouses):
    warehouse = warehouses[0]
    client.force_login(users["ops1"])
    url = reverse("admin:orders_warehouse_change", args=[warehouse.pk])
    page = client.get(url).content.decode()
    assert 'type="checkbox" name="working_days" value="6"' in page and "Dispatch promise" in page
    response = client.post(
        url, _form(warehouse, working_days=["6", "1", "2", "3", "4", "5"], time_zone="Europe/Berlin")
    )
    assert response.status_code == 302
    warehouse.refresh_from_db()
    assert (warehouse.working_days, warehouse.time_zone) == ("123456", "Europe/Berlin")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"time_zone": "Europe/Atlantis"}, "“Europe/Atlantis” is not a time zone"),
        ({"working_days": []}, "This field is required."),
        ({"pickup_time": "15:00"}, "The carrier pickup (15:00) must not be before the cut-off (16:00)"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_reason(client, users, warehouses, changes, error):
    warehouse = warehouses[0]
    client.force_login(users["ops1"])
    response = client.post(reverse("admin:orders_warehouse_change", args=[warehouse.pk]), _form(warehouse, **changes))
    assert response.status_code == 200 and error in response.content.decode()
    warehouse.refresh_from_db()
    assert (warehouse.time_zone, warehouse.working_days, warehouse.pickup_time) == (
        "Asia/Shanghai",
        "12345",
        dt.time(18, 0),
    )


def test_the_warehouse_list_shows_the_schedule_and_the_open_proposal(client, users, warehouses):
    proposal = _proposal(warehouses[0])
    _proposal(warehouses[1], status=ProposalStatus.TOO_FEW, proposed_hours=None, reason="Only 3 orders")
    client.force_login(users["ops1"])
    page = client.get(reverse("admin:orders_warehouse_changelist")).content.decode()
    assert "16:00" in page and "18:00" in page
    assert reverse("admin:dispatch_promiseproposal_change", args=[proposal.pk]) in page
    assert "30 h — review" in page and "too few orders" in page


def test_operations_accept_with_one_click_on_the_proposals_page(client, users, warehouses):
    proposal = _proposal(warehouses[0])
    client.force_login(users["ops1"])
    page = client.get(reverse("admin:dispatch_promiseproposal_change", args=[proposal.pk])).content.decode()
    assert "Accept: promise 30 h" in page and 'name="expected_hours" value="30"' in page
    response = client.post(
        reverse("admin:dispatch_promiseproposal_accept", args=[proposal.pk]), {"expected_hours": "30"}, follow=True
    )
    assert "now promises 30 h (was 48 h)" in response.content.decode()
    assert Warehouse.objects.get(pk=warehouses[0].pk).promised_ship_hours == 30
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED and proposal.decided_by == users["ops1"]
    # Decided: no more buttons.
    page = client.get(reverse("admin:dispatch_promiseproposal_change", args=[proposal.pk])).content.decode()
    assert "Accept: promise" not in page


def test_a_page_shown_before_a_recompute_is_refused(client, users, warehouses):
    proposal = _proposal(warehouses[0])
    client.force_login(users["ops1"])
    response = client.post(
        reverse("admin:dispatch_promiseproposal_accept", args=[proposal.pk]), {"expected_hours": "26"}, follow=True
    )
    assert "26 h then, 30 h now" in response.content.decode()
    assert Warehouse.objects.get(pk=warehouses[0].pk).promised_ship_hours == 48


def test_list_actions_accept_and_dismiss(client, users, warehouses):
    accept, dismiss = _proposal(warehouses[0]), _proposal(warehouses[1], proposed_hours=60)
    client.force_login(users["ops1"])
    url = reverse("admin:dispatch_promiseproposal_changelist")
    client.post(url, {"action": "accept_selected", "_selected_action": [accept.pk]})
    client.post(url, {"action": "dismiss_selected", "_selected_action": [dismiss.pk]})
    assert Warehouse.objects.get(pk=warehouses[0].pk).promised_ship_hours == 30
    assert Warehouse.objects.get(pk=warehouses[1].pk).promised_ship_hours == 48
    assert PromiseProposal.objects.get(pk=dismiss.pk).status == ProposalStatus.DISMISSED


def test_customer_service_cannot_see_or_decide(client, users, warehouses):
    proposal = _proposal(warehouses[0])
    client.force_login(users["cs1"])
    assert client.get(reverse("admin:dispatch_promiseproposal_changelist")).status_code == 403
    response = client.post(
        reverse("admin:dispatch_promiseproposal_accept", args=[proposal.pk]), {"expected_hours": "30"}
    )
    assert response.status_code in (302, 403)
    assert Warehouse.objects.get(pk=warehouses[0].pk).promised_ship_hours == 48
    assert PromiseProposal.objects.get(pk=proposal.pk).status == ProposalStatus.PROPOSED
