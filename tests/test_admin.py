"""The order admin: each role sees its own buttons only, a stale page never overwrites, the
record cannot be edited or deleted, and URLs do not open another role's actions."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orders.models import Order, OrderEvent, Shipment


def change_url(order):
    return reverse("admin:orders_order_change", args=[order.pk])


def transition_url(order, action):
    return reverse("admin:orders_order_transition", args=[order.pk, action])


def actions_on_page(html: str) -> list[str]:
    return re.findall(r'data-action="([a-z_]+)"', html)


@pytest.fixture
def login(client, users):
    def as_user(username):
        client.force_login(users[username])
        return client

    return as_user


@pytest.mark.django_db
def test_each_role_sees_only_its_buttons(login, make_order):
    paid, packed = make_order("paid"), make_order("packed")
    cs = login("cs1")
    assert actions_on_page(cs.get(change_url(paid)).content.decode()) == ["merge", "flag_risk", "approve", "cancel"]
    # The warehouse has it: customer service may only ask for it to be stopped (截单).
    assert actions_on_page(cs.get(change_url(packed)).content.decode()) == ["request_intercept"]
    wh = login("wh1")
    assert actions_on_page(wh.get(change_url(packed)).content.decode()) == ["ship"]
    assert actions_on_page(wh.get(change_url(paid)).content.decode()) == []
    fin = login("fin1")
    assert actions_on_page(fin.get(change_url(paid)).content.decode()) == []


@pytest.mark.django_db
def test_button_posts_the_version_and_moves_the_order(login, make_order):
    order = make_order("paid")
    client = login("cs1")
    response = client.post(transition_url(order, "approve"), {"approve-expected_version": order.version}, follow=True)
    order.refresh_from_db()
    assert order.state == "reviewed"
    assert "张明 (Customer service) approved" in response.content.decode()


@pytest.mark.django_db
def test_stale_page_gets_the_conflict_message_and_changes_nothing(login, make_order, users):
    from orders.services.transition import order_transition

    order = make_order("paid")
    shown_version = order.version
    order_transition(order.pk, "flag_risk", actor=users["ops1"], note="checking address")
    client = login("cs1")
    response = client.post(
        transition_url(order, "cancel"),
        {"cancel-expected_version": shown_version, "cancel-note": "buyer asked"},
        follow=True,
    )
    page = response.content.decode()
    assert "was changed by 刘洋 (Operations)" in page
    order.refresh_from_db()
    assert order.state == "risk_hold"
    assert order.version == shown_version + 1


@pytest.mark.django_db
def test_another_roles_action_cannot_be_reached_by_url(login, make_order):
    order = make_order("packed")
    client = login("cs1")
    response = client.post(
        transition_url(order, "ship"),
        {"ship-expected_version": order.version, "ship-carrier": "sf", "ship-tracking_number": "SF5550001111"},
        follow=True,
    )
    assert "may not take the action" in response.content.decode()
    assert not Shipment.objects.filter(order=order).exists()
    assert Order.objects.get(pk=order.pk).state == "packed"


@pytest.mark.django_db
def test_missing_form_data_is_a_clear_error(login, make_order):
    order = make_order("packed")
    client = login("wh1")
    response = client.post(
        transition_url(order, "ship"), {"ship-expected_version": order.version, "ship-carrier": "sf"}, follow=True
    )
    assert "Tracking number: This field is required." in response.content.decode()
    assert Order.objects.get(pk=order.pk).state == "packed"


@pytest.mark.django_db
def test_transition_url_refuses_get(login, make_order):
    order = make_order("paid")
    assert login("cs1").get(transition_url(order, "approve")).status_code == 405


@pytest.mark.django_db
def test_user_without_view_permission_cannot_open_orders(client, make_order, django_user_model):
    order = make_order("paid")
    client.force_login(django_user_model.objects.create_user("guest", password="x", is_staff=True))
    assert client.get(change_url(order)).status_code == 403
    assert client.post(transition_url(order, "approve"), {"approve-expected_version": 1}).status_code == 403


@pytest.mark.django_db
def test_events_cannot_be_edited_or_deleted_even_by_a_superuser(login, make_order):
    order = make_order("paid")
    event = OrderEvent.objects.filter(order=order).first()
    client = login("admin")
    change = reverse("admin:orders_orderevent_change", args=[event.pk])
    page = client.get(change).content.decode()
    assert 'name="_save"' not in page
    client.post(change, {"note": "rewritten"})
    assert client.post(reverse("admin:orders_orderevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:orders_orderevent_add")).status_code == 403
    event.refresh_from_db()
    assert event.note == ""
    assert client.post(reverse("admin:orders_order_delete", args=[order.pk]), {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_details_form_checks_the_version(login, make_order, users):
    order = make_order("paid", cs_owner="cs1")
    client = login("cs2")
    url = reverse("admin:orders_order_details", args=[order.pk])
    form = {
        "details-expected_version": order.version,
        "details-cs_owner": users["cs2"].pk,
        "details-priority": 1,
        "details-buyer_email": "new@example.com",
        "details-buyer_phone": "13900000000",
    }
    client.post(url, form)
    order.refresh_from_db()
    assert (order.cs_owner, order.priority, order.version) == (users["cs2"], 1, form["details-expected_version"] + 1)
    event = OrderEvent.objects.filter(order=order).last()
    assert event.action == "details_updated"
    assert event.data["changes"]["cs_owner"] == ["张明", "李娜"]
    # The same (now stale) form again: refused, nothing changes.
    form["details-priority"] = 0
    response = client.post(url, form, follow=True)
    assert "was changed by" in response.content.decode()
    order.refresh_from_db()
    assert order.priority == 1


@pytest.mark.django_db
def test_history_records_the_user(login, make_order, users):
    from orders.services.transition import order_transition

    order = make_order("paid")
    order_transition(order.pk, "approve", actor=users["cs1"])
    latest = order.history.first()
    assert latest.history_user == users["cs1"]
    assert latest.state == "reviewed"
    response = login("admin").get(reverse("admin:orders_order_history", args=[order.pk]))
    assert response.status_code == 200


@pytest.mark.django_db
def test_order_list_and_search(login, make_order):
    order = make_order("shipped")
    tracking = order.shipments.get().tracking_number
    client = login("cs1")
    response = client.get(reverse("admin:orders_order_changelist"), {"q": tracking})
    assert order.number in response.content.decode()
