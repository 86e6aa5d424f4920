"""Health of what the hub depends on: the database and the task broker."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def database_health() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means unhealthy; the message says which
        return False, f"error: {type(exc).__name__}"
    return True, "ok"


def broker_health() -> tuple[bool, str]:
    if not settings.REDIS_URL:
        return True, "embedded"
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:
        return False, f"error: {type(exc).__name__}"
    return True, "ok"
