"""Per-client rate limit: a fixed one-minute window counted in Redis when REDIS_URL is set
(shared by every web process), else in Django's cache (one process: the embedded mode).

    api_rate_limit_hit(client_key=..., limit=...) -> seconds to wait, or 0 when allowed

The counter is keyed by the client's token prefix (random, unique), not its row id: two hubs
(or two test databases) sharing one Redis never count each other's calls.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60

_redis = None


def _redis_client():
    global _redis
    if not settings.REDIS_URL:
        return None
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    return _redis


def _key(client_key: str, window: int) -> str:
    return f"orderhub:api:rate:{client_key}:{window}"


def api_rate_limit_hit(*, client_key: str, limit: int, now: float | None = None) -> int:
    """Count one request of the client in the current window. Returns 0 when it is within
    `limit`, else the seconds until the window ends (the Retry-After). Redis trouble lets the
    request through: a limit must not take the API down with it."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now))
    key = _key(client_key, window)
    redis_client = _redis_client()
    if redis_client is not None:
        try:
            pipe = redis_client.pipeline()
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count = int(pipe.execute()[0])
        except Exception:
            return 0
    else:
        if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
                count = 1
    return 0 if count <= limit else retry_after
