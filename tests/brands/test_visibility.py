"""Brand visibility per role on every read path: customer service sees its brands' orders only
(one assigned to no brand: the brands nobody works), everyone else sees every order; another
brand's order answers exactly as an order that does not exist."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from alerts.alerting import alert_raise
from alerts.models import AlertKind
from notifications.models import Notification
from orders.models import Attachment, Order, OutboxMessage
from orders.outbox.services import outbox_deliver
from orders.selectors import board_change_token, shop_ids_visible_to
from orders.services.attachments import order_attachment_add
from orders.services.transition import order_transition
from orders.states import Role

from .conftest import VIEWERS, shown

pytestmark = pytest.mark.django_db

ROLES = list(VIEWERS)
# The pages and who may open them at all (the others get 403, brands or not).
BOARDS = {
    "cs": ("/boards/cs/?owner=all", {"cs1", "cs2", "cs3", "ops1", "admin"}),
    "warehouse": ("/boards/warehouse/", {"wh1", "ops1", "admin"}),
    "ops": ("/boards/ops/", {"ops1", "admin"}),
    "admin cs board": ("/admin/orders/customerserviceboard/", {"cs1", "cs2", "cs3", "ops1", "admin"}),
    "admin warehouse board": ("/admin/orders/warehouseboard/", {"wh1", "ops1", "admin"}),
    "admin ops board": ("/admin/orders/operationsboard/", {"ops1", "admin"}),
    "admin orders": ("/admin/orders/order/", {u for u, _b in VIEWERS.values()}),
    "alert board": ("/boards/alerts/", {u for u, _b in VIEWERS.values()}),
    "admin alerts": ("/admin/alerts/alert/", {u for u, _b in VIEWERS.values()}),
}


def login(client, users, username):
    client.force_login(users[username])


def test_the_rule(world, users):
    alpha, beta = world.shops["alpha"].pk, world.shops["beta"].pk
    assert shop_ids_visible_to(users["cs1"]) == {alpha}
    assert shop_ids_visible_to(get_user_model().objects.get(username="cs2")) == {beta}
    # Assigned to no brand: every shop of a brand nobody works (the channel defaults here).
    unstaffed = shop_ids_visible_to(users["cs3"])
    assert world.shops["default"].pk in unstaffed and not {alpha, beta} & unstaffed
    for username in ("wh1", "fin1", "ops1", "tech1", "admin"):
        assert shop_ids_visible_to(users[username]) is None
    assert shop_ids_visible_to(None) is None  # the system


def test_a_brand_staffed_later_disappears_from_the_unassigned(world, users):
    default_brand = world.shops["default"].brand
    default_brand.staff.add(users["cs1"])
    cs3 = get_user_model().objects.get(username="cs3")
    assert world.shops["default"].pk not in shop_ids_visible_to(cs3)


@pytest.mark.parametrize("page", list(BOARDS))
@pytest.mark.parametrize("role", ROLES)
def test_boards_and_lists(client, users, world, role, page):
    url, allowed = BOARDS[page]
    if "alert" in page:
        for order in world.orders.values():
            alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=order.pk, title="asked twice")
    username, brands = VIEWERS[role]
    # What the page lists for someone who sees everything: the candidates.
    login(client, users, "admin")
    everything = shown(client.get(url).content.decode(), world.all_numbers())
    assert {world_brand(world, n) for n in everything} == {"alpha", "beta", "default"}, page
    client.logout()
    login(client, users, username)
    response = client.get(url)
    if username not in allowed:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert shown(response.content.decode(), world.all_numbers()) == world.visible(everything, brands)


def world_brand(world, number: str) -> str:
    return next(code for (code, _board), order in world.orders.items() if order.number == number)


@pytest.mark.parametrize("role", ROLES)
def test_search_finds_only_visible_orders(client, users, world, role):
    username, brands = VIEWERS[role]
    login(client, users, username)
    for (code, board), order in world.orders.items():
        if board != "cs":
            continue
        # The term is echoed in the search box: look for the result row, the board card.
        html = client.get("/admin/orders/order/", {"q": order.number}).content.decode()
        assert (f"/admin/orders/order/{order.pk}/change/" in html) == (code in brands), (role, code)
        if username in BOARDS["cs"][1]:
            html = client.get("/boards/cs/", {"q": order.number, "owner": "all"}).content.decode()
            assert (f'id="order-{order.number}"' in html) == (code in brands), (role, code)


@pytest.mark.parametrize("role", ROLES)
def test_the_timeline_and_the_order_admin_page(client, users, world, role):
    username, brands = VIEWERS[role]
    login(client, users, username)
    unknown = client.get(reverse("orders:timeline", args=["OH20990101-99999"]))
    assert unknown.status_code == 404
    for (code, _board), order in world.orders.items():
        response = client.get(reverse("orders:timeline", args=[order.number]))
        admin_page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
        history = client.get(reverse("admin:orders_order_history", args=[order.pk]))
        if code in brands:
            assert response.status_code == 200 and order.number in response.content.decode()
            assert admin_page.status_code == 200 and history.status_code == 200
        else:
            # Exactly what an unknown number gets: existence is not told.
            assert response.status_code == 404
            assert response.content.replace(order.number.encode(), b"N") == unknown.content.replace(
                b"OH20990101-99999", b"N"
            )
            assert admin_page.status_code == 302  # the admin's "does not exist" redirect
            assert order.number not in client.get(admin_page.url).content.decode()
            assert history.status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_attachments(client, users, world, role):
    username, brands = VIEWERS[role]
    files = {}
    for (code, board), order in world.orders.items():
        if board == "cs":
            order_attachment_add(
                order_id=order.pk,
                actor=users["ops1"],
                note="photo",
                files=[SimpleUploadedFile("box.pdf", b"%PDF-1.4 test", content_type="application/pdf")],
            )
            files[code] = (order, Attachment.objects.filter(event__order=order).get())
    login(client, users, username)
    for code, (order, attachment) in files.items():
        response = client.get(reverse("orders:attachment_download", args=[order.number, attachment.pk]))
        assert response.status_code == (200 if code in brands else 404), code
        listing = client.get("/admin/orders/attachment/").content.decode()
        assert (f"/admin/orders/attachment/{attachment.pk}/" in listing) == (code in brands)
        events = client.get("/admin/orders/orderevent/", {"q": order.number}).content.decode()
        assert ("/admin/orders/orderevent/" in events and f">{order.number}<" in events) == (code in brands)


@pytest.mark.parametrize("role", ["cs of alpha", "cs of beta", "cs of no brand", "operations"])
def test_a_board_tap_on_an_order_one_may_not_see_is_not_found(client, users, world, role):
    username, brands = VIEWERS[role]
    login(client, users, username)
    for (code, board), order in world.orders.items():
        if board != "cs":
            continue
        response = client.post(
            reverse("orders:board_transition", args=[order.number, "take"]),
            {"expected_version": order.version, "next": "/boards/cs/"},
        )
        assert response.status_code == (302 if code in brands else 404)


def test_the_live_token_moves_only_for_visible_orders(client, users, world):
    cs1 = users["cs1"]
    before = board_change_token(user=cs1)
    everyone = board_change_token(user=users["ops1"])
    order_transition(world.orders[("beta", "cs")].pk, "approve", actor=users["cs2"])
    assert board_change_token(user=get_user_model().objects.get(pk=cs1.pk)) == before
    assert board_change_token(user=users["ops1"]) != everyone
    login(client, users, "cs1")
    assert client.get("/boards/cs/rows/", {"since": before}).status_code == 204
    order_transition(world.orders[("alpha", "cs")].pk, "approve", actor=users["cs1"])
    assert client.get("/boards/cs/rows/", {"since": before}).status_code == 200


def test_the_alert_board_token_ignores_other_brands(client, users, world):
    from alerts.selectors import alert_board_change_token

    before = alert_board_change_token(user=users["cs1"])
    alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=world.orders[("beta", "cs")].pk, title="beta")
    assert alert_board_change_token(user=get_user_model().objects.get(username="cs1")) == before
    alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=world.orders[("alpha", "cs")].pk, title="alpha")
    assert alert_board_change_token(user=get_user_model().objects.get(username="cs1")) != before


def test_notifications_reach_only_people_who_see_the_order(users, world):
    """A rule naming every customer-service person and the owner: for each brand's order, only
    its own customer service is told (the unassigned one for the default brand)."""
    from tests.factories import reaction_rule

    rule = reaction_rule(
        name="tell customer service", trigger="approve", role=Role.CUSTOMER_SERVICE, cs_owner=True, users=[users["cs2"]]
    )
    told = {}
    for code in ("alpha", "beta", "default"):
        order = world.orders[(code, "cs")]
        event = order_transition(order.pk, "approve", actor=users["ops1"])
        for message in OutboxMessage.objects.filter(event=event, kind="notify"):
            outbox_deliver(message.pk)
        told[code] = set(
            Notification.objects.filter(event=event, outbox_message__rule_id=rule.pk).values_list(
                "recipient__username", flat=True
            )
        )
    assert told == {"alpha": {"cs1"}, "beta": {"cs2"}, "default": {"cs3"}}


def test_the_inbox_link_of_a_visible_order_opens_it(client, users, world):
    """A notification is only made for people who see the order, so opening one works."""
    order = world.orders[("alpha", "cs")]
    event = order_transition(order.pk, "approve", actor=users["ops1"])
    for message in OutboxMessage.objects.filter(event=event, kind="notify"):
        outbox_deliver(message.pk)
    login(client, users, "cs1")
    for notification in Notification.objects.filter(recipient=users["cs1"], order=order):
        response = client.post(reverse("notifications:open", args=[notification.pk]))
        assert client.get(response.url).status_code == 200


def test_warehouse_stage_counts_in_the_admin_board_follow_the_viewer(client, users, world):
    login(client, users, "admin")
    counts = client.get("/admin/orders/warehouseboard/").context["stage_counts"]
    assert sum(group["count"] for group in counts) == 3


def test_kpi_report_brand(world, users):
    out = io.StringIO()
    call_command("kpi_report", "--brand", "alpha", "--json", stdout=out)
    assert '"brand": "alpha"' in out.getvalue()
    with pytest.raises(Exception, match="no brand"):
        call_command("kpi_report", "--brand", "nope", stdout=io.StringIO())


def test_orders_keep_their_shop(world):
    for (code, _board), order in world.orders.items():
        assert Order.objects.get(pk=order.pk).shop == world.shops[code]


def test_moved_to_another_brand_the_old_brands_notifications_leave_the_bell(client, users, world):
    from notifications.selectors import notification_inbox, notification_unread_count

    order = world.orders[("alpha", "cs")]
    event = order_transition(order.pk, "approve", actor=users["ops1"])
    for message in OutboxMessage.objects.filter(event=event, kind="notify"):
        outbox_deliver(message.pk)
    cs1 = get_user_model().objects.get(username="cs1")
    assert notification_unread_count(user=cs1) == 1 and len(notification_inbox(user=cs1)) == 1
    world.alpha.staff.remove(cs1)
    world.beta.staff.add(cs1)
    cs1 = get_user_model().objects.get(username="cs1")
    assert notification_unread_count(user=cs1) == 0 and len(notification_inbox(user=cs1)) == 0
    login(client, users, "cs1")
    assert order.number not in client.get(reverse("notifications:inbox")).content.decode()


def card_brand(html: str, number: str) -> str:
    """The brand named on the board card of order `number`."""
    import re

    start = html.index(f'id="order-{number}"')
    card = html[start : html.index("</article>", start)]
    return re.search(r'<span class="oh-brand"[^>]*>([^<]*)</span>', card).group(1)


def test_assigned_to_a_brand_without_shops_sees_nothing_else(world, users):
    from orders.models import Brand

    cs3 = get_user_model().objects.get(username="cs3")
    Brand.objects.create(code="gamma", name="Gamma").staff.add(cs3)
    cs3 = get_user_model().objects.get(username="cs3")
    assert shop_ids_visible_to(cs3) == frozenset()
    from orders.selectors import user_list_seeing_order

    assert user_list_seeing_order(users=[cs3], order=world.orders[("default", "cs")]) == []


@pytest.mark.parametrize("role", ["cs of alpha", "finance", "operations"])
def test_the_to_invoice_list_and_its_exports(client, users, world, role):
    """Finance and operations see every brand's rows; customer service, if ever given the list,
    only its brands'."""
    from decimal import Decimal

    from django.contrib.auth.models import Permission

    from finance.models import InvoiceRequest

    for code in ("alpha", "beta", "default"):
        InvoiceRequest.objects.create(order=world.orders[(code, "cs")], amount=Decimal("1.00"), currency="CNY")
    username, brands = VIEWERS[role]
    user = users[username]
    if username == "cs1":
        user.user_permissions.add(Permission.objects.get(codename="view_invoicerequest"))
    login(client, users, username)
    expected = world.of(brands, "cs")
    export = b"".join(client.get(reverse("finance:invoice_export_csv")).streaming_content).decode()
    assert shown(export, world.all_numbers()) == expected
    listing = client.get("/admin/finance/invoicerequest/").content.decode()
    assert shown(listing, world.all_numbers()) == expected
