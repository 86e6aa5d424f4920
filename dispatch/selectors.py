"""Reads behind the promise proposals: how long each warehouse's orders took from payment to
the carrier's pickup, and the percentile of that per warehouse.

The sample: main orders (gifts travel in their main order's parcel) with a warehouse whose
first `pick_up` event falls in the window; paid at the time the SLA sweep uses (the latest
`pay` event, else the order time: paid at intake), so the proposal measures exactly what the
sweep checks. Orders delivered without a pick-up step (the carrier never reported it) are not
in the sample. Set-based: the window's pick-up events (the occurred_at index), then two
indexed look-ups per order on (order, occurred_at).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery

from orders.models import Order, OrderEvent
from orders.selectors import order_promise_start

PICK_UP_ACTION = "pick_up"


@dataclass(frozen=True)
class ShipTimePercentile:
    warehouse_id: int
    sample_size: int
    seconds: float  # the percentile of paid → picked-up, in seconds


def ship_time_sample(*, start: datetime, end: datetime) -> QuerySet:
    """(warehouse_id, paid_at, picked_at) of the orders first picked up in [start, end)."""
    first_pick_up = (
        OrderEvent.objects.filter(order_id=OuterRef("pk"), action=PICK_UP_ACTION)
        .order_by("occurred_at", "id")
        .values("occurred_at")[:1]
    )
    picked_in_window = OrderEvent.objects.filter(
        action=PICK_UP_ACTION, occurred_at__gte=start, occurred_at__lt=end
    ).values("order_id")
    return (
        Order.objects.filter(pk__in=picked_in_window, warehouse__isnull=False, main_order__isnull=True)
        .annotate(picked_at=Subquery(first_pick_up), paid_at=order_promise_start())
        .filter(picked_at__gte=start, picked_at__lt=end)
        .order_by()
        .values("warehouse_id", "paid_at", "picked_at")
    )


def ship_time_percentiles(*, start: datetime, end: datetime, percentile: int) -> dict[int, ShipTimePercentile]:
    """Per warehouse: the sample size and the percentile (continuous, interpolated between the
    two nearest values, as PostgreSQL's percentile_cont) of paid → picked-up. In the database on
    PostgreSQL; in Python on SQLite (the embedded mode), with the same definition."""
    fraction = percentile / 100
    sample = ship_time_sample(start=start, end=end)
    if connection.vendor == "postgresql":
        return _percentiles_in_postgresql(sample, fraction)
    seconds_by_warehouse: dict[int, list[float]] = defaultdict(list)
    for warehouse_id, paid_at, picked_at in sample.values_list("warehouse_id", "paid_at", "picked_at"):
        seconds_by_warehouse[warehouse_id].append(max((picked_at - paid_at).total_seconds(), 0.0))
    return {
        warehouse_id: ShipTimePercentile(warehouse_id, len(values), percentile_cont(values, fraction))
        for warehouse_id, values in seconds_by_warehouse.items()
    }


def _percentiles_in_postgresql(sample: QuerySet, fraction: float) -> dict[int, ShipTimePercentile]:
    inner, params = sample.query.sql_with_params()
    sql = (
        "SELECT warehouse_id, COUNT(*), percentile_cont(%s) WITHIN GROUP ("
        "ORDER BY GREATEST(EXTRACT(EPOCH FROM (picked_at - paid_at)), 0)::double precision) "
        f"FROM ({inner}) AS sample GROUP BY warehouse_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (fraction, *params))
        return {row[0]: ShipTimePercentile(row[0], row[1], float(row[2])) for row in cursor.fetchall()}


def percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: the value at rank fraction·(n−1) of the sorted values,
    interpolated linearly between its neighbours."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
