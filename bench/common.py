"""What the benchmarks share: percentiles, the machine, and bulk set-up of paid orders."""

from __future__ import annotations

import platform
from pathlib import Path


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def paid_orders_create(count: int, *, cs_owner, number_prefix: str) -> list[int]:
    """`count` orders in state paid at version 2, with the `created` and `pay` events the
    real path (order_create, then pay by the system) leaves. Bulk, so setup is not the run."""
    from django.utils import timezone

    from orders.events import ORDER_CREATED
    from orders.models import Order, OrderEvent
    from orders.services.shops import shop_default_for_channel
    from orders.states import Channel, Role, State

    now = timezone.now()
    shop = shop_default_for_channel(Channel.MANUAL)
    orders = [
        Order(
            number=f"{number_prefix}{i:07d}",
            channel=Channel.MANUAL,
            shop=shop,
            amount="88.90",
            currency="CNY",
            state=State.PAID,
            version=2,
            cs_owner=cs_owner,
            ordered_at=now,
            state_changed_at=now,
            updated_at=now,
        )
        for i in range(1, count + 1)
    ]
    Order.objects.bulk_create(orders, batch_size=1000)
    events = []
    for order in orders:
        common = {"order": order, "actor": None, "actor_name": "", "actor_role": Role.SYSTEM, "occurred_at": now}
        events.append(
            OrderEvent(
                action=ORDER_CREATED,
                from_state="",
                to_state=State.SUBMITTED,
                order_version=1,
                data={"channel": Channel.MANUAL, "external_id": ""},
                **common,
            )
        )
        events.append(
            OrderEvent(action="pay", from_state=State.SUBMITTED, to_state=State.PAID, order_version=2, **common)
        )
    OrderEvent.objects.bulk_create(events, batch_size=2000)
    paid = Order.objects.filter(pk__in=[o.pk for o in orders], state=State.PAID).count()
    assert paid == count, "bulk setup did not leave every order paid"
    return [o.pk for o in orders]


def django_setup_for_bench(name: str, *, need_redis: bool = False) -> int | None:
    """Set Django up for a benchmark; an exit status when the set-up is not one to measure
    (not PostgreSQL, DEBUG on, or no Redis where the broker is measured), else None."""
    import os
    import sys

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    problem = None
    if connection.vendor != "postgresql":
        problem = f"the {name} benchmark needs PostgreSQL (DATABASE_URL), not {connection.vendor}; use `make bench`"
    elif settings.DEBUG:
        problem = "DEBUG is on, so Django records every query; run with DEBUG=false"
    elif need_redis and not settings.REDIS_URL:
        problem = f"the {name} benchmark measures the Redis broker: set REDIS_URL"
    if problem:
        print(f"ERROR: {problem}", file=sys.stderr)
        return 2
    return None
