"""Reads of the three health KPIs, each over a window [since, until).

- **Status accuracy**: for each physical source (carrier tracking, WMS export:
  `reconciliation.models.PHYSICAL_SOURCES`) the *latest* finished run in the window without an
  error and with statuses compared; accuracy = Σ statuses matched / Σ statuses compared over those
  runs. The latest run is what the hub looks like now against the physical truth; older runs in
  the window were superseded (their differences have since been looked at or fixed). No such
  run: no figure (neither pass nor fail).
- **Cross-role latency**: from `cross_role_latency` below (notification timestamps,
  event committed → the notified person acted on the order), per (acting role → notified role)
  pair; the KPI is the p95 over every acted notification whose recipient's role differs from the
  actor's (nearest rank, as the per-pair figures).
- **Manual interventions**: `ManualIntervention` rows per local day (Asia/Shanghai, the hub's
  time zone); the KPI is the average per day over the window's days (today counts as a day);
  the worst day is shown beside it.

Two figures of automatic processing (审单策略) beside them, without a threshold:

- **Touchless rate**: of the orders that shipped in the window (their `ship` event), the share
  that no person acted on before they shipped. The warehouse's packing and shipping are the
  physical work and do not count as a touch; anything else a person did does (an approval, an
  allocation by hand, a note, a changed detail, an exception cleared). Per local day of shipping.
- **Paid → allocated**: for the orders allocated in the window, the time from their first
  payment to the allocation, p50 and p95.

And per shop, from the logistics watch (alerts.OrderWatch):

- **On time at first scan** (发货及时率): of the orders first shipped in the window (the
  warehouse's first `ship`), the share whose first carrier scan came by their ship-by deadline
  (the earlier of the shop's rule and the warehouse's promise, alerts/watch.py). An order is
  counted once it is decided: scanned, or past its deadline without a scan (then late). One
  shipped, not scanned and still within its deadline is shown apart ("awaiting first scan"),
  in neither the numerator nor the denominator, so a recent day is not made to look late.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from alerts.models import OrderWatch
from notifications.models import Notification
from orders.models import Interception, InterceptionStatus, OrderEvent
from orders.selectors import shop_ids_of_brand
from reconciliation.models import PHYSICAL_SOURCES, ReconciliationRun

from .models import KpiDaily, KpiThresholds, ManualIntervention

PASS, FAIL, NO_DATA = "pass", "fail", "no_data"


def day_window(day: date) -> tuple[datetime, datetime]:
    """A local day as an aware [start, end) window."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()), tz)
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz)
    return start, end


