"""Secrets are write-only: no admin page renders one back, and every secret-like field of an
admin-registered model goes through the write-only form, so a new one cannot slip in."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from integrations.models import PaymentGatewayAccount, ShopifyAdminAccount, WebhookSource
from notifications.models import ChatRobot
from orders.forms import WriteOnlySecretsForm
from tests.factories import CarrierAccountFactory, ShopFactory

SECRET_NAME = re.compile(r"secret|private_key|webhook_url|password|token|app_key_secret")
# Fields that look secret by name but are not: public keys are public.
NOT_SECRET = {
    ("integrations", "paymentgatewayaccount", "gateway_public_key"),
    # An API token's prefix is its public part (it finds the row; the admin shows it), and the
    # stored SHA-256 is in no admin form or page (tests/api/test_admin.py): the token itself
    # is shown once, at creation, and never stored.
    ("api", "apiclient", "token_prefix"),
    ("api", "apiclient", "token_hash"),
}


def test_every_secret_like_field_is_write_only_in_the_admin():
    loose = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if opts.app_label == "auth":
            continue  # Django's own password field is hashed and never shown
        for field in opts.concrete_fields:
            if not SECRET_NAME.search(field.name) or (opts.app_label, opts.model_name, field.name) in NOT_SECRET:
                continue
            form = model_admin.form
            if not (issubclass(form, WriteOnlySecretsForm) and field.name in form.secret_fields):
                loose.append(f"{opts.label}.{field.name}")
    assert loose == []


def _secret_rows():
    """One object per model holding secrets, each secret a value no page may contain."""
    robot = ChatRobot.objects.create(
        name="ops group",
        kind="wecom",
        webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ROBOTKEY-5a7c1e",
        secret="ROBOTSECRET-9f2d",
    )
    carrier = CarrierAccountFactory(
        name="SF main", carrier="sf", endpoint="https://sfapi.example/std", app_key="P1", app_secret="CHECKWORD-77ab"
    )
    gateway = PaymentGatewayAccount.objects.create(
        name="Alipay",
        gateway="alipay",
        endpoint="https://openapi.alipay.com/gateway.do",
        app_id="2021",
        private_key="PRIVATEKEY-c0ffee",
        gateway_public_key="public",
    )
    source = WebhookSource.objects.create(kind="wms", name="WMS", secret="WMSSECRET-1234")
    shop = ShopFactory(brand__code="b1", brand__name="Brand one", name="B1 Shopify", webhook_secret="SHOPSECRET-4321")
    shopify = ShopifyAdminAccount.objects.create(shop=shop, access_token="shpat_ADMINTOKEN-8e1f")
    return [
        (robot, ["ROBOTKEY-5a7c1e", "ROBOTSECRET-9f2d"]),
        (carrier, ["CHECKWORD-77ab"]),
        (gateway, ["PRIVATEKEY-c0ffee"]),
        (source, ["WMSSECRET-1234"]),
        (shop, ["SHOPSECRET-4321"]),
        (shopify, ["shpat_ADMINTOKEN-8e1f"]),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["admin", "ops1", "tech1"])
def test_no_admin_page_renders_a_secret_back(client, users, username):
    client.force_login(users[username])
    for obj, secrets in _secret_rows():
        opts = obj._meta
        pages = [
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
            reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk]),
        ]
        for url in pages:
            response = client.get(url)
            html = response.content.decode()
            for secret in secrets:
                assert secret not in html, f"{url} shows {secret} to {username}"
