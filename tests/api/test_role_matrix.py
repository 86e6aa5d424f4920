"""Every role × endpoint against the declared matrix: an API client of a role may do exactly
what people of that role may (orders/roles.py and the transition table), read and write."""

from __future__ import annotations

import pytest

from orders.models import Order
from orders.roles import role_permissions
from orders.states import HUMAN_ROLES, TRANSITIONS

pytestmark = pytest.mark.django_db

ROLES = [role.value for role in HUMAN_ROLES]

# Each read endpoint and the permission it needs.
READS = {
    "/api/v1/me": None,
    "/api/v1/orders": "orders.view_order",
    "/api/v1/exceptions": "orders.view_exceptionboard",
    "/api/v1/alerts": "alerts.view_alert",
    "/api/v1/returns": "aftersales.view_returnrequest",
}


@pytest.mark.parametrize("role", ROLES)
def test_reads_follow_the_matrix(callers, make_order, brands, role):
    order = make_order("paid", shop=brands["alpha"])
    caller = callers[role]
    for path, permission in READS.items():
        allowed = permission is None or permission in role_permissions(role)
        response = caller.get(path)
        assert response.status_code == (200 if allowed else 403), (role, path, response.content)
        if not allowed:
            assert response.json()["error"]["code"] == "forbidden"
    detail = caller.get(f"/api/v1/orders/{order.number}")
    assert detail.status_code == (200 if "orders.view_order" in role_permissions(role) else 403)


@pytest.mark.parametrize("role", ROLES)
def test_every_action_follows_the_matrix(callers, make_order, brands, role):
    """On an archived order (no action leads anywhere from there) every action is refused: 403
    for a role the table does not name, else the move's own refusal (409, or 422 for missing
    data). Nothing changes either way."""
    order = make_order("archived", shop=brands["alpha"])
    caller = callers[role]
    for transition in TRANSITIONS:
        response = caller.post(
            f"/api/v1/orders/{order.number}/actions/{transition.action}",
            {"expected_version": order.version, "note": "matrix"},
        )
        if role in transition.roles:
            assert response.status_code in (409, 422), (role, transition.action, response.content)
        else:
            assert response.status_code == 403, (role, transition.action, response.content)
    assert Order.objects.get(pk=order.pk).version == order.version


# One real move per role that takes actions: (from state, action, body beyond the version).
MOVES = {
    "customer_service": ("paid", "approve", {}),
    "warehouse": ("reviewed", "allocate", {"warehouse": "hz-own"}),
    "finance": ("submitted", "pay", {}),
    "operations": ("risk_hold", "release", {}),
}


@pytest.mark.parametrize("role", ROLES)
def test_a_permitted_action_moves_the_order(callers, make_order, brands, warehouses, role):
    if role not in MOVES:
        # The tech lead watches integrations: the table gives it no action on orders.
        assert not [t.action for t in TRANSITIONS if role in t.roles]
        return
    state, action, body = MOVES[role]
    order = make_order(state, shop=brands["alpha"])
    response = callers[role].post(
        f"/api/v1/orders/{order.number}/actions/{action}", {"expected_version": order.version, **body}
    )
    assert response.status_code == 200, (role, action, response.content)
    transition = next(t for t in TRANSITIONS if t.action == action)
    assert Order.objects.get(pk=order.pk).state == transition.target
