"""Brands and shops in the admin (write-only secrets, checked mappings, who may manage them) and
the brand filters of the boards and the KPI dashboard."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import Brand, Order, Shop
from orders.states import Channel

from .conftest import shown

pytestmark = pytest.mark.django_db


def shop_form(shop: Shop, **changes) -> dict:
    data = {
        "brand": shop.brand_id,
        "channel": shop.channel,
        "code": shop.code,
        "name": shop.name,
        "external_shop_id": shop.external_shop_id,
        "webhook_secret": "",
        "import_mapping": "{}",
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_the_webhook_secret_is_write_only(client, users, world):
    shop = world.shops["alpha"]
    Shop.objects.filter(pk=shop.pk).update(webhook_secret="shpss_stored_secret")
    client.force_login(users["ops1"])
    url = reverse("admin:orders_shop_change", args=[shop.pk])
    assert "shpss_stored_secret" not in client.get(url).content.decode()
    # Left empty, the stored secret stays; a new one replaces it.
    assert client.post(url, shop_form(shop)).status_code == 302
    assert Shop.objects.get(pk=shop.pk).webhook_secret == "shpss_stored_secret"
    assert client.post(url, shop_form(shop, webhook_secret="shpss_new")).status_code == 302
    assert Shop.objects.get(pk=shop.pk).webhook_secret == "shpss_new"
    # The tech lead reads shops, never the secret.
    client.force_login(users["tech1"])
    page = client.get(url)
    assert page.status_code == 200 and "shpss_new" not in page.content.decode()


@pytest.mark.parametrize(
    ("mapping", "error"),
    [
        ('["external_id"]', "must be a JSON object"),
        ('{"no_such_column": "x"}', "is not an import column of this channel"),
        ('{"external_id": ""}', "must be the column"),
    ],
)
def test_a_bad_import_mapping_is_refused(client, users, world, mapping, error):
    shop = world.shops["alpha"]
    client.force_login(users["ops1"])
    response = client.post(reverse("admin:orders_shop_change", args=[shop.pk]), shop_form(shop, import_mapping=mapping))
    assert response.status_code == 200 and error in response.content.decode()
    assert Shop.objects.get(pk=shop.pk).import_mapping == {}


def test_a_good_import_mapping_is_saved(client, users, world):
    shop = world.shops["alpha"]
    client.force_login(users["ops1"])
    response = client.post(
        reverse("admin:orders_shop_change", args=[shop.pk]),
        shop_form(shop, import_mapping='{"external_id": " Order No. ", "amount": "Paid"}'),
    )
    assert response.status_code == 302
    assert Shop.objects.get(pk=shop.pk).import_mapping == {"external_id": "Order No.", "amount": "Paid"}


def test_operations_add_a_brand_with_customer_service_staff_only(client, users, world):
    client.force_login(users["ops1"])
    page = client.get(reverse("admin:orders_brand_add")).content.decode()
    assert "cs1" in page and ">wh1<" not in page
    response = client.post(
        reverse("admin:orders_brand_add"),
        {
            "code": "gamma",
            "name": "Gamma",
            "is_active": "on",
            "staff": [users["cs3"].pk],
            "shops-TOTAL_FORMS": "0",
            "shops-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(Brand.objects.get(code="gamma").staff.all()) == [users["cs3"]]
    refused = client.post(
        reverse("admin:orders_brand_add"),
        {
            "code": "delta",
            "name": "Delta",
            "staff": [users["wh1"].pk],
            "shops-TOTAL_FORMS": "0",
            "shops-INITIAL_FORMS": "0",
        },
    )
    assert refused.status_code == 200 and not Brand.objects.filter(code="delta").exists()


@pytest.mark.parametrize(
    ("username", "status"), [("cs1", 403), ("wh1", 403), ("fin1", 403), ("ops1", 200), ("admin", 200)]
)
def test_who_manages_brands_and_shops(client, users, world, username, status):
    client.force_login(users[username])
    assert client.get(reverse("admin:orders_brand_add")).status_code == status
    assert client.get(reverse("admin:orders_shop_add")).status_code == status


def test_the_tech_lead_reads_brands_but_does_not_change_them(client, users, world):
    client.force_login(users["tech1"])
    assert client.get(reverse("admin:orders_brand_changelist")).status_code == 200
    assert client.get(reverse("admin:orders_brand_add")).status_code == 403


# -- brand filters -------------------------------------------------------------------------------


def test_the_board_brand_filter_offers_a_customer_service_person_only_their_brands(client, users, world):
    client.force_login(users["cs1"])
    choices = client.get("/boards/cs/").context["filter"].form.fields["brand"].queryset
    assert [b.code for b in choices] == ["alpha"]
    # Another brand in the URL is not a valid choice: nothing is listed, nothing leaks.
    page = client.get("/boards/cs/", {"brand": "beta", "owner": "all"}).content.decode()
    assert not shown(page, world.all_numbers())
    client.force_login(users["ops1"])
    choices = client.get("/boards/ops/").context["filter"].form.fields["brand"].queryset
    assert {b.code for b in choices} >= {"alpha", "beta", "default"}


@pytest.mark.parametrize(
    ("url", "board"), [("/boards/cs/", "cs"), ("/boards/warehouse/", "warehouse"), ("/boards/ops/", "ops")]
)
def test_the_board_pages_filter_by_brand(client, users, world, url, board):
    client.force_login(users["ops1"])
    everything = shown(client.get(url, {"owner": "all"}).content.decode(), world.all_numbers())
    assert world.of({"alpha", "beta"}, board) <= everything
    for code in ("alpha", "beta"):
        page = client.get(url, {"brand": code, "owner": "all"}).content.decode()
        listed = shown(page, world.all_numbers())
        assert listed == everything & world.of({code}), (board, code)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/orders/customerserviceboard/",
        "/admin/orders/warehouseboard/",
        "/admin/orders/operationsboard/",
        "/admin/orders/order/",
    ],
)
def test_the_admin_lists_filter_by_brand(client, users, world, url):
    client.force_login(users["ops1"])
    everything = shown(client.get(url).content.decode(), world.all_numbers())
    for code in ("alpha", "beta"):
        listed = shown(client.get(url, {"brand": code}).content.decode(), world.all_numbers())
        assert listed and listed == everything & world.of({code})
    client.force_login(users["cs1"])
    page = client.get(url, {"brand": "beta"})
    assert page.status_code in (200, 302, 403)
    if page.status_code == 200:
        assert not shown(page.content.decode(), world.of({"beta"}))


def test_the_kpi_dashboard_filters_by_brand(client, users, world):
    client.force_login(users["ops1"])
    page = client.get(reverse("kpis:dashboard"), {"brand": "alpha"})
    assert page.status_code == 200 and page.context["brand"] == world.alpha
    assert 'id="kpi-brand"' in page.content.decode()
    whole = client.get(reverse("kpis:dashboard"), {"brand": "nope"})
    assert whole.status_code == 200 and whole.context["brand"] is None
    assert "There is no brand" in whole.content.decode()


def test_a_brands_kpis_count_its_orders_only(users, world):
    from django.utils import timezone

    from kpis.models import InterventionKind, ManualIntervention
    from kpis.selectors import kpi_daily_history_for_brand, kpi_summary

    for code in ("alpha", "alpha", "beta"):
        order = world.orders[(code, "cs")]
        ManualIntervention.objects.create(
            kind=InterventionKind.FORCED_STATUS,
            order=order,
            event=order.events.exclude(pk__in=ManualIntervention.objects.values("event_id")).first(),
            occurred_at=timezone.now(),
        )
    assert kpi_summary(7, brand=world.alpha)["interventions"]["total"] == 2
    assert kpi_summary(7, brand=world.beta)["interventions"]["total"] == 1
    assert kpi_summary(7)["interventions"]["total"] == 3
    history = kpi_daily_history_for_brand(brand=world.alpha, days=30)
    assert len(history) == 30 and history[-1][1].interventions == 2


def test_a_shop_belongs_to_one_channel(world):
    from orders.exceptions import InvalidActionData
    from orders.services.orders import order_create

    with pytest.raises(InvalidActionData):
        order_create(actor=None, channel=Channel.TAOBAO, amount="1.00", shop=world.shops["alpha"])


def test_cards_and_the_timeline_name_the_brand(client, users, world):
    from .test_visibility import card_brand

    client.force_login(users["ops1"])
    page = client.get("/boards/cs/", {"owner": "all"}).content.decode()
    for code, name in (("alpha", "Alpha"), ("beta", "Beta")):
        assert card_brand(page, world.orders[(code, "cs")].number) == name
    timeline = client.get(reverse("orders:timeline", args=[world.orders[("alpha", "cs")].number])).content.decode()
    assert "Alpha · Alpha Shopify" in timeline


def test_assigning_an_owner_who_does_not_work_the_brand_is_refused(client, users, world):
    from django.contrib.messages import get_messages

    alpha, beta = world.orders[("alpha", "cs")], world.orders[("beta", "cs")]
    before = {o.pk: Order.objects.get(pk=o.pk).version for o in (alpha, beta)}
    client.force_login(users["ops1"])
    response = client.post(
        "/admin/orders/customerserviceboard/",
        {
            "action": "assign_owner",
            "index": 0,
            "select_across": 0,
            "_selected_action": [alpha.pk, beta.pk],
            "owner": users["cs2"].pk,
        },
    )
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(f"{alpha.number}: 李娜 does not work this order's brand." in m for m in notes), notes
    assert not any(beta.number in m for m in notes), notes  # cs2 works Beta: not refused
    assert Order.objects.get(pk=alpha.pk).version == before[alpha.pk]
    assert Order.objects.get(pk=alpha.pk).cs_owner == users["cs1"]


def test_the_order_page_refuses_an_owner_from_another_brand(client, users, world):
    order = world.orders[("alpha", "cs")]
    before = Order.objects.get(pk=order.pk)
    client.force_login(users["ops1"])
    form = {
        "details-expected_version": before.version,
        "details-cs_owner": users["cs2"].pk,
        "details-priority": before.priority,
        "details-buyer_email": before.buyer_email,
        "details-buyer_phone": before.buyer_phone,
    }
    response = client.post(reverse("admin:orders_order_details", args=[order.pk]), form, follow=True)
    assert "李娜 does not work this order&#x27;s brand." in response.content.decode()
    after = Order.objects.get(pk=order.pk)
    assert (after.cs_owner, after.version) == (users["cs1"], before.version)


def test_a_shop_with_orders_keeps_its_channel_and_a_channel_has_one_default(client, users, world):
    shop = world.shops["alpha"]
    client.force_login(users["ops1"])
    url = reverse("admin:orders_shop_change", args=[shop.pk])
    response = client.post(url, shop_form(shop, channel=Channel.AMAZON))
    assert response.status_code == 200 and "its channel cannot change" in response.content.decode()
    response = client.post(url, shop_form(shop, is_channel_default="on"))
    assert response.status_code == 200, "a second default shop of the channel is refused"
    shop.refresh_from_db()
    assert (shop.channel, shop.is_channel_default) == (Channel.SHOPIFY, False)


def test_the_alert_board_filters_by_brand(client, users, world):
    from alerts.alerting import alert_raise
    from alerts.models import AlertKind

    for order in world.orders.values():
        alert_raise(kind=AlertKind.DUPLICATE_REFUND, order_id=order.pk, title="asked twice")
    client.force_login(users["ops1"])
    page = client.get("/boards/alerts/", {"brand": "beta"}).content.decode()
    assert shown(page, world.all_numbers()) == world.of({"beta"})
    client.force_login(users["cs1"])
    response = client.get("/boards/alerts/")
    assert [b.code for b in response.context["filter"].form.fields["brand"].queryset] == ["alpha"]
    assert not shown(client.get("/boards/alerts/", {"brand": "beta"}).content.decode(), world.all_numbers())
