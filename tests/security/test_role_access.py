"""Every role against every admin page, board page, order action and webhook: only what the
role matrix (orders/roles.py and the transition table) allows succeeds.

The expectation is read from the declared matrix (`role_permissions`), never from what the
user object happens to hold, so a view that forgets its check, or a group that drifts from
the matrix, fails here.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from orders.boards import BOARDS
from orders.models import Order
from orders.roles import role_permissions
from orders.states import TRANSITIONS, Role

pytestmark = pytest.mark.django_db

ROLE_USERS = {
    Role.CUSTOMER_SERVICE: "cs1",
    Role.WAREHOUSE: "wh1",
    Role.FINANCE: "fin1",
    Role.OPERATIONS: "ops1",
    Role.TECH_LEAD: "tech1",
}
ROLES = list(ROLE_USERS)


def _declared(role: str, permission: str) -> bool:
    return permission in role_permissions(role)


def _admin_models():
    return sorted(admin.site._registry, key=lambda m: m._meta.label)


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


@pytest.mark.parametrize("role", ROLES)
def test_admin_pages_follow_the_matrix(client, users, role):
    client.force_login(users[ROLE_USERS[role]])
    wrong = []
    for model in _admin_models():
        opts = model._meta
        label = f"{opts.app_label}.%s_{opts.model_name}"
        may_see = _declared(role, label % "view") or _declared(role, label % "change")
        url = _url(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        if url:
            # follow: a singleton's list (hub settings) redirects to its one page.
            status = client.get(url, follow=True).status_code
            if status != (200 if may_see else 403):
                wrong.append(f"GET {url} → {status}, matrix says {'see' if may_see else 'no'}")
        add_url = _url(f"admin:{opts.app_label}_{opts.model_name}_add")
        if add_url and not _declared(role, label % "add"):
            status = client.get(add_url).status_code
            if status != 403:
                wrong.append(f"GET {add_url} → {status}, matrix says no add")
    assert wrong == []


def test_the_superuser_opens_every_admin_list(client, users):
    client.force_login(users["admin"])
    for model in _admin_models():
        opts = model._meta
        url = _url(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        if url:
            assert client.get(url, follow=True).status_code == 200, url


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b.code)
def test_board_pages_follow_the_matrix(client, users, role, board):
    client.force_login(users[ROLE_USERS[role]])
    expected = 200 if _declared(role, board.permission) else 403
    assert client.get(reverse(board.url_name)).status_code == expected


def _post_data(transition, order, warehouses) -> dict:
    prefix = transition.action
    data = {f"{prefix}-expected_version": order.version, f"{prefix}-note": "access check"}
    if "warehouse" in transition.requires:
        data[f"{prefix}-warehouse"] = warehouses[0].pk
    if "carrier" in transition.requires:
        data[f"{prefix}-carrier"] = "sf"
    if "tracking_number" in transition.requires:
        data[f"{prefix}-tracking_number"] = f"SF{order.pk:010d}"
    return data


# One case per person-taken transition and role: the order is brought to the first source
# state, then the role posts the action to the order admin.
CASES = [
    pytest.param(t, role, id=f"{t.action}-{role}")
    for t in TRANSITIONS
    if not t.gift_only and set(t.roles) - {Role.SYSTEM}
    for role in ROLES
]


@pytest.mark.parametrize(("transition", "role"), CASES)
def test_order_actions_follow_the_matrix(client, users, warehouses, make_order, transition, role):
    from orders.admin import ACTIONS_ELSEWHERE

    order = make_order(transition.sources[0])
    before = (order.state, order.version, order.events.count())
    client.force_login(users[ROLE_USERS[role]])
    url = reverse("admin:orders_order_transition", args=[order.pk, transition.action])
    response = client.post(url, _post_data(transition, order, warehouses))
    order.refresh_from_db()
    after = (order.state, order.version, order.events.count())
    elsewhere = transition.action in ACTIONS_ELSEWHERE and ACTIONS_ELSEWHERE[transition.action](order)
    if role in transition.roles and not elsewhere:
        assert response.status_code == 302
        assert order.state == transition.target, f"{role} could not {transition.action}"
    else:
        assert response.status_code in (302, 403, 404)
        assert after == before, f"{role} took {transition.action}"


@pytest.mark.parametrize("role", ROLES)
def test_a_session_is_no_webhook_signature(client, users, role):
    client.force_login(users[ROLE_USERS[role]])
    for url in (
        reverse("webhooks:shopify_orders"),
        reverse("webhooks:wms_events"),
        reverse("webhooks:carrier_push", kwargs={"carrier": "sf"}),
    ):
        assert client.post(url, data=b"{}", content_type="application/json").status_code == 401
    assert Order.objects.count() == 0
