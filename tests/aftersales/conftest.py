"""Refund fixtures: our merchant key pair (made once per run, never a committed key), the local
Alipay gateway, an enabled gateway account pointing at it, and an order with an approved return."""

from __future__ import annotations

import pytest

from tests.fakes.alipay import FakeAlipay, rsa_key_pair


@pytest.fixture(scope="session")
def merchant_keys() -> tuple[str, str]:
    """(private PEM, public PEM) of our Alipay app, generated for this test run."""
    return rsa_key_pair()


@pytest.fixture
def alipay(merchant_keys):
    with FakeAlipay(merchant_public_key=merchant_keys[1]) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _short_payment_timeout(settings):
    # A lost or slow answer is given up on quickly (the outbox retries it).
    settings.ORDERHUB_PAYMENT_TIMEOUT = 0.5


@pytest.fixture
def gateway_account(db, alipay, merchant_keys):
    from integrations.models import PaymentGatewayAccount

    return PaymentGatewayAccount.objects.create(
        name="支付宝（测试）",
        gateway="alipay",
        endpoint=alipay.url,
        app_id=alipay.app_id,
        private_key=merchant_keys[0],
        gateway_public_key=alipay.public_key_pem,
    )


@pytest.fixture
def approved_return(make_order):
    """An order of 88.00 CNY in return_approved with its approved return (made directly: the
    return service is someone else's)."""
    from tests.factories import ReturnRequestFactory

    return ReturnRequestFactory(order=make_order("return_approved", amount="88.00"))
