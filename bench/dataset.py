"""A realistic hub of 1,000,000 orders for the read benchmarks, built once with COPY and reused.

    python -m bench.dataset [--orders 1000000] [--events-per-order 4 | --full-paths] [--force]

`dataset_ensure()` is what benchmarks call (bench/boards.py); run as a script it only builds (or
confirms) the set. It lives in a database of its own, `<bench database>_boards` (see
`dataset_database_select`), because the other benchmarks TRUNCATE the order tables of theirs.

What it holds (every table's ids in time order, as a live hub writes them: the newest event has
the highest id, and the rows of a day sit together on disk):

- orders placed evenly over the last 120 days; their final state depends on their age: the last
  days are mostly paid, risk hold, reviewed, allocated, packed, shipped; older ones picked up,
  delivered, archived, cancelled, refunded; a few stuck ones and open returns weeks old. About
  95 % closed or delivered, 5 % waiting on someone, ~2 % in the warehouse stages; half of the
  waiting ones changed within the stale threshold (2 h), the others are stale;
- above 1,000,000 orders (the growth benchmark's 5M set) the hub grows by its history, not by
  its daily volume (a decision, generator 6): the reference hub's ~8,333 orders a day over more
  days (`days_of_orders`: 600 days at 5M), and every order older than 120 days is closed
  (delivered, invoiced, refunded, cancelled or archived: a stuck order is written off within
  months). So the orders in flight are those of the 1M set (45,651 waiting on someone at 5M
  against 45,521 at 1M; generator 5 had 227,508, ~4.5 % of all orders, growing with history,
  which opened 160,454 stale and 60,304 SLA alerts at the first sweep). The first sweep at 5M
  should open what a hub of this volume really has, about the 1M set's 22,906 stale and
  11,847 SLA alerts (the 1M run of generator 5; the 5M set of generator 6 is not measured
  yet); the 100k and 1M sets are unchanged (no order in them is older than 120 days);
- ~2 % priority (the amount is over the priority threshold), five channels with unique
  channel order ids, three warehouses, customer-service owners cs1/cs2 (3 % unassigned),
  0.5 % gift orders (of their main order's shop);
- an agency's 27 brands (`bench-01` … `bench-27`) with a shop on each channel; orders spread
  evenly over the brands; cs1 works brands 1–3 and cs2 brands 4–6, and they own their brands'
  orders, so their customer-service board is brand-scoped (3/27 of the hub each), as at an
  agency;
- events along each order's real path (orders.demo.PATHS: who acts, from which state to which,
  version by version, notes where the transition needs one, data as the services write it);
  4 % of the recent orders also went through a risk hold and its release by operations (three
  roles within a day: the operations board's "conflicting"). `events_per_order` sets the
  average: below the natural ~8.5, middle steps of closed orders are left out (the `created`
  event, the `ship` event and the last one are always kept, versions keep their gaps); above
  it, "details updated" events are added; None keeps every path whole;
- one shipment per shipped order (unique tracking numbers), the ship event as its event;
- 1-6 order lines per order (~2.5 on average: 32/26/19/12/7/4 %), quantities mostly 1, SKUs of a
  catalogue of 3,000 (9.90-899.00, most of them cheap), unit prices near the catalogue's and
  discounts such that the lines add up to the order's amount exactly (no shipping fee, no tax:
  what orders.services.lines checks at intake); a gift order's one line is a gift (its price
  discounted in full), and ~0.5 % of the other orders carry a free gift line on top; the
  order's parcel weight is its lines' (per-unit grams × quantity). The lines have a random
  stream of their own, so the orders and events are those the set had without them;
- three "big" orders with 50 events each (risk holds, re-shipments, returns refused, details
  edited), their shipments and a field-history row per step, for the timeline page.

The set is rebuilt when the marker table `bench_dataset` is missing or describes another set
(size, parameters, generator version), when the row counts do not match it (someone truncated
the tables), or when it is older than `max_age_hours` (6): "stale" (2 h) and "changed in the last
24 h" are measured against the clock; within hours every waiting order of an old set is stale.

Build (~90 s for 1M orders, 4M events and 2.5M lines on 2 cores when they are idle; 15 min for
5M orders and 20M events on busy ones): orders generated and streamed by COPY while their events
(each with its shipment, if it shipped) are spooled to a temporary file per day of their time and
their lines to another, then the events read back a day at a time, sorted by time and numbered
(the shipments with them); all in one transaction (a failed build leaves the previous set as it
was): TRUNCATE, the secondary indexes dropped, COPY FREEZE of every table with the foreign-key
triggers off (superuser only: session_replication_role=replica; the rows are consistent by
construction), the indexes rebuilt, sequences and order-number counters set; then ANALYZE.
Peak memory 170 MB at 100k orders, 560 MB at 5M (the plan of every order, one day's events, and
8 bytes a sort key per event; `build_peak_rss_mb` in the marker's stats); the temporary files
take about 3.5 GB at 5M. Before the spool the events were sorted in memory: 1.27 GB at 1M,
~6 GB at 5M.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import tempfile
import time
import zoneinfo
from array import array
from bisect import bisect_right
from collections import Counter
from itertools import accumulate
from typing import IO

GENERATOR_VERSION = 6  # 6: above 1M orders the hub grows by history (constant daily volume), old orders closed
MARKER_TABLE = "bench_dataset"
DAY = 86_400
HOUR = 3_600
DAYS_OF_ORDERS = 120
# The daily volume of the reference hub (1M orders over DAYS_OF_ORDERS); a larger set is more
# history at this rate, not a busier hub (see days_of_orders).
REFERENCE_ORDERS = 1_000_000
# Past this age every order is closed: a stuck order is written off, cancelled or refunded within
# months, so the orders still waiting on someone do not grow with the years of history kept.
ALL_CLOSED_AFTER_DAYS = 120
STALE_AFTER = 2 * HOUR  # HubSettings' default
CONFLICT_ROLE_COUNT, CONFLICT_WINDOW_HOURS = 3, 24  # HubSettings' defaults
CONFLICT_WINDOW_MAX_HOURS = 31 * 24  # orders.models.CONFLICT_WINDOW_MAX_HOURS
MAX_AGE_HOURS = 6.0  # reuse a set built this recently
BIG_ORDER_EVENTS = 50
CHUNK = 20_000  # orders per generated block
NULL = "\\N"  # COPY text format
KEY_BITS = 26  # event time keys: seconds << KEY_BITS | index (up to 67M events)

# Final state by the order's age: weights per age band (days). Waiting states thin out with age;
# a few orders stay stuck for weeks (risk holds, lost parcels, open returns).
# Past ALL_CLOSED_AFTER_DAYS (only in sets above REFERENCE_ORDERS) the stuck ones are closed:
# the lost parcels refunded, the holds cancelled, the returns settled.
AGE_BANDS = (0.5, 2, 5, 10, 30, ALL_CLOSED_AFTER_DAYS, float("inf"))
STATE_MIX = """
                    <0.5d  <2d   <5d   <10d  <30d <120d  older
