"""The tech lead's admin pages of the open API: the token is shown once, at creation; a
subscription's secret is never rendered back; a delivery can be replayed."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from api.models import ApiClient, WebhookDelivery, WebhookSubscription
from orders.outbox.models import OutboxMessage
from orders.services.transition import order_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def tech(users):
    client = Client()
    client.force_login(users["tech1"])
    return client


def test_creating_a_client_shows_its_token_once(tech, brands):
    response = tech.post(
        "/admin/api/apiclient/add/",
        {"name": "ERP", "role": "finance", "brands": [], "rate_limit_per_minute": 120},
    )
    assert response.status_code == 200, response.content[:500]
    token = re.search(r"ohk_[0-9a-f]{8}_[A-Za-z0-9_-]+", response.content.decode()).group(0)
    client = ApiClient.objects.get(name="ERP")
    assert client.role == "finance" and client.created_by.username == "tech1"
    assert client.service_user.groups.filter(name="finance").exists()
    assert not client.service_user.has_usable_password() and not client.service_user.is_staff
    # The token works, and is never shown again.
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()["name"] == "ERP"
    page = tech.get(f"/admin/api/apiclient/{client.pk}/change/").content.decode()
    assert token not in page and token.split("_", 2)[2] not in page and client.token_hash not in page
    assert token not in tech.get("/admin/api/apiclient/").content.decode()


def test_a_customer_service_client_needs_brands(tech):
    response = tech.post(
        "/admin/api/apiclient/add/", {"name": "CS bot", "role": "customer_service", "rate_limit_per_minute": 60}
    )
    assert response.status_code == 200
    assert not ApiClient.objects.exists()
    assert "pick one" in response.content.decode()


def test_revoking_from_the_admin_ends_the_token(tech, make_caller):
    caller = make_caller("operations")
    response = tech.post(
        "/admin/api/apiclient/", {"action": "revoke", "_selected_action": [caller.api_client.pk]}, follow=True
    )
    assert response.status_code == 200
    assert ApiClient.objects.get(pk=caller.api_client.pk).revoked_at is not None
    assert caller.get("/api/v1/me").status_code == 401


def test_a_subscription_secret_is_write_only(tech):
    response = tech.post(
        "/admin/api/webhooksubscription/add/",
        {"name": "WMS", "url": "https://wms.example.com/hook", "secret": "s3cret-value", "event_types": ["pack"]},
    )
    assert response.status_code == 302, response.content[:800]
    subscription = WebhookSubscription.objects.get(name="WMS")
    assert subscription.secret == "s3cret-value" and subscription.event_types == ["pack"]
    assert "s3cret-value" not in tech.get(f"/admin/api/webhooksubscription/{subscription.pk}/change/").content.decode()


def test_the_delivery_log_replays(tech, make_order, users):
    order = make_order("paid")
    subscription = WebhookSubscription.objects.create(
        name="erp", url="http://127.0.0.1:9/hook", secret="x", event_types=["approve"]
    )
    event = order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event=event,
        outbox_message_id=OutboxMessage.objects.get(kind="webhook_deliver").pk,
        delivery_id="d1",
        attempt=1,
        ok=False,
        status_code=500,
        duration_ms=3,
    )
    assert tech.get("/admin/api/webhookdelivery/").status_code == 200
    tech.post("/admin/api/webhookdelivery/", {"action": "replay", "_selected_action": [delivery.pk]})
    assert OutboxMessage.objects.filter(kind="webhook_deliver", event=event).count() == 2


def test_the_delivery_page_has_a_replay_button(tech, make_order, users):
    order = make_order("paid")
    subscription = WebhookSubscription.objects.create(
        name="erp", url="http://127.0.0.1:9/hook", secret="x", event_types=["approve"]
    )
    event = order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event=event,
        outbox_message_id=OutboxMessage.objects.get(kind="webhook_deliver").pk,
        delivery_id="d1",
        attempt=1,
        ok=False,
        status_code=500,
        duration_ms=3,
    )
    page = tech.get(f"/admin/api/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert f"/admin/api/webhookdelivery/{delivery.pk}/replay/" in page
    assert tech.get(f"/admin/api/webhookdelivery/{delivery.pk}/replay/").status_code == 405
    response = tech.post(f"/admin/api/webhookdelivery/{delivery.pk}/replay/")
    assert response.status_code == 302
    assert OutboxMessage.objects.filter(kind="webhook_deliver", event=event).count() == 2
    # Operations may read the log, not replay.
    ops = Client()
    ops.force_login(users["ops1"])
    assert "replay/" not in ops.get(f"/admin/api/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert ops.post(f"/admin/api/webhookdelivery/{delivery.pk}/replay/").status_code == 403
    assert OutboxMessage.objects.filter(kind="webhook_deliver", event=event).count() == 2


def test_a_clients_service_user_is_not_a_person_to_pick_or_notify(make_caller, brands, users, make_order):
    """It holds customer service's group for the permissions, but nobody picks it as an owner or
    a brand's staff, and a notice to the role does not go to it."""
    from notifications.services import notification_recipients
    from orders.admin_boards import BoardActionForm
    from orders.admin_brands import BrandForm
    from orders.forms import OrderDetailsForm
    from orders.states import Role

    caller = make_caller(Role.CUSTOMER_SERVICE, brands=[brands["alpha"].brand])
    service_user = caller.api_client.service_user
    assert service_user.groups.filter(name=Role.CUSTOMER_SERVICE).exists()
    assert users["cs1"] in BoardActionForm().fields["owner"].queryset
    assert service_user not in BoardActionForm().fields["owner"].queryset
    assert service_user not in OrderDetailsForm().fields["cs_owner"].queryset
    assert service_user not in BrandForm().fields["staff"].queryset
    order = make_order("paid", shop=brands["alpha"])
    recipients = notification_recipients(order=order, role=Role.CUSTOMER_SERVICE)
    assert service_user not in recipients and recipients
