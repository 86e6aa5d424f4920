"""Webhooks: CSRF-exempt only where the sender signs, bodies limited before they are read."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from integrations.models import InboundDelivery
from orders.models import Order, OrderEvent

WEBHOOKS = [
    reverse("webhooks:shopify_orders"),
    reverse("webhooks:wms_events"),
    reverse("webhooks:carrier_push", kwargs={"carrier": "zto"}),
]


def _views(resolver=None, prefix=""):
    """Every (route, view function) the URLconf serves."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_only_signed_webhooks_are_exempt_from_csrf():
    exempt = {route: view for route, view in _views() if getattr(view, "csrf_exempt", False)}
    # The open API (/api/v1/) authenticates by bearer token only, never by the session cookie.
    unsigned = [
        route
        for route, view in exempt.items()
        if not getattr(view, "signed_webhook", False) and not getattr(view, "bearer_token_only", False)
    ]
    assert unsigned == []
    assert all(
        route.startswith("api/v1/") for route, view in exempt.items() if getattr(view, "bearer_token_only", False)
    )
    # And the three webhooks are among them: the walk saw the real views.
    assert sum(1 for route in exempt if route.startswith("webhooks/")) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("url", WEBHOOKS)
@override_settings(WEBHOOK_MAX_BODY_BYTES=2048)
def test_a_body_over_the_limit_is_refused_before_it_is_read(url):
    orders, events, deliveries = Order.objects.count(), OrderEvent.objects.count(), InboundDelivery.objects.count()
    response = Client().post(url, data=b"{" + b" " * 4096 + b"}", content_type="application/json")
    assert response.status_code == 413
    assert "2048" in response.json()["error"]
    assert (Order.objects.count(), OrderEvent.objects.count(), InboundDelivery.objects.count()) == (
        orders,
        events,
        deliveries,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", WEBHOOKS)
def test_a_body_under_the_limit_still_needs_its_signature(url):
    response = Client().post(url, data=b"{}", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize("url", WEBHOOKS)
def test_webhooks_take_post_only(client, url):
    assert client.get(url).status_code == 405


@pytest.mark.django_db
def test_board_actions_keep_their_csrf_check(users):
    """A logged-in browser posting to a board action without the CSRF token is refused."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["cs1"])
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 403