submitted              5     1     0     0     0     0     0
payment_failed         1     0     0     0     0     0     0
paid                  38    10     4   1.5   0.3     0     0
risk_hold              4     3     3   1.5   0.5   0.1     0
reviewed              25    12     5   1.5   0.2     0     0
allocated             14    18     7     2   0.3     0     0
packed                 5    14     7     2   0.3     0     0
shipped                2    16    10     3   0.6  0.05     0
picked_up              0    15    25     6   0.5   0.1     0
delivered              0     3    28    62    36     5     5
invoice_requested      0     0     0     3     3     2     2
return_requested       0     0     3     5     3   0.6     0
return_approved        0     0     0     1   0.5  0.05     0
refunded               0     0     0     1     3   3.5   3.9
cancelled              6     8     8     8     8     8   8.3
archived               0     0     0     2    45    81  81.6
"""


STATE_NAMES = frozenset(line.split()[0] for line in STATE_MIX.strip().splitlines()[1:])


def days_of_orders(n_orders: int) -> int:
    """How many days of orders the set holds: DAYS_OF_ORDERS up to REFERENCE_ORDERS (a smaller or
    the reference hub), beyond it the reference hub's daily volume for longer (5M orders: 600
    days), so the orders in flight stay those of the reference hub while the history grows."""
    return max(DAYS_OF_ORDERS, -(-DAYS_OF_ORDERS * n_orders // REFERENCE_ORDERS))


def _state_mix() -> list[tuple[list[str], list[float]]]:
    """Per age band: (states, cumulative weights)."""
    rows = [line.split() for line in STATE_MIX.strip().splitlines()[1:]]
    bands = []
    for column in range(1, len(AGE_BANDS) + 1):
        states = [row[0] for row in rows if float(row[column]) > 0]
        bands.append((states, list(accumulate(float(row[column]) for row in rows if float(row[column]) > 0))))
    return bands


# How long each move usually takes after the previous one (seconds, uniform between).
STEP_SECONDS = {
    "created": (0, 0),
    "pay": (30, 1800),
    "fail_payment": (60, 1800),
    "flag_risk": (60, HOUR),
    "release": (600, 4 * HOUR),
    "approve": (300, 6 * HOUR),
    "allocate": (300, 4 * HOUR),
    "pack": (1800, 12 * HOUR),
    "ship": (600, 6 * HOUR),
    "reship": (DAY, 3 * DAY),
    "pick_up": (HOUR, 18 * HOUR),
    "deliver": (DAY, 4 * DAY),
    "request_invoice": (DAY, 10 * DAY),
    "request_return": (DAY, 7 * DAY),
    "approve_return": (HOUR, 2 * DAY),
    "reject_return": (HOUR, 2 * DAY),
    "refund": (HOUR, 3 * DAY),
    "archive": (7 * DAY, 15 * DAY),
    "cancel": (600, 2 * DAY),
    "details_updated": (60, 6 * HOUR),
}

# channel, weight, channel order id for order i ("" = none)
CHANNELS = [
    ("shopify", 30, lambda i: str(5_200_000_000_000 + i)),
    ("taobao", 30, lambda i: str(3_800_000_000_000_000_000 + i)),
    ("amazon", 15, lambda i: f"113-{i:07d}-{(i * 7919) % 10**7:07d}"),
    ("walmart", 5, lambda i: str(108_000_000_000_000 + i)),
    ("manual", 20, lambda i: ""),
]
AMOUNTS = ["39.90", "59.90", "88.90", "129.00", "199.00", "268.00", "399.00", "459.00"]
PRIORITY_AMOUNTS = ["520.00", "688.00", "899.00", "1299.00"]  # over ORDERHUB_PRIORITY_AMOUNT (500)
PRIORITY_SHARE = 0.02
GIFT_SHARE = 0.005
UNASSIGNED_SHARE = 0.03
CONFLICT_SHARE = 0.04  # of the orders of the last two days that pass through approval
WAREHOUSE_WEIGHTS = [50, 30, 20]
CARRIERS = [("sf", "SF14{:011d}"), ("zto", "773{:09d}"), ("cainiao", "YT{:013d}")]
PLACES = [
    ("上海市", "上海市", "浦东新区", "张江路 {n} 弄 {m} 号", "201203"),
    ("北京市", "北京市", "朝阳区", "望京街 {n} 号院 {m} 号楼", "100102"),
    ("广东省", "深圳市", "南山区", "科技园南路 {n} 号 {m} 室", "518057"),
    ("四川省", "成都市", "武侯区", "天府大道 {n} 号 {m} 栋", "610041"),
    ("浙江省", "杭州市", "余杭区", "文一西路 {n} 号 {m} 幢", "311100"),
    ("江苏省", "南京市", "鼓楼区", "中山北路 {n} 号 {m} 室", "210009"),
]
BRANDS = 27
# Brands (1-based) each demo customer-service person works.
BRAND_STAFF = {"cs1": (1, 2, 3), "cs2": (4, 5, 6)}
RECIPIENTS = ["刘芳", "陈晨", "杨洋", "黄磊", "赵敏", "周杰", "吴婷", "徐明", "孙悦", "马超"]
# Waiting on someone in the hub (or, for the first two, on the buyer).
ACTIVE_STATES = frozenset(
    {"submitted", "payment_failed", "paid", "risk_hold", "reviewed", "allocated", "packed", "shipped"}
    | {"return_requested", "return_approved"}
)

ORDER_COLUMNS = (
    "id, number, channel, external_id, buyer_email, buyer_phone, ordered_at, amount, currency, state, "
    "state_changed_at, priority, version, created_at, updated_at, cs_owner_id, main_order_id, updated_by_id, "
    "warehouse_id, recipient_name, recipient_phone, ship_address, ship_city, ship_district, ship_postcode, "
    "ship_province, shop_id, shipping_fee, tax_amount, buyer_remark, carrier, weight_grams"
)
EVENT_COLUMNS = (
    "id, order_id, action, from_state, to_state, actor_id, actor_name, actor_role, occurred_at, order_version, "
    "note, data"
)
SHIPMENT_COLUMNS = "id, order_id, sequence, carrier, tracking_number, reason, event_id, created_by_id, created_at"
HISTORY_COLUMNS = f"history_id, {ORDER_COLUMNS}, history_date, history_change_reason, history_type, history_user_id"
LINE_COLUMNS = (
    "id, order_id, position, platform_line_id, sku, name, quantity, unit_price, discount, currency, is_gift, "
    "weight_grams"
)
TABLES = ("orders_order", "orders_orderevent", "orders_shipment", "orders_historicalorder", "orders_orderline")

# Order lines: 1-6 per order (about 2.5 on average), SKUs of a catalogue, quantities mostly 1;
# unit prices near the catalogue's and discounts such that the lines add up to the order's
# amount exactly (orders.services.lines.order_totals_mismatch: no shipping fee, no tax on top).
CATALOGUE_SKUS = 3_000
LINE_COUNT_WEIGHTS = [32, 26, 19, 12, 7, 4]  # 1 … 6 lines: mean 2.48
QUANTITY_WEIGHTS = [80, 15, 5]  # 1, 2, 3 of a line
GIFT_LINE_SHARE = 0.005  # orders (not gift orders) with a free gift line on top (赠品)
ITEM_KINDS = ["保温杯", "茶叶礼盒", "蓝牙耳机", "帆布包", "护手霜", "登山杖", "收纳盒", "香薰蜡烛", "抱枕", "速干T恤"]


# ---------------------------------------------------------------------------------------------
# Where the set lives


def dataset_database_select(*, name: str | None = None, suffix: str = "_boards") -> str | None:
    """Point DATABASE_URL at the data set's database (created if missing), before django.setup().

    The default is the current database's name plus `suffix` (orderhub_bench → orderhub_bench_boards).
    Returns the database name, or None when DATABASE_URL is not PostgreSQL (the benchmark's own
    check then says so)."""
    from urllib.parse import urlsplit, urlunsplit

    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return None
    current = parts.path.lstrip("/")
    target = name or (current if current.endswith(suffix) else current + suffix)
    import psycopg

    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{target}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + target))
    return target


def dataset_database_prepare() -> None:
    """Migrations and role groups in the data set's database (after django.setup())."""
    import io

    from django.core.management import call_command

    call_command("migrate", "--noinput", stdout=io.StringIO())
    call_command("setup_roles", stdout=io.StringIO())