def days_window(days: int, *, now: datetime | None = None) -> tuple[datetime, datetime, list[date]]:
    """The last `days` local days, today included: [start of the first, now)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    day_list = [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
    return day_window(day_list[0])[0], now, day_list


def kpi_status_accuracy(*, since: datetime, until: datetime) -> dict:
    runs: list[dict[str, Any]] = []
    for source in PHYSICAL_SOURCES:
        run = (
            ReconciliationRun.objects.filter(
                source=source,
                finished_at__gte=since,
                finished_at__lt=until,
                status_compared__gt=0,
                error="",
            )
            .order_by("-finished_at", "-id")
            .only("id", "source", "finished_at", "status_compared", "status_matched", "file_name")
            .first()
        )
        if run is not None:
            runs.append(
                {
                    "id": run.id,
                    "source": run.source,
                    "file_name": run.file_name,
                    "finished_at": run.finished_at,
                    "compared": run.status_compared,
                    "matched": run.status_matched,
                }
            )
    compared = sum(r["compared"] for r in runs)
    matched = sum(r["matched"] for r in runs)
    return {
        "percent": round(100.0 * matched / compared, 4) if compared else None,
        "compared": compared,
        "matched": matched,
        "runs": runs,
    }


def _percentile(sorted_values: list[float], fraction: float) -> float:
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def cross_role_latency(*, since: datetime, until: datetime, shop_ids: list[int] | None = None) -> list[dict]:
    """Per (acting role → notified role): how long from the event to the recipient acting on
    the order, and from the event to the notification being delivered, p50 and p95 seconds.
    `shop_ids`: only the orders of these shops (a brand's), None for all."""
    notifications = Notification.objects.filter(event_at__gte=since, event_at__lt=until)
    if shop_ids is not None:
        notifications = notifications.filter(order__shop_id__in=shop_ids)
    rows = notifications.values_list("event__actor_role", "recipient_role", "event_at", "created_at", "acted_at")
    delivered = defaultdict(list)
    acted = defaultdict(list)
    for from_role, to_role, event_at, created_at, acted_at in rows.iterator(chunk_size=2000):
        key = (from_role, to_role)
        delivered[key].append((created_at - event_at).total_seconds())
        if acted_at is not None:
            acted[key].append((acted_at - event_at).total_seconds())
    report = []
    for key in sorted(delivered):
        d = sorted(delivered[key])
        a = sorted(acted.get(key, []))
        report.append(
            {
                "from_role": key[0],
                "to_role": key[1],
                "notifications": len(d),
                "delivered_p50_s": _percentile(d, 0.5),
                "delivered_p95_s": _percentile(d, 0.95),
                "acted": len(a),
                "acted_p50_s": _percentile(a, 0.5) if a else None,
                "acted_p95_s": _percentile(a, 0.95) if a else None,
            }
        )
    return report


def _acted_cross_role(*, since: datetime, until: datetime, shop_ids: list[int] | None):
    rows = Notification.objects.filter(event_at__gte=since, event_at__lt=until, acted_at__isnull=False)
    if shop_ids is not None:
        rows = rows.filter(order__shop_id__in=shop_ids)
    return rows.exclude(recipient_role=F("event__actor_role")).values_list("event_at", "acted_at")


def kpi_latency(*, since: datetime, until: datetime, shop_ids: list[int] | None = None) -> dict:
    """`shop_ids`: a brand's shops (the brand's orders only), None for the whole hub."""
    pairs = cross_role_latency(since=since, until=until, shop_ids=shop_ids)
    rows = _acted_cross_role(since=since, until=until, shop_ids=shop_ids)
    values = sorted((acted - at).total_seconds() for at, acted in rows.iterator(chunk_size=2000))
    return {
        "p50_seconds": _percentile(values, 0.5) if values else None,
        "p95_seconds": _percentile(values, 0.95) if values else None,
        "samples": len(values),
        "pairs": [p for p in pairs if p["from_role"] != p["to_role"]],
    }


def kpi_interventions(
    *, since: datetime, until: datetime, days: list[date] | None = None, shop_ids: list[int] | None = None
) -> dict:
    """Per local day counts (every day of `days` listed, zeros included), total, average, max.
    `shop_ids`: a brand's shops, None for the whole hub."""
    tz = timezone.get_current_timezone()
    interventions = ManualIntervention.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
    if shop_ids is not None:
        interventions = interventions.filter(order__shop_id__in=shop_ids)
    rows = (
        interventions.annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .values_list("day", "kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_day: dict[date, int] = {}
    by_kind: dict[str, int] = {}
    for day, kind, n in rows:
        per_day[day] = per_day.get(day, 0) + n
        by_kind[kind] = by_kind.get(kind, 0) + n
    if days is None:
        first, last = timezone.localdate(since), timezone.localdate(until - timedelta(microseconds=1))
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    counts: list[dict[str, Any]] = [{"day": d, "n": per_day.get(d, 0)} for d in days]
    total = sum(per_day.values())
    return {
        "per_day": counts,
        "by_kind": by_kind,
        "total": total,
        "average_per_day": round(total / len(days), 4) if days else 0.0,
        "max_per_day": max((c["n"] for c in counts), default=0),
    }


@dataclass(frozen=True)
class Verdict:
    code: str
    value: float | None
    threshold: float
    unit: str
    status: str  # PASS, FAIL or NO_DATA

    @property
    def failing(self) -> bool:
        return self.status == FAIL


def _verdict(code, value, threshold, unit, *, higher_is_better: bool) -> Verdict:
    if value is None:
        status = NO_DATA
    elif higher_is_better:
        status = PASS if value >= threshold else FAIL
    else:
        status = PASS if value <= threshold else FAIL
    return Verdict(code, value, threshold, unit, status)


def kpi_verdicts(*, accuracy, latency_p95, interventions, thresholds: KpiThresholds) -> dict[str, Verdict]:
    return {
        "accuracy": _verdict("accuracy", accuracy, float(thresholds.accuracy_min_percent), "%", higher_is_better=True),
        "latency": _verdict(
            "latency", latency_p95, float(thresholds.latency_p95_max_seconds), "s", higher_is_better=False
        ),
        "interventions": _verdict(
            "interventions",
            interventions,
            float(thresholds.interventions_max_per_day),
            "/day",
            higher_is_better=False,
        ),
    }


def kpi_summary(days: int = 7, *, now: datetime | None = None, brand=None) -> dict:
    """The three KPIs over the last `days` local days (today included), with thresholds and
    pass/fail. A constant number of queries whatever the data.

    With a `brand`, latency and interventions count that brand's orders only. Status accuracy
    stays the hub's: a reconciliation run compares a whole carrier or warehouse export and
    keeps its counts, not which brand each compared status belonged to."""

    since, until, day_list = days_window(days, now=now)
    shop_ids = shop_ids_of_brand(brand=brand)
    thresholds = KpiThresholds.current()
    accuracy = kpi_status_accuracy(since=since, until=until)
    latency = kpi_latency(since=since, until=until, shop_ids=shop_ids)
    interventions = kpi_interventions(since=since, until=until, days=day_list, shop_ids=shop_ids)
    verdicts = kpi_verdicts(
        accuracy=accuracy["percent"],
        latency_p95=latency["p95_seconds"],
        interventions=interventions["average_per_day"],
        thresholds=thresholds,
    )
    return {
        "days": days,
        "brand": brand,
        "touchless": kpi_touchless(since=since, until=until, shop_ids=shop_ids),
        "paid_to_allocated": kpi_paid_to_allocated(since=since, until=until, shop_ids=shop_ids),
        "interception": kpi_interception(since=since, until=until, shop_ids=shop_ids),
        "on_time": kpi_on_time_by_shop(since=since, until=until, shop_ids=shop_ids),
        "since": since,
        "until": until,
        "thresholds": thresholds,
        "accuracy": accuracy,
        "latency": latency,
        "interventions": interventions,
        "verdicts": verdicts,
        "all_pass": all(v.status == PASS for v in verdicts.values()),
    }


def kpi_daily_history(*, days: int = 30, now: datetime | None = None) -> list[tuple[date, KpiDaily | None]]:
    """The last `days` local days' snapshots, oldest first, None where a day has none: one query."""
    _since, _until, day_list = days_window(days, now=now)
    rows = {row.day: row for row in KpiDaily.objects.filter(day__gte=day_list[0], day__lte=day_list[-1])}
    return [(d, rows.get(d)) for d in day_list]


@dataclass(frozen=True)
class BrandDay:
    """One day of a brand's history, with the attributes of KpiDaily the charts read."""

    accuracy_percent: float | None
    latency_p95_seconds: float | None
    interventions: int


def kpi_daily_history_for_brand(*, brand, days: int = 30, now: datetime | None = None) -> list[tuple[date, BrandDay]]:
    """The last `days` local days for one brand, oldest first, computed from the records (the
    daily snapshots are the hub's): the brand's interventions per day and the p95 latency of its
    orders' notifications, beside the hub's status accuracy. Three queries."""

    since, until, day_list = days_window(days, now=now)
    shop_ids = shop_ids_of_brand(brand=brand)
    accuracy = {row.day: row.accuracy_percent for row in KpiDaily.objects.filter(day__gte=day_list[0])}
    per_day = {
        c["day"]: c["n"]
        for c in kpi_interventions(since=since, until=until, days=day_list, shop_ids=shop_ids)["per_day"]
    }
    latencies: dict[date, list[float]] = {}
    for at, acted in _acted_cross_role(since=since, until=until, shop_ids=shop_ids).iterator(chunk_size=2000):
        latencies.setdefault(timezone.localdate(at), []).append((acted - at).total_seconds())
    history = []
    for day in day_list:
        values = sorted(latencies.get(day, []))
        history.append(
            (
                day,
                BrandDay(
                    accuracy_percent=accuracy.get(day),
                    latency_p95_seconds=_percentile(values, 0.95) if values else None,
                    interventions=per_day.get(day, 0),
                ),
            )
        )
    return history


# The physical work of the warehouse: a person packing and shipping does not make an order touched.
_PHYSICAL_ACTIONS = ("pack", "ship")


def kpi_touchless(*, since: datetime, until: datetime, shop_ids: list[int] | None = None) -> dict:
    """Orders shipped in [since, until) and how many of them no person touched before (see the
    module's docstring), in all and per local day of shipping. One query."""
    ships = OrderEvent.objects.filter(action="ship", occurred_at__gte=since, occurred_at__lt=until)
    if shop_ids is not None:
        ships = ships.filter(order__shop_id__in=shop_ids)
    touched = (
        OrderEvent.objects.filter(
            order_id=OuterRef("order_id"), actor__isnull=False, occurred_at__lte=OuterRef("occurred_at")
        )
        .exclude(action__in=_PHYSICAL_ACTIONS)
        .order_by()
    )
    per_day: dict[date, list[int]] = {}
    for at, was_touched in (
        ships.annotate(touched=Exists(touched)).values_list("occurred_at", "touched").iterator(chunk_size=2000)
    ):
        counts = per_day.setdefault(timezone.localdate(at), [0, 0])
        counts[0] += 1
        counts[1] += not was_touched
    shipped = sum(c[0] for c in per_day.values())
    touchless = sum(c[1] for c in per_day.values())
    return {
        "shipped": shipped,
        "touchless": touchless,
        "percent": 100.0 * touchless / shipped if shipped else None,
        "per_day": {day: (100.0 * c[1] / c[0] if c[0] else None) for day, c in sorted(per_day.items())},
    }


def kpi_interception(*, since: datetime, until: datetime, shop_ids: list[int] | None = None) -> dict:
    """截单 for the interceptions that ended in [since, until): how many stopped the parcel, and
    the time from the request to the result, p50 and p95 (nearest rank); the ones still open
    now. Two queries."""
    ended = Interception.objects.filter(resolved_at__gte=since, resolved_at__lt=until).exclude(
        status=InterceptionStatus.REQUESTED
    )
    still_open = Interception.objects.filter(status=InterceptionStatus.REQUESTED)
    if shop_ids is not None:
        ended = ended.filter(order__shop_id__in=shop_ids)
        still_open = still_open.filter(order__shop_id__in=shop_ids)
    rows = list(ended.values_list("status", "requested_at", "resolved_at"))
    stopped = sum(1 for status, _asked, _done in rows if status == InterceptionStatus.INTERCEPTED)
    waits = sorted((done - asked).total_seconds() for _status, asked, done in rows if done is not None)
    return {
        "ended": len(rows),
        "intercepted": stopped,
        "failed": len(rows) - stopped,
        "percent": 100.0 * stopped / len(rows) if rows else None,
        "p50_seconds": _percentile(waits, 0.5) if waits else None,
        "p95_seconds": _percentile(waits, 0.95) if waits else None,
        "open": still_open.count(),
    }


def kpi_paid_to_allocated(*, since: datetime, until: datetime, shop_ids: list[int] | None = None) -> dict:
    """For the orders allocated in [since, until): seconds from their first payment to the
    allocation, p50 and p95 (nearest rank). One query."""
    allocations = OrderEvent.objects.filter(action="allocate", occurred_at__gte=since, occurred_at__lt=until)
    if shop_ids is not None:
        allocations = allocations.filter(order__shop_id__in=shop_ids)
    first_paid = (
        OrderEvent.objects.filter(order_id=OuterRef("order_id"), action="pay")
        .order_by("occurred_at", "id")
        .values("occurred_at")[:1]
    )
    rows = allocations.annotate(paid_at=Subquery(first_paid)).values_list("occurred_at", "paid_at")
    values = sorted(
        (allocated - paid).total_seconds() for allocated, paid in rows.iterator(chunk_size=2000) if paid is not None
    )
    return {
        "samples": len(values),
        "p50_seconds": _percentile(values, 0.5) if values else None,
        "p95_seconds": _percentile(values, 0.95) if values else None,
    }


def kpi_on_time_by_shop(*, since: datetime, until: datetime, shop_ids: list[int] | None = None) -> dict:
    """Per shop, of the orders first shipped in [since, until): how many are decided (scanned,
    or past their deadline), how many of those were scanned by the deadline, and how many are
    still awaiting their first scan within it (see the module's docstring), worst rate first.
    Orders without a deadline are left out (none are shipped unpaid). One query."""
    rows = OrderWatch.objects.filter(shipped_at__gte=since, shipped_at__lt=until, ship_by__isnull=False)
    if shop_ids is not None:
        rows = rows.filter(shop_id__in=shop_ids)
    scanned = Q(first_scan_at__isnull=False)
    on_time = Q(first_scan_at__lte=F("ship_by"))
    overdue = Q(first_scan_at__isnull=True, ship_by__lt=until)
    counts = list(
        rows.values("shop_id", "shop__name", "shop__brand__name")
        .annotate(
            decided=Count("pk", filter=scanned | overdue),
            on_time=Count("pk", filter=on_time),
            awaiting=Count("pk", filter=Q(first_scan_at__isnull=True, ship_by__gte=until)),
        )
        .order_by("shop_id")
    )
    shops = [
        {
            "shop_id": c["shop_id"],
            "shop": f"{c['shop__brand__name']} · {c['shop__name']}",
            "shipped": c["decided"],
            "on_time": c["on_time"],
            "awaiting_first_scan": c["awaiting"],
            "percent": 100.0 * c["on_time"] / c["decided"] if c["decided"] else None,
        }
        for c in counts
    ]
    shops.sort(
        key=lambda row: (row["percent"] is None, row["percent"] if row["percent"] is not None else 0, row["shop"])
    )
    shipped = sum(row["shipped"] for row in shops)
    punctual = sum(row["on_time"] for row in shops)
    return {
        "shops": shops,
        "shipped": shipped,
        "on_time": punctual,
        "percent": 100.0 * punctual / shipped if shipped else None,
    }
