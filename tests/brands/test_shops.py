"""Webhooks and imports per shop: the Shopify shop domain picks the shop and its own secret;
`import_orders --shop` applies the shop's renamed columns; bad shops are refused whole."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from integrations.models import WebhookSource
from orders.models import Order, OrderEvent, Shop
from orders.services.shops import shop_default_for_channel
from orders.states import Channel
from tests.factories import BrandFactory, ShopFactory
from tests.fakes.shopify import shopify_body, shopify_headers, shopify_order

pytestmark = pytest.mark.django_db

URL = "/webhooks/shopify/orders"
CHANNEL_SECRET = "shpss_channel_secret"
ALPHA_SECRET = "shpss_alpha_own_secret"


@pytest.fixture
def shops(settings, roles):
    settings.SHOPIFY_WEBHOOK_SECRET = CHANNEL_SECRET
    alpha = BrandFactory(code="alpha", name="Alpha")
    beta = BrandFactory(code="beta", name="Beta")
    return {
        # A shop with a secret of its own…
        "alpha": ShopFactory(
            brand=alpha, name="Alpha", external_shop_id="alpha.myshopify.com", webhook_secret=ALPHA_SECRET
        ),
        # …and one signed with the channel's (the app's) secret.
        "beta": ShopFactory(brand=beta, name="Beta", external_shop_id="beta.myshopify.com"),
        "beta-taobao": ShopFactory(
            brand=beta,
            channel=Channel.TAOBAO,
            name="Beta 天猫",
            import_mapping={"external_id": "店铺单号", "amount": "实收金额"},
        ),
    }


def deliver(client, *, domain: str | None, secret: str, order_id: int = 820982911946154508):
    body = shopify_body(shopify_order(id=order_id))
    headers = shopify_headers(body, secret)
    if domain is None:
        headers.pop("HTTP_X_SHOPIFY_SHOP_DOMAIN")
    else:
        headers["HTTP_X_SHOPIFY_SHOP_DOMAIN"] = domain
    return client.post(URL, data=body, content_type="application/json", **headers)


def test_a_shop_with_its_own_secret(client, shops):
    response = deliver(client, domain="Alpha.myshopify.com", secret=ALPHA_SECRET)
    assert response.status_code == 200, response.content
    assert Order.objects.get(number=response.json()["order"]).shop == shops["alpha"]


@pytest.mark.parametrize("secret", [CHANNEL_SECRET, "shpss_beta_guess"])
def test_a_shop_with_its_own_secret_accepts_no_other(client, shops, secret):
    # Not even the channel's: one brand's webhooks are signed with that brand's secret only.
    response = deliver(client, domain="alpha.myshopify.com", secret=secret)
    assert response.status_code == 401 and not Order.objects.exists()


def test_another_brands_secret_does_not_sign_for_a_shop(client, shops):
    # Alpha's secret, claiming to be Beta (which uses the channel's secret): refused.
    response = deliver(client, domain="beta.myshopify.com", secret=ALPHA_SECRET)
    assert response.status_code == 401 and not Order.objects.exists()


def test_a_shop_without_a_secret_uses_the_channels(client, shops):
    response = deliver(client, domain="beta.myshopify.com", secret=CHANNEL_SECRET)
    assert response.status_code == 200
    assert Order.objects.get().shop == shops["beta"]


def test_the_channels_secret_from_the_admin_works_for_such_a_shop(client, shops, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = ""
    WebhookSource.objects.create(kind="shopify", name="app", secret="shpss_from_admin", enabled=True)
    assert deliver(client, domain="beta.myshopify.com", secret="shpss_from_admin").status_code == 200
    assert Order.objects.get().shop == shops["beta"]


@pytest.mark.parametrize("domain", [None, "unknown.myshopify.com"])
def test_an_unknown_or_missing_domain_goes_to_the_default_shop(client, shops, domain):
    response = deliver(client, domain=domain, secret=CHANNEL_SECRET)
    assert response.status_code == 200
    assert Order.objects.get().shop == shop_default_for_channel(Channel.SHOPIFY)


def test_an_inactive_shop_is_not_picked(client, shops):
    Shop.objects.filter(pk=shops["alpha"].pk).update(is_active=False)
    assert deliver(client, domain="alpha.myshopify.com", secret=ALPHA_SECRET).status_code == 401
    response = deliver(client, domain="alpha.myshopify.com", secret=CHANNEL_SECRET)
    assert response.status_code == 200
    assert Order.objects.get().shop.is_channel_default


# -- imports -------------------------------------------------------------------------------------

MAPPED_CSV = """店铺单号,实收金额,订单创建时间,收货人姓名,联系手机,收货地址,订单状态
T-1,199.00,2026-01-28 14:05:00,刘芳,13912345678,浙江省 杭州市 余杭区 文一西路 1888 号,买家已付款
T-2,59.90,2026-01-28 15:00:00,陈晨,13900000000,上海市 上海市 浦东新区 张江路 88 弄,等待买家付款
"""


def write(path, text: str):
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_orders", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def state():
    return sorted(Order.objects.values_list("external_id", "shop_id", "state")), OrderEvent.objects.count()


def test_import_with_a_shops_mapping(tmp_path, shops):
    out, _err = run(write(tmp_path / "beta.csv", MAPPED_CSV), "--shop", "beta-taobao")
    assert "2 created" in out and "beta-taobao" in out
    orders = {o.external_id: o for o in Order.objects.all()}
    assert {o.shop for o in orders.values()} == {shops["beta-taobao"]}
    assert (orders["T-1"].channel, orders["T-1"].state, str(orders["T-1"].amount)) == ("taobao", "paid", "199.00")
    # Again: nothing changes.
    out, _err = run(tmp_path / "beta.csv", "--shop", "beta-taobao", "--channel", "taobao")
    assert "0 created, 0 updated, 2 unchanged" in out


def test_without_the_shop_the_renamed_columns_are_not_found(tmp_path, shops):
    with pytest.raises(CommandError, match="no column for"):
        run(write(tmp_path / "beta.csv", MAPPED_CSV), "--channel", "taobao")
    assert state() == ([], 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shop", "nope"], "there is no shop 'nope'"),
        (["--shop", "beta-taobao", "--channel", "amazon"], "sells on taobao, not on amazon"),
        ([], "give the file's --channel"),
    ],
)
def test_bad_shops_are_refused_and_nothing_is_imported(tmp_path, shops, args, message):
    with pytest.raises(CommandError, match=message):
        run(write(tmp_path / "beta.csv", MAPPED_CSV), *args)
    assert state() == ([], 0)


def test_an_inactive_shop_or_a_broken_mapping_is_refused(tmp_path, shops):
    path = write(tmp_path / "beta.csv", MAPPED_CSV)
    Shop.objects.filter(pk=shops["beta-taobao"].pk).update(is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        run(path, "--shop", "beta-taobao")
    Shop.objects.filter(pk=shops["beta-taobao"].pk).update(is_active=True, import_mapping={"no_such_column": "x"})
    with pytest.raises(CommandError, match="import mapping is wrong"):
        run(path, "--shop", "beta-taobao")
    assert state() == ([], 0)


def test_an_order_of_another_shop_is_a_problem_of_its_row(tmp_path, shops):
    run(
        write(tmp_path / "plain.csv", "订单编号,买家实付,订单创建时间\nT-1,10.00,2026-01-28 14:05:00\n"),
        "--channel",
        "taobao",
    )
    before = state()
    with pytest.raises(CommandError, match="Nothing was imported"):
        out = io.StringIO()
        err = io.StringIO()
        call_command(
            "import_orders",
            str(write(tmp_path / "beta.csv", MAPPED_CSV)),
            "--shop",
            "beta-taobao",
            stdout=out,
            stderr=err,
        )
    assert "of another shop than beta-taobao" in err.getvalue()
    assert state() == before


def test_a_shops_own_secret_opens_returns_on_its_own_orders_only(client, shops, make_order):
    from aftersales.models import ReturnRequest
    from tests.aftersales.test_returns_webhook import shopify_return

    beta_order = make_order("delivered", channel="shopify", external_id="820982911946154508", shop=shops["beta"])
    body = shopify_body(shopify_return())

    def post(domain, secret):
        headers = shopify_headers(body, secret, topic="returns/request")
        headers["HTTP_X_SHOPIFY_SHOP_DOMAIN"] = domain
        return client.post(URL, data=body, content_type="application/json", **headers)

    # Alpha's own secret, naming Alpha: Beta's order is not Alpha's to return.
    refused = post("alpha.myshopify.com", ALPHA_SECRET)
    assert refused.status_code != 500 and not ReturnRequest.objects.exists()
    # Beta signs with the channel's secret: its order's return opens.
    opened = post("beta.myshopify.com", CHANNEL_SECRET)
    assert opened.status_code == 200, opened.content
    assert ReturnRequest.objects.get().order_id == beta_order.pk
