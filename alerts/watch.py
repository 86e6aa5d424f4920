"""物流预警, the logistics watch: one `OrderWatch` row per paid order, from payment to delivery,
that the watch's sweeps (alerts/sweeps.py) read instead of the orders' timelines.

Who writes a row, and when:

- `watch_events_apply(events)`, an event listener (AlertsConfig.event_listeners): in the
  transaction of every batch of new timeline events (a transition, an import), the events
  that matter to the watch — paid, allocated, split or merged, shipped or re-shipped, handed
  to the carrier, delivered, closed — bring the rows of their orders up to date. One read and
  one write per batch, whatever its size; the other events (approve, pack, notes) cost nothing.
- `watch_tracking_apply(shipment=, events=, via=)`, the tracking listener
  (`integrations.tracking_listeners`): the carrier's scans of an order's current parcel set
  its first and last scan and its carrier status; a delivery exception or a return to sender
  opens its alert at once, and a scan clears the "not collected" and "no scan" alerts at once
  (the sweeps would a minute later).
- `watch_deadlines_refresh()`, at the start of the ship-by sweep: when operations changed a
  shop's rule or a warehouse's promise, the deadlines of the orders still awaiting shipment
  that were worked out from the old figure are worked out again (found on a small index, so
  an unchanged hub costs two empty index probes).

The ship-by deadline (`ship_by_deadline`) is the earlier of the shop's rule (ShopShipRule,
hours after payment; a Shopify shop's processing time entered there) and the warehouse's
promised ship time (the SLA kind's `default_promised_hours`, 48, before allocation), counted
from when the promise to ship started (orders.selectors.order_promise_start: a split's or a
merge's promise_from, else the latest payment, else the order time). On time means the first
carrier scan came by that deadline (the KPI), not the warehouse's "shipped" click.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, IntegerField, Q, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.models import TrackingRecord
from orders.model_rows import RowBuilder
from orders.models import Order, OrderEvent, Shipment, Warehouse
from orders.permissions import role_of
from orders.selectors import order_promise_start
from orders.services.sql import rows_insert
from orders.states import Role, State

from .alerting import AlertNotPermitted, alert_clear, alert_policy, alert_raise
from .models import AlertKind, AlertKindSettings, DeadlineSource, OrderWatch, ShopShipRule, WatchPhase

logger = logging.getLogger(__name__)

DEFAULT_PROMISED_HOURS = 48

# Paid and not shipped yet (a risk hold does not stop the buyer's clock).
AWAITING_SHIPMENT_STATES = frozenset({State.PAID, State.RISK_HOLD, State.REVIEWED, State.ALLOCATED, State.PACKED})
# Nothing left to watch: delivered, or closed before or after.
DONE_STATES = frozenset(
    {
        State.DELIVERED,
        State.INVOICE_REQUESTED,
        State.RETURN_REQUESTED,
        State.RETURN_APPROVED,
        State.REFUNDED,
        State.ARCHIVED,
        State.CANCELLED,
        State.MERGED,
        State.INTERCEPTED,
    }
)
SHIP_ACTIONS = frozenset({"ship", "reship"})
# The events that can change a row; every other event is passed over without a query.
# 截单: a parcel stopped is nothing to watch (confirm_intercept goes to a done state); one sent
# again after its address changed is back to be shipped, on its old payment's clock.
WATCH_ACTIONS = (
    frozenset({"created", "pay", "allocate", "split_off", "merged_in", "release", "pick_up", "resume_after_intercept"})
    | SHIP_ACTIONS
)

# The carrier statuses that are an alert of their own (integrations.carriers.base kinds).
CARRIER_TROUBLE = {"exception": AlertKind.DELIVERY_EXCEPTION, "returned": AlertKind.RETURNED_TO_SENDER}

_ROW_FIELDS = [
    "shop",
    "phase",
    "paid_at",
    "shop_hours",
    "warehouse",
    "warehouse_hours",
    "ship_by",
    "ship_by_source",
    "shipped_at",
    "first_scan_at",
    "shipment",
    "parcel_shipped_at",
    "last_scan_at",
    "carrier_status",
    "carrier_code",
    "carrier_status_at",
    "carrier_note",
    "updated_at",
]


# ---------------------------------------------------------------------------------------------
# The deadline


def ship_by_deadline(
    *, paid_at: datetime, shop_hours: int | None, warehouse_hours: int | None, default_hours: int
) -> tuple[datetime, str]:
    """The earlier of the shop's rule and the warehouse's promise, counted from `paid_at`, and
    which of the two it is (the shop's on a tie: it is the promise the buyer was shown).
    `warehouse_hours` None: the order has no warehouse yet and `default_hours` counts."""
    if paid_at is None or timezone.is_naive(paid_at):
        raise ValueError("paid_at must be an aware datetime")
    for hours in (shop_hours, warehouse_hours, default_hours):
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int) or hours < 1):
            raise ValueError(f"promised hours must be whole numbers of at least 1 (got {hours!r})")
    if warehouse_hours is None:
        warehouse_deadline, source = paid_at + timedelta(hours=default_hours), DeadlineSource.DEFAULT
    else:
        warehouse_deadline, source = paid_at + timedelta(hours=warehouse_hours), DeadlineSource.WAREHOUSE
    if shop_hours is not None and paid_at + timedelta(hours=shop_hours) <= warehouse_deadline:
        return paid_at + timedelta(hours=shop_hours), DeadlineSource.SHOP
    return warehouse_deadline, source


def default_promised_hours() -> int:
    """The promise of an order no warehouse has yet: the SLA kind's, as its sweep counts it."""
    value = alert_policy(AlertKind.SLA_BREACH).params.get("default_promised_hours", DEFAULT_PROMISED_HOURS)
    return value if isinstance(value, int) and value > 0 else DEFAULT_PROMISED_HOURS


@dataclass(frozen=True)
class _Promises:
    """The figures a batch's deadlines need, read once per batch."""

    shop_hours: dict[int, int]  # shop id -> ship within (hours); shops without a rule left out
    warehouse_hours: dict[int, int]  # warehouse id -> promised ship hours
    default_hours: int

    @classmethod
    def read(cls, *, shop_ids, warehouse_ids) -> _Promises:
        """One query (a UNION of the three small tables): a transition pays it once."""
        text, number = CharField(), IntegerField()
        # Unordered: a UNION's parts may not have an ORDER BY (the models' Meta.ordering).
        shops = (
            ShopShipRule.objects.filter(shop_id__in=set(shop_ids), ship_within_hours__isnull=False)
            .order_by()
            .values_list(Value("shop", output_field=text), "shop_id", "ship_within_hours")
        )
        warehouses = (
            Warehouse.objects.filter(pk__in={w for w in warehouse_ids if w})
            .order_by()
            .values_list(Value("warehouse", output_field=text), "pk", "promised_ship_hours")
        )
        default = (
            AlertKindSettings.objects.filter(kind=AlertKind.SLA_BREACH)
            .order_by()
            .values_list(
                Value("default", output_field=text),
                Value(0, output_field=number),
                Cast(KeyTextTransform("default_promised_hours", "params"), number),
            )
        )
        found: dict[str, dict[int, int]] = {"shop": {}, "warehouse": {}, "default": {}}
        for source, pk, hours in shops.union(warehouses, default, all=True):
            if hours is not None:
                found[source][pk] = hours
        default_hours = found["default"].get(0)
        if not isinstance(default_hours, int) or default_hours < 1:
            default_hours = DEFAULT_PROMISED_HOURS
        return cls(found["shop"], found["warehouse"], default_hours)


def _deadline_set(row: OrderWatch, *, warehouse_id: int | None, promises: _Promises) -> None:
    """The row's deadline from the figures that hold now (and the figures, for the refresh)."""
    row.warehouse_id = warehouse_id
    row.shop_hours = promises.shop_hours.get(row.shop_id)
    own = promises.warehouse_hours.get(warehouse_id) if warehouse_id else None
    row.warehouse_hours = own if own is not None else promises.default_hours
    if row.paid_at is None:
        row.ship_by, row.ship_by_source = None, ""
        return
    row.ship_by, row.ship_by_source = ship_by_deadline(
        paid_at=row.paid_at, shop_hours=row.shop_hours, warehouse_hours=own, default_hours=promises.default_hours
    )


# ---------------------------------------------------------------------------------------------
# Events


def _watched(order) -> bool:
    # A gift travels in its main order's parcel: the main order's row watches it.
    return order.main_order_id is None


# An import's batch opens thousands of rows at once: built and written as its orders are.
_NEW_ROW = RowBuilder(OrderWatch)


def watch_events_apply(events) -> None:
    """Event listener (AlertsConfig): bring the watch rows of the events' orders up to date, in
    the events' transaction. A batch of events that change nothing for the watch costs no query."""
    relevant = [e for e in events if (e.action in WATCH_ACTIONS or e.to_state in DONE_STATES) and _watched(e.order)]
    if not relevant:
        return
    orders = {e.order_id: e.order for e in relevant}
    # Locked: a carrier scan of the same order (tracking listener) must not be written over.
    ids = list(orders)
    existing = {
        row.order_id: row
        for start in range(0, len(ids), 900)  # an import's batch: within SQLite's bound on parameters
        for row in OrderWatch.objects.select_for_update().filter(order_id__any=ids[start : start + 900])
    }
    promises = None
    if any(e.to_state in AWAITING_SHIPMENT_STATES for e in relevant):
        promises = _Promises.read(
            shop_ids=[o.shop_id for o in orders.values()], warehouse_ids=[o.warehouse_id for o in orders.values()]
        )
    now = timezone.now()
    unknown_in_flight: set[int] = set()
    new: dict[int, OrderWatch] = {}
    changed: dict[int, OrderWatch] = {}
    for event in relevant:
        order = orders[event.order_id]
        row = existing.get(event.order_id) or new.get(event.order_id)
        if row is None:
            if event.to_state not in AWAITING_SHIPMENT_STATES:
                # Closed before it was paid, not paid yet, or in flight since before the watch
                # existed (then its row is built from its timeline, once, below).
                if event.to_state in (State.SHIPPED, State.PICKED_UP):
                    unknown_in_flight.add(order.pk)
                continue
            row = _NEW_ROW(order_id=order.pk, shop_id=order.shop_id, phase=WatchPhase.AWAITING_SHIPMENT, updated_at=now)
            new[order.pk] = row
        elif event.order_id not in new:
            changed[event.order_id] = row
        _advance(row, event=event, order=order, promises=promises)
        row.updated_at = now
    if new:
        rows_insert(OrderWatch, list(new.values()))
    if changed:
        OrderWatch.objects.bulk_update(list(changed.values()), _ROW_FIELDS, batch_size=500)
    unknown_in_flight -= set(new)
    if unknown_in_flight:
        rows = watch_rows_build(Order.objects.filter(pk__in=unknown_in_flight))
        OrderWatch.objects.bulk_create(rows, ignore_conflicts=True)


def _advance(row: OrderWatch, *, event, order, promises: _Promises | None) -> None:
    """One event's effect on the row (pure but for the row)."""
    action, to_state, at = event.action, event.to_state, event.occurred_at
    if to_state in DONE_STATES:
        row.phase = WatchPhase.DONE
        return
    if to_state in AWAITING_SHIPMENT_STATES:
        row.phase = WatchPhase.AWAITING_SHIPMENT
        if order.promise_from is not None:
            row.paid_at = order.promise_from  # a split's or a merge's promise
        elif action == "pay":
            row.paid_at = at  # the latest payment
        elif row.paid_at is None:
            row.paid_at = order.ordered_at  # paid at intake
        if promises is not None:
            _deadline_set(row, warehouse_id=order.warehouse_id, promises=promises)
        return
    if action in SHIP_ACTIONS:
        row.phase = WatchPhase.AWAITING_COLLECTION
        row.shipped_at = row.shipped_at or at
        row.parcel_shipped_at = at
        # A new parcel: what the carrier said of the old one does not count for it.
        row.shipment = None
        row.last_scan_at = None
        row.carrier_status = row.carrier_code = row.carrier_note = ""
        row.carrier_status_at = None
        return
    if action == "pick_up" and row.phase == WatchPhase.AWAITING_COLLECTION:
        # Handed over (by the warehouse's click, or the carrier's scan already applied).
        row.phase = WatchPhase.IN_TRANSIT
        row.last_scan_at = max(filter(None, [row.last_scan_at, at]))


# ---------------------------------------------------------------------------------------------
# Carrier scans


def watch_tracking_apply(*, shipment: Shipment, events, via: str) -> None:
    """Tracking listener (integrations.tracking_listeners): the scans of an order's current
    parcel. Idempotent: the same scans again change nothing but the alerts' last seen."""
    if not events:
        return
    latest = max(events, key=lambda e: e.occurred_at)
    first_at = min(e.occurred_at for e in events)
    with transaction.atomic():
        row = OrderWatch.objects.select_for_update().filter(order_id=shipment.order_id).first()
        if row is None:
            row = _row_for_order(shipment.order_id)
            if row is None:
                return
        if row.phase == WatchPhase.DONE:
            return
        if row.shipment_id != shipment.pk:
            row.shipment = shipment
        row.first_scan_at = min(filter(None, [row.first_scan_at, first_at]))
        newer = row.last_scan_at is None or latest.occurred_at >= row.last_scan_at
        row.last_scan_at = max(filter(None, [row.last_scan_at, latest.occurred_at]))
        if newer or row.carrier_status_at is None:
            row.carrier_status = latest.kind
            row.carrier_code = (latest.carrier_code or "")[:32]
            row.carrier_status_at = latest.occurred_at
            row.carrier_note = (latest.description or "")[:300]
        if row.phase == WatchPhase.AWAITING_COLLECTION:
            row.phase = WatchPhase.IN_TRANSIT
        row.updated_at = timezone.now()
        row.save()
    _carrier_alerts_follow(row, shipment=shipment)


def _carrier_alerts_follow(row: OrderWatch, *, shipment: Shipment) -> None:
    """What the parcel's latest status says now: its trouble opens (or touches) its alert, a
    scan ends the waits for one."""
    number = Order.objects.values_list("number", flat=True).get(pk=row.order_id)
    when = timezone.localtime(row.last_scan_at).strftime("%Y-%m-%d %H:%M")
    scanned = _("The carrier scanned the parcel at %(when)s.") % {"when": when}
    alert_clear(kind=AlertKind.NOT_COLLECTED, order_id=row.order_id, reason=scanned)
    alert_clear(kind=AlertKind.TRACKING_SILENT, order_id=row.order_id, reason=scanned)
    trouble = CARRIER_TROUBLE.get(row.carrier_status)
    for status, kind in CARRIER_TROUBLE.items():
        if status != row.carrier_status:
            alert_clear(
                kind=kind,
                order_id=row.order_id,
                reason=_("The carrier's latest scan (%(when)s) no longer says so: “%(note)s”.")
                % {"when": when, "note": row.carrier_note or row.carrier_code},
            )
    if trouble is not None:
        alert_raise(kind=trouble, order_id=row.order_id, **carrier_trouble_alert(row, number=number, shipment=shipment))


def carrier_trouble_alert(row: OrderWatch, *, number: str, shipment: Shipment | None = None) -> dict:
    """Title and details of a delivery-exception or return alert (the tracking listener and
    the sweep write the same)."""
    when = timezone.localtime(row.carrier_status_at).strftime("%Y-%m-%d %H:%M")
    if row.carrier_status == "returned":
        title = _("Order %(number)s: returned to sender (%(when)s): %(note)s")
    else:
        title = _("Order %(number)s: delivery exception (%(when)s): %(note)s")
    details = {
        "carrier_status": row.carrier_status,
        "carrier_code": row.carrier_code,
        "carrier_status_at": row.carrier_status_at.isoformat(),
        "note": row.carrier_note,
    }
    if shipment is not None:
        details |= {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number}
    return {
        "title": title % {"number": number, "when": when, "note": row.carrier_note or row.carrier_code},
        "details": details,
    }


# ---------------------------------------------------------------------------------------------
# Rows for orders the events did not make (before the watch existed), and refreshes


def _row_for_order(order_id: int) -> OrderWatch | None:
    rows = watch_rows_build(Order.objects.filter(pk=order_id))
    if not rows:
        return None
    OrderWatch.objects.bulk_create(rows, ignore_conflicts=True)
    return OrderWatch.objects.select_for_update().filter(order_id=order_id).first()


_BUILD_STATES = AWAITING_SHIPMENT_STATES | {State.SHIPPED, State.PICKED_UP}


def watch_rows_build(orders) -> list[OrderWatch]:
    """Unsaved watch rows for `orders` (a queryset) that are paid and not delivered or closed,
    from their timeline: the promise start, the first ship, the current parcel, its scans.
    For the upgrade that adds the watch (`watch_backfill`) and an order it missed."""
    found = list(
        orders.filter(state__in=_BUILD_STATES, main_order__isnull=True)
        .annotate(promise_start=order_promise_start())
        .values_list("pk", "shop_id", "warehouse_id", "state", "promise_start")
    )
    if not found:
        return []
    ids = [pk for pk, *_rest in found]
    first_ship: dict[int, datetime] = {}
    handed_over: dict[int, datetime] = {}
    for order_id, action, at in (
        OrderEvent.objects.filter(order_id__in=ids, action__in=SHIP_ACTIONS | {"pick_up"})
        .order_by("occurred_at")
        .values_list("order_id", "action", "occurred_at")
    ):
        if action == "pick_up":
            handed_over[order_id] = at  # the latest
        else:
            first_ship.setdefault(order_id, at)
    parcels: dict[int, tuple[int, datetime]] = {}
    for order_id, shipment_id, at in (
        Shipment.objects.filter(order_id__in=ids)
        .order_by("order_id", "sequence")
        .values_list("order_id", "pk", "created_at")
    ):
        parcels[order_id] = (shipment_id, at)  # the last one is the current parcel
    scans: dict[int, list] = {}
    for shipment_id, at, kind, code, note in (
        TrackingRecord.objects.filter(shipment_id__in=[p[0] for p in parcels.values()])
        .order_by("occurred_at")
        .values_list("shipment_id", "occurred_at", "kind", "carrier_code", "description")
    ):
        scans.setdefault(shipment_id, []).append((at, kind, code, note))
    promises = _Promises.read(shop_ids=[f[1] for f in found], warehouse_ids=[f[2] for f in found])
    now = timezone.now()
    rows = []
    for pk, shop_id, warehouse_id, state, promise_start in found:
        row = OrderWatch(order_id=pk, shop_id=shop_id, paid_at=promise_start, updated_at=now)
        _deadline_set(row, warehouse_id=warehouse_id, promises=promises)
        if state in AWAITING_SHIPMENT_STATES:
            row.phase = WatchPhase.AWAITING_SHIPMENT
        else:
            shipment_id, shipped_at = parcels.get(pk, (None, first_ship.get(pk)))
            row.shipped_at = first_ship.get(pk) or shipped_at
            row.parcel_shipped_at = shipped_at
            row.shipment_id = shipment_id
            mine = scans.get(shipment_id, [])
            if mine:
                row.first_scan_at = mine[0][0]
                row.last_scan_at = mine[-1][0]
                _at, row.carrier_status, row.carrier_code, row.carrier_note = mine[-1]
                row.carrier_status_at = _at
            elif state == State.PICKED_UP:
                row.last_scan_at = handed_over.get(pk, shipped_at)
            row.phase = WatchPhase.IN_TRANSIT if (mine or state == State.PICKED_UP) else WatchPhase.AWAITING_COLLECTION
        rows.append(row)
    return rows


def watch_backfill(*, batch_size: int = 5000, log=None) -> int:
    """Rows for every order in flight that has none (the upgrade that adds the watch, or a
    restore): in batches of `batch_size` orders by primary key. Returns how many were written."""
    written = 0
    last = 0
    open_orders = Order.objects.filter(state__in=_BUILD_STATES, main_order__isnull=True, watch__isnull=True)
    while True:
        ids = list(open_orders.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return written
        with transaction.atomic():
            rows = watch_rows_build(Order.objects.filter(pk__in=ids))
            OrderWatch.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        written += len(rows)
        last = ids[-1]
        if log:
            log(f"watch backfill: {written} rows (up to order {last})")


def watch_deadlines_refresh(*, shop_ids=None) -> int:
    """Work the deadline out again for the orders awaiting shipment whose shop rule or
    warehouse promise changed since (a rule saved in the admin, a promise proposal accepted).
    Found through `watch_shop_basis_idx` and `watch_warehouse_basis_idx` with ranges that are
    empty while nothing changed. Returns how many deadlines moved."""
    rules = dict(
        ShopShipRule.objects.filter(ship_within_hours__isnull=False).values_list("shop_id", "ship_within_hours")
    )
    warehouses = dict(Warehouse.objects.values_list("pk", "promised_ship_hours"))
    default_hours = default_promised_hours()

    def differs(field: str, hours: int) -> Q:
        return Q(**{f"{field}__lt": hours}) | Q(**{f"{field}__gt": hours}) | Q(**{f"{field}__isnull": True})

    stale = Q(warehouse__isnull=True) & differs("warehouse_hours", default_hours)
    for warehouse_id, hours in warehouses.items():
        stale |= Q(warehouse_id=warehouse_id) & differs("warehouse_hours", hours)
    ruled = list(rules)
    stale |= Q(shop_hours__isnull=False) & ~Q(shop_id__in=ruled)
    for shop_id, hours in rules.items():
        stale |= Q(shop_id=shop_id) & differs("shop_hours", hours)
    rows = OrderWatch.objects.filter(phase=WatchPhase.AWAITING_SHIPMENT).filter(stale)
    if shop_ids is not None:
        rows = rows.filter(shop_id__in=list(shop_ids))
    promises = _Promises(rules, warehouses, default_hours)
    moved = 0
    while True:
        with transaction.atomic():
            # No ORDER BY: with a LIMIT it could make the planner walk the primary key past every
            # row when nothing changed; SKIP LOCKED needs no lock order (it never waits).
            batch = list(rows.select_for_update(skip_locked=True).order_by()[:2000])
            if not batch:
                return moved
            for row in batch:
                _deadline_set(row, warehouse_id=row.warehouse_id, promises=promises)
            OrderWatch.objects.bulk_update(
                batch, ["shop_hours", "warehouse_hours", "ship_by", "ship_by_source"], batch_size=500
            )
        moved += len(batch)


# ---------------------------------------------------------------------------------------------
# The shop's rule


SHOP_RULE_CHANGE_PERMISSION = "alerts.change_shopshiprule"


def shop_ship_rule_save(*, shop_id: int, ship_within_hours, collect_within_hours, actor) -> ShopShipRule:
    """Save a shop's ship rule (operations, in the admin) and work the open deadlines of its
    orders out again. A bad value raises ValidationError naming it, someone without the
    permission AlertNotPermitted; either way nothing is saved. `actor` None: the system."""
    errors = {}
    values = {}
    for field, value in (("ship_within_hours", ship_within_hours), ("collect_within_hours", collect_within_hours)):
        if value in (None, ""):
            values[field] = None
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 32767:
            errors[field] = _("Give a whole number of hours from 1 to 32767, or leave it empty (got %(value)s).") % {
                "value": value
            }
        else:
            values[field] = value
    if errors:
        raise ValidationError(errors)
    if actor is not None and not actor.has_perm(SHOP_RULE_CHANGE_PERMISSION):
        role = role_of(actor)
        raise AlertNotPermitted(
            role_label=str(Role(role).label) if role else _("no role"), action_label=_("Change a shop's ship rule")
        )
    with transaction.atomic():
        rule, _created = ShopShipRule.objects.update_or_create(shop_id=shop_id, defaults=values)
        watch_deadlines_refresh(shop_ids=[shop_id])
    return rule
