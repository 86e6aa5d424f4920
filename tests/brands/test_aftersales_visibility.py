"""After-sales follows the brands too: returns and refunds of another brand's orders are as
unknown to customer service as the orders themselves."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aftersales.services.returns import return_request_create

from .conftest import VIEWERS

pytestmark = pytest.mark.django_db

CS_ROLES = ["cs of alpha", "cs of beta", "cs of no brand"]


@pytest.fixture
def returns(world, make_order):
    """A requested return on a delivered order of each brand."""
    cases = {}
    for code, shop in world.shops.items():
        order = make_order("delivered", shop=shop, cs_owner={"alpha": "cs1", "beta": "cs2", "default": "cs3"}[code])
        cases[code] = return_request_create(order_id=order.pk, actor=None, reason="破损 / damaged")
    return cases


@pytest.mark.parametrize("role", [*CS_ROLES, "operations"])
def test_the_return_list_and_review_page(client, users, returns, role):
    username, brands = VIEWERS[role]
    client.force_login(users[username])
    html = client.get(reverse("admin:aftersales_returnrequest_changelist")).content.decode()
    for code, case in returns.items():
        review = client.get(reverse("admin:aftersales_returnrequest_review", args=[case.pk]))
        visible = code in brands
        assert (case.order.number in html) == visible, (role, code)
        assert review.status_code == (200 if visible else 404), (role, code)


@pytest.mark.parametrize("role", CS_ROLES)
def test_a_return_cannot_be_requested_for_another_brands_order(client, users, world, make_order, role):
    username, brands = VIEWERS[role]
    client.force_login(users[username])
    for code, shop in world.shops.items():
        order = make_order("delivered", shop=shop, cs_owner="cs1")
        url = reverse("admin:aftersales_returnrequest_add")
        page = client.get(url, {"order": order.number})
        response = client.post(
            url,
            {"order": order.number, "reason": "damaged", "expected_version": order.version, "items": ""},
        )
        if code in brands:
            continue  # requesting is covered by the after-sales tests; here only the refusal
        assert response.status_code == 200
        assert "There is no order" in response.content.decode()
        assert order.returns.count() == 0
        assert page.context["order"] is None  # the GET page does not show it either


@pytest.mark.parametrize("role", ["cs of alpha", "finance"])
def test_the_refund_list(client, users, returns, role):
    from decimal import Decimal

    from aftersales.models import Refund

    for case in returns.values():
        Refund.objects.create(
            order=case.order,
            return_request=case,
            amount=Decimal("1.00"),
            currency="CNY",
            reason="r",
            idempotency_key=f"key-{case.pk}",
        )
    username, brands = VIEWERS[role]
    client.force_login(users[username])
    html = client.get(reverse("admin:aftersales_refund_changelist")).content.decode()
    for code, case in returns.items():
        assert (case.order.number in html) == (code in brands), (role, code)
