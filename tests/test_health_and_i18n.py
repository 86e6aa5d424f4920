import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_embedded(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "embedded"}


@pytest.mark.django_db
def test_healthz_reports_an_unreachable_broker(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy" and body["database"] == "ok"
    assert body["broker"].startswith("error")


@pytest.mark.django_db
@pytest.mark.postgres
def test_healthz_with_real_redis(client, settings):
    import os

    settings.REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == "ok"


@pytest.mark.django_db
def test_healthz_reports_a_broken_database(client, monkeypatch):
    from orders import health

    def broken():
        raise RuntimeError("down")

    monkeypatch.setattr(health.connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error: RuntimeError"


@pytest.mark.django_db
def test_language_switch_and_chinese_timeline(client, users, make_order):
    from orders.services.transition import order_transition

    order = make_order("paid")
    event = order_transition(order.pk, "approve", actor=users["cs1"])
    client.force_login(users["cs1"])
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/admin/"})
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "审核通过" in page
    assert "张明 (客服组)" in page
    from django.utils import translation

    with translation.override("zh-hans"):
        assert event.timeline_text().endswith("张明 (客服组) 审核通过")
    with translation.override("en"):
        assert event.timeline_text().endswith("张明 (Customer service) approved")
    client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    assert "What you can do now" in client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()


def test_times_are_stored_in_utc_and_shown_in_shanghai(settings):
    from datetime import UTC, datetime

    from django.utils import timezone

    assert settings.USE_TZ and settings.TIME_ZONE == "Asia/Shanghai"
    moment = datetime(2026, 1, 28, 6, 22, tzinfo=UTC)
    assert timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") == "2026-01-28 14:22"