# ---------------------------------------------------------------------------------------------
# The marker


def _marker_read(cursor) -> dict | None:
    cursor.execute("SELECT to_regclass(%s)", [MARKER_TABLE])
    if cursor.fetchone()[0] is None:
        return None
    cursor.execute(f"SELECT params, stats, built_at FROM {MARKER_TABLE} WHERE id = 1")
    row = cursor.fetchone()
    if row is None:
        return None
    params, stats, built_at = row
    if isinstance(params, str):
        params, stats = json.loads(params), json.loads(stats)
    return {"params": params, "stats": stats, "built_at": built_at}


def _marker_problem(marker: dict | None, params: dict, *, max_age_hours: float, cursor) -> str | None:
    """Why the stored set cannot be reused, or None."""
    if marker is None:
        return "no data set yet"
    if marker["params"] != params:
        return f"the stored set was built with {marker['params']}"
    age = dt.datetime.now(dt.UTC) - marker["built_at"]
    if age > dt.timedelta(hours=max_age_hours):
        return f"the stored set is {age.total_seconds() / 3600:.0f} h old (limit {max_age_hours:g} h)"
    stats = marker["stats"]
    cursor.execute("SELECT count(*), coalesce(max(id), 0) FROM orders_order")
    orders, max_order = cursor.fetchone()
    cursor.execute("SELECT coalesce(max(id), 0) FROM orders_orderevent")
    (max_event,) = cursor.fetchone()
    cursor.execute("SELECT coalesce(max(id), 0) FROM orders_orderline")
    (max_line,) = cursor.fetchone()
    if (orders, max_order, max_event, max_line) != (stats["orders"], stats["orders"], stats["events"], stats["lines"]):
        return "the tables no longer hold the stored set"
    return None


# ---------------------------------------------------------------------------------------------
# Generation


class _Clock:
    """Timestamps as whole seconds since the epoch, written as COPY text without datetime."""

    def __init__(self, first: int, last: int):
        self.day0 = first // DAY - 1
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        self.days = [(epoch + dt.timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(self.day0, last // DAY + 2)]
        self.hms = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY)]

    def text(self, ts: int) -> str:
        return self.days[ts // DAY - self.day0] + self.hms[ts % DAY]


def _paths() -> dict[str, list[tuple[str, str | None]]]:
    from orders.demo import PATHS

    return {str(state): [("created", None), *steps] for state, steps in PATHS.items()}


def _with_risk_release(path: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """The same path with a hold by customer service and a release by operations after payment."""
    at = [action for action, _who in path].index("pay") + 1
    return [*path[:at], ("flag_risk", "cs"), ("release", "ops1"), *path[at:]]


def _big_path() -> list[tuple[str, str | None]]:
    path = [
        ("created", None),
        ("pay", None),
        ("flag_risk", "cs"),
        ("release", "ops1"),
        ("details_updated", "cs"),
        ("approve", "cs"),
        ("allocate", "wh1"),
        ("pack", "wh1"),
        ("ship", "wh1"),
        ("reship", "cs"),
        ("reship", "wh1"),
        ("reship", "cs"),
        ("pick_up", None),
        ("reship", "cs"),
        ("pick_up", None),
        ("deliver", None),
    ]
    tail = [
        ("request_invoice", "fin1"),
        ("request_return", "cs"),
        ("approve_return", "cs"),
        ("refund", "fin1"),
        ("archive", "ops1"),
    ]
    loop = 0
    while len(path) + len(tail) < BIG_ORDER_EVENTS:
        if loop % 3 == 2:
            path.append(("details_updated", "ops1" if loop % 2 else "cs"))
        else:
            path += [("request_return", "cs"), ("reject_return", "ops1" if loop % 2 else "cs")]
        loop += 1
    return (path + tail)[:BIG_ORDER_EVENTS]


def _states_along(path) -> list[tuple[str, str]]:
    """(from_state, to_state) of each step."""
    from orders.states import TRANSITIONS_BY_ACTION

    out, state = [], ""
    for action, _who in path:
        if action == "created":
            new = "submitted"
        elif action == "details_updated":
            new = state
        else:
            transition = TRANSITIONS_BY_ACTION[action]
            assert state in transition.sources, f"{action} cannot follow {state}"
            new = str(transition.target)
        out.append((state if action != "details_updated" else new, new))
        state = new
    return out


SEP = "\x1f"  # between an event's COPY text and its shipment's in the spool (in neither)
SEP_BYTES = SEP.encode()
_POSITION_BITS = 26  # events of one day in the spool (up to 67M)
_POSITION_MASK = (1 << _POSITION_BITS) - 1


class _EventSpool:
    """The events on disk while the orders stream, one temporary file per day of their time, with
    a sort key per event in memory (8 bytes: the second within the day, the event's place in its
    day's file, whether a shipment rides along). Read back a day at a time, sorted in memory: the
    same order as sorting them all by (time, generation order), at the memory of one day's events
    (about 1/120 of them) instead of all of them (~200 bytes each as Python objects)."""

    def __init__(self, start: int):
        self.start = start
        self.count = 0
        self._days: dict[int, tuple[IO[bytes], array]] = {}

    def add(self, ts: int, line: bytes, shipment: bytes = b"") -> None:
        day, second = divmod(ts - self.start, DAY)
        entry = self._days.get(day)
        if entry is None:
            entry = self._days[day] = (tempfile.TemporaryFile(buffering=1 << 16), array("q"))  # noqa: SIM115
        file, keys = entry
        keys.append(second << (_POSITION_BITS + 1) | len(keys) << 1 | (1 if shipment else 0))
        file.write(line + SEP_BYTES + shipment + b"\n" if shipment else line + b"\n")
        self.count += 1

    def days(self):
        """(records of the day in the order added, the day's keys sorted), day by day; each day's
        file is closed once read."""
        for day in sorted(self._days):
            file, keys = self._days.pop(day)
            file.seek(0)
            records = file.read().split(b"\n")
            file.close()
            yield records, sorted(keys)


class _Generator:
    """Orders in id (= time) order, streamed; their events, shipments and history rows kept, then
    numbered in time order like a live hub writes them (the newest event has the highest id)."""

    def __init__(self, *, n_orders, events_per_order, seed, now, users, warehouses, clock, shops):
        from orders.demo import NOTES
        from orders.permissions import role_of, user_display_name

        self.n = n_orders
        self.rng = random.Random(seed)
        self.now = now
        self.clock = clock
        self.span_days = days_of_orders(n_orders)
        self.start = now - self.span_days * DAY
        self.notes = dict(NOTES)
        self.warehouses = warehouses  # [(id, name)]
        self.wh_cum = list(accumulate(WAREHOUSE_WEIGHTS))
        # (actor_id, actor_name, actor_role) per demo user, and the system's.
        self.actor = {None: (NULL, "", "system")}
        for username, user in users.items():
            self.actor[username] = (str(user.pk), user_display_name(user), str(role_of(user)))
        self.cs_ids = [users["cs1"].pk, users["cs2"].pk]
        self.cs_names = {users["cs1"].pk: "cs1", users["cs2"].pk: "cs2"}
        self.shops = shops  # {(channel, brand number): shop id}
        # The person who works a brand owns its orders; the other brands' alternate as before.
        self.brand_owner = {brand: users[username].pk for username, brands in BRAND_STAFF.items() for brand in brands}
        self.ch_cum = list(accumulate(w for _c, w, _f in CHANNELS))
        self.age_limits = [band * DAY for band in AGE_BANDS]
        self.state_mix = _state_mix()
        paths = _paths()
        self.paths = {state: (path, _states_along(path)) for state, path in paths.items()}
        self.conflict_paths = {
            state: (_with_risk_release(path), _states_along(_with_risk_release(path)))
            for state, path in paths.items()
            if any(action == "approve" for action, _who in path)
        }
        big = _big_path()
        self.big_path = (big, _states_along(big))
        self.big_ids = {max(1, round(n_orders * share)) for share in (0.2, 0.5, 0.8)}
        self.events_per_order = events_per_order
        self.keep_middle = 1.0
        self.extra_per_order = 0.0
        # The hub's zone (Asia/Shanghai has no daylight saving: one offset for the whole set).
        moment = dt.datetime.fromtimestamp(now, zoneinfo.ZoneInfo(_time_zone()))
        self.tz_offset = int(moment.utcoffset().total_seconds())
        self.local_days: dict[int, str] = {}
        self.day_numbers: Counter = Counter()
        self.stats: Counter = Counter()
        self.big_numbers: list[str] = []
        # Filled by orders(): the events (each with its shipment, if it shipped) spooled to disk by
        # day, numbered by events(); the big orders' history rows as (time key, line).
        self.event_spool = _EventSpool(self.start)
        self.shipments_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by shipments())
        self.history_rows: list[tuple[int, str]] = []
        # The lines: their own random stream (the orders and events are those of the set without
        # lines), their COPY text spooled to a temporary file while the orders stream.
        self.line_rng = random.Random(seed + 1)
        self.catalogue = _catalogue(random.Random(seed + 2))
        self.catalogue_prices = [price for price, _sku, _name, _grams in self.catalogue]
        self.line_count_cum = list(accumulate(LINE_COUNT_WEIGHTS))
        self.quantity_cum = list(accumulate(QUANTITY_WEIGHTS))
        self.lines_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by lines())
        self.line_block: list[str] = []
        self.line_id = 0

    def _brand_of(self, i: int) -> int:
        """Brands in turn; the big orders are brand 1's, so cs1 opens them."""
        return 1 if i in self.big_ids else 1 + (i * 7) % BRANDS

    # -- the plan: each order's time, final state and path, before any row is written ---------

    def plan(self) -> None:
        rng = self.rng
        n, span = self.n, self.span_days * DAY
        self.ordered = array("q", bytes(8 * (n + 1)))
        self.state_of = [""] * (n + 1)
        self.conflict = bytearray(n + 1)
        full = droppable = 0
        for i in range(1, n + 1):
            t0 = min(self.start + (i - 1) * span // n + rng.randrange(max(1, span // n)), self.now - 60)
            self.ordered[i] = t0
            if i in self.big_ids:
                self.state_of[i] = "archived"
                continue
            age = self.now - t0
            states, cum = self.state_mix[bisect_right(self.age_limits, age)]
            state = states[bisect_right(cum, rng.random() * cum[-1])]
            self.state_of[i] = state
            length = len(self.paths[state][0])
            if age < 2 * DAY and state in self.conflict_paths and rng.random() < CONFLICT_SHARE:
                self.conflict[i] = 1
                length += 2
            full += length
            if state not in ACTIVE_STATES:
                droppable += max(0, length - 3)
        full += len(self.big_ids) * BIG_ORDER_EVENTS
        if self.events_per_order is not None:
            target = self.events_per_order * n
            if target < full:
                self.keep_middle = max(0.0, 1 - (full - target) / droppable) if droppable else 1.0
            else:
                self.extra_per_order = (target - full) / n
        self.stats["full_path_events"] = full
        if full * (1 + self.extra_per_order) >= 1 << KEY_BITS:
            raise ValueError("too many events for the time keys: raise KEY_BITS")

    # -- rows -----------------------------------------------------------------------------------

    def _number(self, ts: int) -> str:
        """OH20260128-00001: the local date of the order and that day's next number."""
        day = (ts + self.tz_offset) // DAY
        stamp = self.local_days.get(day)
        if stamp is None:
            stamp = self.local_days[day] = dt.datetime.fromtimestamp(day * DAY, dt.UTC).strftime("%Y%m%d")
        self.day_numbers[stamp] += 1
        return f"OH{stamp}-{self.day_numbers[stamp]:05d}"

    def _times(self, i: int, path, state: str, big: bool) -> list[int]:
        """Natural step durations from the order's time, fitted so that a waiting order's last
        change is where its staleness says and nothing lies in the future."""
        rng, now, t0 = self.rng, self.now, self.ordered[i]
        times = [t0]
        for action, _who in path[1:]:
            lo, hi = STEP_SECONDS[action]
            times.append(times[-1] + rng.randint(lo, hi))
        if state in ACTIVE_STATES and not big:
            age = now - t0
            since = rng.uniform(0, min(STALE_AFTER, age)) if rng.random() < 0.5 else rng.uniform(0, age)
            return _fit(times, int(now - since), last_exact=True)
        limit = now - 60
        if times[-1] > limit:
            return _fit(times, int(limit - rng.uniform(0, max(0, (limit - t0) / 2))), last_exact=False)
        return times

    def _lines(self, i: int, channel: str, amount: str) -> str:
        """Order i's lines, as COPY text into the lines file; returns the order's weight (COPY
        text). The lines' net amounts add up to `amount` exactly; a gift order's only line is a
        gift (its whole price discounted)."""
        rng, catalogue, prices = self.line_rng, self.catalogue, self.catalogue_prices
        whole, _dot, cents = amount.partition(".")
        total = int(whole) * 100 + int(cents or 0)
        stats = self.stats
        if total == 0:
            count, quantities = 1, [1]
        else:
            count = 1 + bisect_right(self.line_count_cum, rng.random() * self.line_count_cum[-1])
            quantities = [
                1 + bisect_right(self.quantity_cum, rng.random() * self.quantity_cum[-1]) for _ in range(count)
            ]
        # SKUs priced near the order's amount per item (within half to one and a half of it).
        per_item = max(1, total // sum(quantities)) if total else rng.choice(prices)
        low = bisect_right(prices, per_item // 2)
        high = max(low + 1, bisect_right(prices, per_item * 3 // 2))
        low, high = min(low, len(prices) - 1), min(high, len(prices))
        picked = [catalogue[rng.randrange(low, high)] for _ in range(count)]
        units = [price for price, _sku, _name, _grams in picked]
        gross = sum(u * q for u, q in zip(units, quantities, strict=True))
        if total and gross < total:
            # Dearer than the catalogue's tier: prices up (rounded up), the cents back as a discount.
            units = [-(-u * total // gross) for u in units]
            gross = sum(u * q for u, q in zip(units, quantities, strict=True))
        discount_total = gross - total
        line_gross = [u * q for u, q in zip(units, quantities, strict=True)]
        discounts = [discount_total * g // gross for g in line_gross]
        biggest = max(range(count), key=line_gross.__getitem__)
        discounts[biggest] += discount_total - sum(discounts)
        rows = list(zip(picked, quantities, units, discounts, strict=True))
        if total and count < 6 and rng.random() < GIFT_LINE_SHARE:
            gift = catalogue[rng.randrange(len(catalogue))]
            rows.append((gift, 1, gift[0], gift[0]))
            stats["gift_lines"] += 1
        weight = 0
        block, platform = self.line_block, channel != "manual"
        for position, ((_price, sku, name, grams), quantity, unit, discount) in enumerate(rows, 1):
            self.line_id += 1
            gift = "t" if unit * quantity == discount else "f"
            line_ref = f"{i}{position:02d}" if platform else ""
            block.append(
                f"{self.line_id}\t{i}\t{position}\t{line_ref}\t{sku}\t{name}\t{quantity}\t"
                f"{unit // 100}.{unit % 100:02d}\t{discount // 100}.{discount % 100:02d}\tCNY\t{gift}\t{grams}\n"
            )
            weight += grams * quantity
        stats["lines"] += len(rows)
        if len(block) >= CHUNK * 3:
            self.lines_file.write("".join(block).encode())
            block.clear()
        return str(weight)

    def lines(self):
        """The lines' COPY text, in the order of their orders (ids follow the orders')."""
        if self.line_block:
            self.lines_file.write("".join(self.line_block).encode())
            self.line_block = []
        self.lines_file.seek(0)
        while chunk := self.lines_file.read(8 << 20):
            yield chunk
        self.lines_file.close()

    def _contested(self, changed_by_role: dict[str, int]) -> str:
        """role_changed_at and contested_until as the saves of the order's changes left them
        (HubSettings' default thresholds). Orders untouched for longer than the longest window
        keep an empty record, as the migration that introduced it left them."""
        if not changed_by_role or max(changed_by_role.values()) < self.now - CONFLICT_WINDOW_MAX_HOURS * HOUR:
            return f"{{}}\t{NULL}"
        record = json.dumps({role: self.clock.text(ts) for role, ts in changed_by_role.items()})  # ISO 8601
        times = sorted(changed_by_role.values(), reverse=True)
        until = NULL
        if len(times) >= CONFLICT_ROLE_COUNT:
            until = self.clock.text(times[CONFLICT_ROLE_COUNT - 1] + CONFLICT_WINDOW_HOURS * HOUR)
        return f"{record}\t{until}"

    def orders(self):
        """Yield the orders' COPY text block by block; keep their events, shipments, history."""
        from orders.conflicts import CONTESTED_ACTIONS

        contested_actions = frozenset(CONTESTED_ACTIONS)
        rng, clock_text, actor, notes, now = self.rng, self.clock.text, self.actor, self.notes, self.now
        stats, spool = self.stats, self.event_spool
        previous_gift = False
        for block_start in range(1, self.n + 1, CHUNK):
            block = []
            for i in range(block_start, min(block_start + CHUNK, self.n + 1)):
                t0, state, big = self.ordered[i], self.state_of[i], i in self.big_ids
                if big:
                    path, moves = self.big_path
                elif self.conflict[i]:
                    path, moves = self.conflict_paths[state]
                else:
                    path, moves = self.paths[state]
                channel, _weight, external = CHANNELS[bisect_right(self.ch_cum, rng.random() * self.ch_cum[-1])]
                external_id = external(i)
                gift = not big and i > 1 and not previous_gift and rng.random() < GIFT_SHARE
                previous_gift = gift
                number = self._number(t0)
                priority = 0
                if gift:
                    amount = "0.00"
                elif rng.random() < PRIORITY_SHARE:
                    amount, priority = rng.choice(PRIORITY_AMOUNTS), 1
                else:
                    amount = rng.choice(AMOUNTS)
                # Brands in turn, a gift with its main order (the order before it).
                brand = self._brand_of(i - 1 if gift else i)
                shop_id = self.shops[(channel, brand)]
                owner = None if rng.random() < UNASSIGNED_SHARE else self.brand_owner.get(brand, self.cs_ids[i % 2])
                owner_name = self.cs_names[owner] if owner else f"cs{1 + i % 2}"
                province, city, district, street, postcode = PLACES[i % len(PLACES)]
                phone = f"13{8 + i % 2}{(i * 48271) % 10**8:08d}"
                ordered = clock_text(t0)
                head = (
                    f"{i}\t{number}\t{channel}\t{external_id}\tbuyer{i}@example.com\t{phone}\t{ordered}\t{amount}\tCNY"
                )
                tail = (
                    f"{RECIPIENTS[i % len(RECIPIENTS)]}\t{phone}\t{street.format(n=1 + i % 997, m=1 + i % 39)}\t"
                    f"{city}\t{district}\t{postcode}\t{province}\t{shop_id}\t0.00\t0.00\t\t\t"
                    f"{self._lines(i, channel, amount)}"
                )
                owner_text = str(owner) if owner else NULL
                main = str(i - 1) if gift else NULL
                times = self._times(i, path, state, big)
                # Which steps are recorded.
                keep = [True] * len(path)
                if self.keep_middle < 1.0 and not big and state not in ACTIVE_STATES:
                    for j in range(1, len(path) - 1):
                        if path[j][0] != "ship" and rng.random() >= self.keep_middle:
                            keep[j] = False
                if self.extra_per_order and not big:
                    whole = int(self.extra_per_order)
                    extra = whole + (rng.random() < self.extra_per_order - whole)
                    if extra:
                        path, moves, times, keep = _with_details(path, moves, times, keep, extra, rng)
                # Each step: the order as it was after it, its event, its shipment, its history row.
                warehouse_id = NULL
                changed_by_role = {}
                shipment_seq = recorded = 0
                state_changed = t0
                updated_by = NULL
                for j, (action, who) in enumerate(path):
                    version = j + 1
                    actor_id, actor_name, role = actor[owner_name if who == "cs" else who]
                    from_state, to_state = moves[j]
                    ts = times[j]
                    data = "{}"
                    note = notes.get(action, "")
                    if action == "created":
                        data = f'{{"channel": "{channel}", "external_id": "{external_id}"}}'
                    elif action == "allocate":
                        wh_id, wh_name = self.warehouses[bisect_right(self.wh_cum, rng.random() * self.wh_cum[-1])]
                        warehouse_id = str(wh_id)
                        data = f'{{"warehouse_id": {wh_id}, "warehouse": "{wh_name}"}}'
                    elif action == "details_updated":
                        data = f'{{"changes": {{"priority": [{priority}, {1 - priority}]}}}}'
                        priority = 1 - priority
                    if to_state != from_state or action == "reship":
                        state_changed = ts
                    updated_by = actor_id
                    if role != "system" and action in contested_actions:
                        changed_by_role[role] = ts
                    if not keep[j]:
                        continue
                    recorded += 1
                    index = spool.count
                    shipment = b""
                    if action in ("ship", "reship"):
                        shipment_seq += 1
                        carrier, pattern = CARRIERS[i % len(CARRIERS)]
                        tracking = pattern.format(i) + (f"R{shipment_seq}" if shipment_seq > 1 else "")
                        data = f'{{"carrier": "{carrier}", "tracking_number": "{tracking}"}}'
                        reason = note if action == "reship" else ""
                        shipment = (
                            f"{i}\t{shipment_seq}\t{carrier}\t{tracking}\t{reason}{SEP}{actor_id}\t{clock_text(ts)}"
                        ).encode()
                    spool.add(
                        ts,
                        f"{i}\t{action}\t{from_state}\t{to_state}\t{actor_id}\t{actor_name}\t{role}\t"
                        f"{clock_text(ts)}\t{version}\t{note}\t{data}".encode(),
                        shipment,
                    )
                    if big:
                        middle = (
                            f"{to_state}\t{clock_text(state_changed)}\t{priority}\t{version}\t{ordered}\t"
                            f"{clock_text(ts)}\t{owner_text}\t{main}\t{updated_by}\t{warehouse_id}"
                        )
                        kind = "+" if action == "created" else "~"
                        self.history_rows.append(
                            (
                                (ts << KEY_BITS) | index,
                                f"{head}\t{middle}\t{tail}\t{clock_text(ts)}\t{NULL}\t{kind}\t{actor_id}\n",
                            )
                        )
                middle = (
                    f"{state}\t{clock_text(state_changed)}\t{priority}\t{len(path)}\t{ordered}\t"
                    f"{clock_text(times[-1])}\t{owner_text}\t{main}\t{updated_by}\t{warehouse_id}"
                )
                block.append(f"{head}\t{middle}\t{tail}\t{self._contested(changed_by_role)}\n")
                if big:
                    self.big_numbers.append(number)
                stats[state] += 1
                stats["events"] += recorded
                stats["priority"] += priority
                stats["gift"] += gift
                stats["conflict_path"] += self.conflict[i]
                if state in ACTIVE_STATES and state not in ("submitted", "payment_failed"):
                    stats["stale"] += state_changed < now - STALE_AFTER
            yield "".join(block)

    def events(self):
        """The events' COPY text in time order (ids follow time), a day at a time; each shipment
        is numbered as its event is (in the order of their events) and spooled for shipments()."""
        spool, shipments = self.event_spool, self.shipments_file
        event_id = shipment_id = 0
        for records, keys in spool.days():
            block, shipped = [], []
            for key in keys:
                event_id += 1
                record = records[key >> 1 & _POSITION_MASK]
                if key & 1:
                    record, first, last = record.split(SEP_BYTES)
                    shipment_id += 1
                    shipped.append(b"%d\t%s\t%d\t%s\n" % (shipment_id, first, event_id, last))
                block.append(b"%d\t%s\n" % (event_id, record))
            shipments.write(b"".join(shipped))
            yield b"".join(block)
        self.stats["shipments"] = shipment_id

    def shipments(self):
        """Shipments in the order of their events (created with them), as events() numbered them."""
        self.shipments_file.seek(0)
        while chunk := self.shipments_file.read(8 << 20):
            yield chunk
        self.shipments_file.close()

    def history(self):
        rows = sorted(self.history_rows)
        self.stats["history"] = len(rows)
        yield "".join(f"{number}\t{line}" for number, (_key, line) in enumerate(rows, 1))


def _catalogue(rng: random.Random) -> list[tuple[int, str, str, int]]:
    """CATALOGUE_SKUS products as (unit price in cents, SKU, name, grams), cheapest first:
    prices from 9.90 to 899.00, spread log-evenly (most goods are cheap), ending in .90 or .00."""
    products = []
    for k in range(1, CATALOGUE_SKUS + 1):
        yuan = int(9.9 * (899 / 9.9) ** rng.random())
        cents = yuan * 100 + (90 if yuan < 100 else 0)
        kind = ITEM_KINDS[k % len(ITEM_KINDS)]
        products.append((cents, f"BN-{k:05d}", f"{kind} {k:04d}", rng.randrange(50, 3000, 10)))
    products.sort()
    return products


def _fit(times: list[int], end: int, *, last_exact: bool) -> list[int]:
    """Squeeze (or, for the last step, move) the steps so the path ends at `end`."""
    t0 = times[0]
    end = max(end, t0)
    if len(times) == 1:
        return times
    if last_exact:
        body = times[:-1]
        if body[-1] >= end:
            body = _scale(body, t0, end - 1 if end > t0 else t0)
        return [*body, end]
    return _scale(times, t0, end)


def _scale(times: list[int], t0: int, end: int) -> list[int]:
    span = times[-1] - t0
    if span <= 0:
        return [min(t, end) for t in times]
    factor = (end - t0) / span
    return [t0 + int((t - t0) * factor) for t in times]


def _with_details(path, moves, times, keep, extra, rng):
    """`extra` "details updated" events inserted at random points after creation."""
    path, moves, times, keep = list(path), list(moves), list(times), list(keep)
    for _ in range(extra):
        at = rng.randrange(1, len(path) + 1)
        state = moves[at - 1][1]
        who = "ops1" if rng.random() < 0.2 else "cs"
        previous = times[at - 1]
        following = times[at] if at < len(times) else previous + 600
        path.insert(at, ("details_updated", who))
        moves.insert(at, (state, state))
        times.insert(at, previous + (following - previous) // 2)
        keep.insert(at, True)
    return path, moves, times, keep


def _time_zone() -> str:
    from django.conf import settings

    return settings.TIME_ZONE


# ---------------------------------------------------------------------------------------------
# Build


def dataset_ensure(
    n_orders: int = 1_000_000,
    *,
    events_per_order: float | None = 4.0,
    seed: int = 20260128,
    max_age_hours: float = MAX_AGE_HOURS,
    force: bool = False,
    log=print,
) -> dict:
    """Make sure the current database holds the data set; build it when it does not.

    Returns the marker's stats (counts by state, events, shipments, the big orders' numbers,
    build seconds, built_at) plus "built": whether this call built it."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql" or "bench" not in name:
        raise RuntimeError(f"the data set is only built in a PostgreSQL benchmark database, not {name!r}")
    params = {
        "n_orders": n_orders,
        "events_per_order": events_per_order,
        "seed": seed,
        "generator": GENERATOR_VERSION,
    }
    with connection.cursor() as cursor:
        marker = _marker_read(cursor)
        problem = "--force" if force else _marker_problem(marker, params, max_age_hours=max_age_hours, cursor=cursor)
    if problem is None:
        log(f"Data set: reusing {n_orders:,} orders built {marker['built_at']:%Y-%m-%d %H:%M} UTC in {name}")
        return {**marker["stats"], "built": False, "built_at": marker["built_at"].isoformat(timespec="seconds")}
    log(f"Data set: building {n_orders:,} orders in {name} ({problem})")
    stats = _build(n_orders=n_orders, events_per_order=events_per_order, seed=seed, params=params, log=log)
    return {**stats, "built": True}


def _build(*, n_orders, events_per_order, seed, params, log) -> dict:
    from django.db import connection, transaction

    from orders.demo import demo_users_ensure, demo_warehouses_ensure

    started = time.perf_counter()
    users = demo_users_ensure()
    warehouses = [(w.pk, w.name) for w in demo_warehouses_ensure()]
    shops = _brands_ensure(users)
    now = int(time.time())
    clock = _Clock(now - days_of_orders(n_orders) * DAY - DAY, now + 40 * DAY)
    generator = _Generator(
        n_orders=n_orders,
        events_per_order=events_per_order,
        seed=seed,
        now=now,
        users=users,
        warehouses=warehouses,
        clock=clock,
        shops=shops,
    )
    generator.plan()
    timings = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = bool(cursor.fetchone()[0])
        if superuser:
            # No foreign-key checks and no row triggers for the load: the rows are consistent by construction.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} "
            "(id int PRIMARY KEY, params jsonb, stats jsonb, built_at timestamptz)"
        )
        cursor.execute(f"DELETE FROM {MARKER_TABLE}")
        cursor.execute(f"TRUNCATE {', '.join(TABLES)}, orders_ordernumbersequence RESTART IDENTITY CASCADE")
        indexes = _secondary_indexes_drop(cursor, TABLES)
        mark = time.perf_counter()
        raw = cursor.connection  # psycopg connection
        with raw.cursor().copy(
            f"COPY orders_order ({ORDER_COLUMNS}, role_changed_at, contested_until) FROM STDIN WITH (FREEZE)"
        ) as copy:
            for block in generator.orders():
                copy.write(block)
        timings["generate_and_copy_orders"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for table, columns, blocks in (
            ("orders_orderevent", EVENT_COLUMNS, generator.events()),
            ("orders_shipment", SHIPMENT_COLUMNS, generator.shipments()),
            ("orders_historicalorder", HISTORY_COLUMNS, generator.history()),
            ("orders_orderline", LINE_COLUMNS, generator.lines()),
        ):
            with raw.cursor().copy(f"COPY {table} ({columns}) FROM STDIN WITH (FREEZE)") as copy:
                for block in blocks:
                    copy.write(block)
        timings["sort_and_copy_events_shipments_history_lines"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for statement in indexes:
            cursor.execute(statement)
        timings["indexes"] = time.perf_counter() - mark
        for table, column in (
            ("orders_order", "id"),
            ("orders_orderevent", "id"),
            ("orders_shipment", "id"),
            ("orders_historicalorder", "history_id"),
            ("orders_orderline", "id"),
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)"
            )
        cursor.executemany(
            "INSERT INTO orders_ordernumbersequence (day, last_value) VALUES (%s, %s)",
            [(dt.date(int(d[:4]), int(d[4:6]), int(d[6:])), v) for d, v in generator.day_numbers.items()],
        )
        stats = dict(generator.stats)
        stats.update(
            orders=n_orders,
            big_order_numbers=generator.big_numbers,
            active=sum(stats.get(s, 0) for s in ACTIVE_STATES),
            warehouse_stage=sum(stats.get(s, 0) for s in ("allocated", "packed", "shipped")),
            by_state={s: stats.pop(s) for s in list(stats) if s in STATE_NAMES},
            foreign_key_checks_during_load=not superuser,
        )
        stats["build_seconds"] = round(time.perf_counter() - started, 1)
        stats["timings"] = {k: round(v, 1) for k, v in timings.items()}
        built_at = dt.datetime.fromtimestamp(now, dt.UTC)
        cursor.execute(
            f"INSERT INTO {MARKER_TABLE} (id, params, stats, built_at) VALUES (1, %s, %s, %s)",
            [json.dumps(params), json.dumps(stats, ensure_ascii=False), built_at],
        )
    mark = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(TABLES)}, orders_ordernumbersequence, orders_shop, orders_brand")
    stats["timings"]["analyze"] = round(time.perf_counter() - mark, 1)
    stats["build_seconds"] = round(time.perf_counter() - started, 1)
    # The building process's peak resident memory (Linux: kB), Django and all.
    stats["build_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {MARKER_TABLE} SET stats = %s WHERE id = 1", [json.dumps(stats, ensure_ascii=False)])
    log(
        f"Data set: {n_orders:,} orders, {stats['events']:,} events, {stats['shipments']:,} shipments, "
        f"{stats['lines']:,} lines, "
        f"{stats['active']:,} waiting on someone ({stats['stale']:,} stale), {stats['warehouse_stage']:,} in the "
        f"warehouse, built in {stats['build_seconds']:.0f} s (peak memory {stats['build_peak_rss_mb']:,} MB) "
        f"{stats['timings']}"
    )
    return {**stats, "built_at": built_at.isoformat(timespec="seconds")}


def _brands_ensure(users) -> dict[tuple[str, int], int]:
    """The agency's brands, a shop of each on every channel, and who works which: made once,
    kept across builds (the order tables are truncated, brands and shops are not). Returns
    {(channel, brand number): shop id}."""
    from orders.models import Brand, Shop
    from orders.states import Channel

    shops = {}
    for number in range(1, BRANDS + 1):
        brand, _created = Brand.objects.get_or_create(
            code=f"bench-{number:02d}", defaults={"name": f"品牌 {number:02d}"}
        )
        for channel in Channel.values:
            shop, _created = Shop.objects.get_or_create(
                code=f"bench-{number:02d}-{channel}",
                defaults={"brand": brand, "channel": channel, "name": f"品牌 {number:02d} · {channel}"},
            )
            shops[(channel, number)] = shop.pk
    for username, numbers in BRAND_STAFF.items():
        users[username].brands.set(Brand.objects.filter(code__in=[f"bench-{n:02d}" for n in numbers]))
    return shops


def _secondary_indexes_drop(cursor, tables) -> list[str]:
    """Drop the indexes that back no constraint (rebuilt in one pass after the load, much faster
    than maintaining them row by row); returns the statements that recreate them."""
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        [list(tables)],
    )
    rows = cursor.fetchall()
    for name, _definition in rows:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--events-per-order", type=float, default=4.0, help="average events per order (default 4)")
    parser.add_argument("--full-paths", action="store_true", help="every order's whole path (~8.5 events per order)")
    parser.add_argument("--database", help="database name (default: DATABASE_URL's name + _boards)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the stored set fits")
    parser.add_argument("--max-age-hours", type=float, default=MAX_AGE_HOURS, help="rebuild a set older than this")
    args, _unknown = parser.parse_known_args(argv)
    dataset_database_select(name=args.database)
    from bench.common import django_setup_for_bench

    if (status := django_setup_for_bench("dataset")) is not None:
        return status
    dataset_database_prepare()
    dataset_ensure(
        args.orders,
        events_per_order=None if args.full_paths else args.events_per_order,
        max_age_hours=args.max_age_hours,
        force=args.force,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
