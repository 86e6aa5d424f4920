"""A sale day, compressed: orders arrive over the channels, the shipped rules approve and allocate
the clean ones through the real outbox and a real Celery worker, the exceptions wait for people.

    python -m bench.day [--orders 50000] [--minutes M] [--seed 20261207] [--cooling-off-minutes 1]

(`make bench` runs it on its own PostgreSQL database with REDIS_URL and a queue of the
benchmarks' own, ORDERHUB_TASK_QUEUE; see scripts/bench.sh.)

The day. `--orders` orders (default 50,000) placed over 24 hours on a sale day's curve (the sale
opens at midnight: the first hour is the busiest, ~2x the day's mean; quiet until 7:00, an
evening peak 20:00-23:00). Mix, drawn per order with `--seed`: ~3 % with a buyer remark, ~1 %
with a bad address (half incomplete: no phone or no street; half unparseable: a province that
does not exist), ~0.5 % duplicates (the same buyer, items and amount as an earlier clean order
of the same shop, 0.5-3 h of the day's clock later), ~1 % cancelled by the buyer on the channel
within the cooling-off (a Shopify `orders/cancelled` webhook), ~1 % of Shopify deliveries
retried by Shopify (the same X-Shopify-Webhook-Id a few seconds later), everything else clean.
Every order has 1-6 lines (OrderLine; Shopify `line_items`), SKUs of a 3,000-item catalogue,
unit prices, discounts and a shipping fee that add up to the amount; ~2 % are above 500 CNY
(the high-value rule's priority lane).

The channels, through their real paths only. 40 % Shopify: one signed `orders/create` webhook
per order (financial_status paid), POSTed through Django's test client in this process to
`/webhooks/shopify/orders` with the real HMAC of a shop with its own webhook secret; the early
cancels as `orders/cancelled` deliveries of the whole order. 60 % Taobao: a 千牛-style CSV
export (one row per line, the address in one column) imported through
`integrations.services.imports.orders_import_file` (what `manage.py import_orders` runs)
every 30 minutes of the day's clock, holding the orders placed since the last import.

The rules, as shipped (rules migrations), plus what an operator sets up for the day:
the shipped approval rule "自动审单：干净订单 / Approve clean orders" switched on, its cooling-off
set to `--cooling-off-minutes`; allocation rules on *approved* by ship-to region (华南/西南 →
the Guangzhou warehouse, 华北/东北/西北 → Tianjin, stop after each; the rest → Hangzhou), and
carrier rules on *allocated* (over 5 kg → Cainiao, the rest → ZTO), since the shipped set has no
allocation or carrier rule. The default rules stay as they are (high value, built-in
reactions: approved → tell the CS owner …).

The workers: the Procfile's two, processes of their own on the benchmark's queues
(bench/notify_latency.py's ProcfileWorkers): the hub lane's `--pool=prefork --concurrency 2`
and the calls lane's `--pool=threads --concurrency 8`; no beat: the bench runs beat's one job
that matters here, `outbox_redispatch_due`, every 10 s as beat would (it wakes the drains of
lanes with rows pending 30 s past due; the json counts the overdue rows it saw).

Time compression. The day's 24 h are squeezed into `--minutes` of wall time: order k is sent
at (its time of day) / factor, factor = 1440 / minutes, and carries its uncompressed time of
day (yesterday's date, so never in the future) as created_at / 订单创建时间; the duplicate window
(6 h of ordered_at) therefore works on the day's clock. Work is not compressed: every request,
import, transaction and message takes the wall time it takes. The cooling-off is the one
duration shortened separately: the rule takes whole minutes (0-1,440), so the shipped 10 minutes
become `--cooling-off-minutes` (default 1, a factor of 10, the smallest that still lets a
buyer's cancel land first); the buyers' cancels arrive 10-80 % of the way into it. Paid →
allocated is measured in wall seconds from the `pay` event to the `allocate` event (both written
by the hub); the target "≤ cooling-off + 60 s" is taken as cooling-off as configured + 60 wall
seconds, i.e. the hub's own delay after the cooling-off (the overhang) must stay under 60 s, the
same 60 s a real day allows (work is not compressed, so nothing is scaled there).

Default --minutes: orders × 60 / 50,000, that is 60 minutes for the default day (a compression
of 24): at the sale-day peak that is ~28 orders/s arriving, ~5 outbox messages per clean order
(rules on pay, the approval, approved → notify and the allocation rules, the carrier rules),
~140 messages/s at the peak and ~70/s over the day. (Before the outbox took rows in batches, a
single solo worker delivered 60-100 messages/s here and fell behind at the peaks.) A shorter
day only measures the backlog.
The json says whether the worker kept up (`worker.kept_up`: the first-attempt pickup delay p95
under 5 s) and how many messages per second it delivered.

Targets (each with its pass flag in bench/results/day.json):
- touchless: ≥ 95 % of clean orders approved and allocated by the rules, no person involved;
- exceptions: every injected one in the queue (OrderException) with the reason and the owning
  role (orders.states.EXCEPTION_OWNERS), none missed, no clean order in the queue, every early
  cancel cancelled and never approved;
- latency: paid → allocated p95 ≤ cooling-off + 60 s (see above);
- integrity: each order once, one `created`, `pay`, `approve` and `allocate` event at most per
  order, each webhook delivery recorded once (retries answered as duplicates), every outbox row
  done after the drain.

The order tables are TRUNCATEd at the start. A missing target is not a failure of the run
(exit 0, "pass": false); a worker that dies or an intake that errors is (exit 1).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import datetime as dt
import hashlib
import hmac
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from itertools import accumulate
from pathlib import Path

from bench.common import cpu_model, django_setup_for_bench, percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "day.json"
WORKER_LOG = ROOT / "var" / "bench-day-worker.log"
DAY_SECONDS = 86_400
DEFAULT_ORDERS = 50_000
MINUTES_PER_50K = 60.0
TOUCHLESS_TARGET = 0.95
OVERHANG_TARGET_S = 60.0
KEPT_UP_PICKUP_P95_S = 5.0
REDISPATCH_EVERY_S = 10.0
SHOPIFY_SHARE = 0.40
IMPORT_EVERY_DAY_MINUTES = 30
SHOP_DOMAIN = "bench-day.myshopify.com"
WEBHOOK_SECRET = "bench-day-shopify-secret"
# Per order, exclusive (the rest is clean). Early cancels are Shopify's (a cancel webhook).
MIX = {"remark": 0.03, "bad_address": 0.01, "duplicate": 0.005, "cancel": 0.01}
RETRY_SHARE = 0.01  # Shopify deliveries sent twice (same webhook id)
# A sale day's orders per hour (the sale opens at midnight).
HOURLY = [9, 5, 2, 1, 1, 1, 1.5, 2.5, 3.5, 4.5, 5.5, 5, 4.5, 4.5, 5, 5, 4.5, 4, 4, 5, 7, 8, 7, 5]
AMOUNTS_CENTS = [3990, 5990, 8890, 12900, 15900, 19900, 26800, 39900, 45900]
PRIORITY_AMOUNTS_CENTS = [52000, 68800]  # above 500 (the high-value rule), below 5x the usual
PRIORITY_SHARE = 0.02
LINE_COUNT_WEIGHTS = [32, 26, 19, 12, 7, 4]  # 1 … 6 lines
QUANTITY_WEIGHTS = [80, 15, 5]
SHIPPING_FEES_CENTS = [0, 0, 0, 800, 1000]
PLACES = [
    ("浙江省", "杭州市", "余杭区", "文一西路 {n} 号 {m} 幢", "311100"),
    ("上海市", "上海市", "浦东新区", "张江路 {n} 弄 {m} 号", "201203"),
    ("广东省", "深圳市", "南山区", "科技园南路 {n} 号 {m} 室", "518057"),
    ("四川省", "成都市", "武侯区", "天府大道 {n} 号 {m} 栋", "610041"),
    ("北京市", "北京市", "朝阳区", "望京街 {n} 号院 {m} 号楼", "100102"),
    ("江苏省", "南京市", "鼓楼区", "中山北路 {n} 号 {m} 室", "210009"),
    ("湖北省", "武汉市", "洪山区", "珞喻路 {n} 号 {m} 栋", "430074"),
    ("辽宁省", "沈阳市", "和平区", "南京北街 {n} 号 {m} 室", "110001"),
]
SURNAMES, GIVEN = "王李张刘陈杨黄赵吴周徐孙马朱胡", ["芳", "伟", "娜", "敏", "静", "磊", "洋", "婷", "杰", "晨"]
REMARKS = ["请周末送货", "发顺丰，谢谢", "礼物，请不要放发票", "电话联系后再送", "包装结实一点"]
# Which exception each injected kind must raise, and so which role's queue it lands in.
EXPECTED_REASON = {"remark": "buyer_remark", "bad_address": "address_incomplete", "duplicate": "suspected_duplicate"}
TABLES = [
    "rules_rulefiring",
    "integrations_inbounddelivery",
    "alerts_notification",
    "orders_outboxmessage",
    "orders_orderexception",
    "orders_orderline",
    "orders_attachment",
    "orders_shipment",
    "orders_orderevent",
    "orders_historicalorder",
    "orders_order",
    "orders_ordernumbersequence",
]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.day", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=DEFAULT_ORDERS, help="orders in the day (default 50000)")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help=f"wall minutes the day is squeezed into (default: orders × {MINUTES_PER_50K:g} / 50,000)",
    )
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--cooling-off-minutes", type=int, default=1, help="the approval rule's (default 1)")
    parser.add_argument("--drain", type=float, default=None, help="seconds to wait after the last arrival")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args, ignored = parser.parse_known_args(argv)
    if ignored:
        print(f"day: ignoring arguments it does not take: {' '.join(ignored)}")
    if args.minutes is None:
        args.minutes = max(1.0, round(args.orders * MINUTES_PER_50K / DEFAULT_ORDERS, 1))
    if args.orders < 100 or args.minutes <= 0 or not 0 <= args.cooling_off_minutes <= 1440:
        parser.error("--orders at least 100, --minutes positive, --cooling-off-minutes 0 to 1440")
    if args.drain is None:
        # The last orders' cooling-off, then time for a backlog: at least 3 minutes.
        args.drain = max(180.0, args.cooling_off_minutes * 60 + 120, args.minutes * 60 * 0.25)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if (status := django_setup_for_bench("day", need_redis=True)) is not None:
        return status

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    import logging

    # One INFO line per webhook and re-dispatch is not what the run should print.
    for name in ("integrations", "orders"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return Day(args).run()


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The day's orders, planned before anything is sent


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Plan:
    """Every order of the day: channel, time of day, kind, buyer, address, lines, amount."""

    def __init__(self, *, n: int, seed: int, factor: float, day_start: dt.datetime):
        from bench.dataset import _catalogue

        rng = random.Random(seed)
        self.catalogue = _catalogue(random.Random(seed + 2))
        self.prices = [c[0] for c in self.catalogue]
        hour_cum = list(accumulate(HOURLY))
        times = sorted((bisect_right(hour_cum, rng.random() * hour_cum[-1]) + rng.random()) * 3600 for _ in range(n))
        self.orders: list[dict] = []
        clean_by_channel: dict[str, list[dict]] = defaultdict(list)
        counts = list(accumulate(LINE_COUNT_WEIGHTS))
        quantities = list(accumulate(QUANTITY_WEIGHTS))
        for k, day_t in enumerate(times, 1):
            channel = "shopify" if rng.random() < SHOPIFY_SHARE else "taobao"
            roll, kind = rng.random(), "clean"
            for name, share in MIX.items():
                if roll < share:
                    kind = name
                    break
                roll -= share
            if kind == "cancel":
                channel = "shopify"
            order = {
                "k": k,
                "channel": channel,
                "kind": kind,
                "day_t": day_t,
                "send_at": day_t / factor,
                "ordered_at": day_start + dt.timedelta(seconds=day_t),
                "external_id": str((6_100_000_000_000 if channel == "shopify" else 4_200_000_000_000_000_000) + k),
            }
            twin = None
            if kind == "duplicate":
                # An earlier clean order of the same shop, 0.5-3 h before on the day's clock.
                candidates = [o for o in clean_by_channel[channel][-2000:] if 1800 <= day_t - o["day_t"] <= 3 * 3600]
                twin = rng.choice(candidates) if candidates else None
                if twin is None:
                    order["kind"] = kind = "clean"
            if twin is not None:
                for name in ("buyer_phone", "buyer_email", "recipient", "address", "lines", "shipping", "amount"):
                    order[name] = twin[name]
                order["twin"] = twin["k"]
            else:
                order.update(self._buyer_and_goods(rng, k, counts, quantities))
            if kind == "remark":
                order["remark"] = rng.choice(REMARKS)
            if kind == "bad_address":
                province, city, district, street, postcode = order["address"]
                if rng.random() < 0.5:
                    order["address"] = ("火星省", "奥林匹斯市", district, street, postcode)
                    order["bad_address"] = "unparseable province"
                elif rng.random() < 0.5:
                    order["recipient"] = (order["recipient"][0], "")
                    order["bad_address"] = "no phone"
                else:
                    order["address"] = (province, city, district, "", postcode)
                    order["bad_address"] = "no street"
            if kind == "cancel":
                order["cancel_after"] = rng.uniform(0.1, 0.8)  # of the cooling-off
            order["retry"] = channel == "shopify" and rng.random() < RETRY_SHARE
            if kind == "clean":
                clean_by_channel[channel].append(order)
            self.orders.append(order)

    def _buyer_and_goods(self, rng, k: int, counts, quantities) -> dict:
        place = PLACES[rng.randrange(len(PLACES))]
        province, city, district, street, postcode = place
        street = street.format(n=rng.randrange(1, 999), m=rng.randrange(1, 40))
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")
        phone = f"13{k % 10}{(k * 7919 + 10_000_000) % 10**8:08d}"
        if rng.random() < PRIORITY_SHARE:
            amount = rng.choice(PRIORITY_AMOUNTS_CENTS)
        else:
            amount = rng.choice(AMOUNTS_CENTS)
        shipping = rng.choice(SHIPPING_FEES_CENTS)
        lines = self._lines(rng, amount - shipping, counts, quantities)
        return {
            "buyer_phone": f"15{k:09d}",
            "buyer_email": f"day{k}@example.com",
            "recipient": (name, phone),
            "address": (province, city, district, street, postcode),
            "lines": lines,
            "shipping": shipping,
            "amount": amount,
        }

    def _lines(self, rng, total: int, counts, quantities) -> list[dict]:
        """1-6 lines whose net amounts add up to `total` cents (as bench/dataset.py's lines)."""
        count = 1 + bisect_right(counts, rng.random() * counts[-1])
        qty = [1 + bisect_right(quantities, rng.random() * quantities[-1]) for _ in range(count)]
        per_item = max(1, total // sum(qty))
        low = min(bisect_right(self.prices, per_item // 2), len(self.prices) - 1)
        high = min(max(low + 1, bisect_right(self.prices, per_item * 3 // 2)), len(self.prices))
        picked = [self.catalogue[rng.randrange(low, high)] for _ in range(count)]
        units = [p[0] for p in picked]
        gross = sum(u * q for u, q in zip(units, qty, strict=True))
        if gross < total:
            units = [-(-u * total // gross) for u in units]
            gross = sum(u * q for u, q in zip(units, qty, strict=True))
        line_gross = [u * q for u, q in zip(units, qty, strict=True)]
        discounts = [(gross - total) * g // gross for g in line_gross]
        biggest = max(range(count), key=line_gross.__getitem__)
        discounts[biggest] += gross - total - sum(discounts)
        return [
            {"sku": sku, "name": name, "quantity": q, "unit": u, "discount": d, "grams": grams}
            for (_p, sku, name, grams), q, u, d in zip(picked, qty, units, discounts, strict=True)
        ]


def shopify_payload(order: dict, *, cancelled_at: str | None = None) -> bytes:
    name, phone = order["recipient"]
    province, city, district, street, postcode = order["address"]
    items = [
        {
            "id": int(order["external_id"]) * 10 + position,
            "sku": line["sku"],
            "title": line["name"],
            "quantity": line["quantity"],
            "price": _money(line["unit"]),
            "discount_allocations": [{"amount": _money(line["discount"])}] if line["discount"] else [],
            "grams": line["grams"],
        }
        for position, line in enumerate(order["lines"], 1)
    ]
    body = {
        "id": int(order["external_id"]),
        "name": f"#D{order['k']}",
        "email": order["buyer_email"],
        "phone": order["buyer_phone"],
        "created_at": order["ordered_at"].isoformat(),
        "currency": "CNY",
        "total_price": _money(order["amount"]),
        "financial_status": "paid",
        "cancelled_at": cancelled_at,
        "cancel_reason": "customer" if cancelled_at else None,
        "note": order.get("remark", ""),
        "taxes_included": True,
        "total_tax": "0.00",
        "shipping_lines": [{"price": _money(order["shipping"])}] if order["shipping"] else [],
        "shipping_address": {
            "first_name": name[1:],
            "last_name": name[:1],
            "phone": phone,
            "province": province,
            "city": city,
            "address2": district,
            "address1": street,
            "zip": postcode,
        },
        "line_items": items,
    }
    return json.dumps(body, ensure_ascii=False).encode()


TAOBAO_HEADER = ["订单编号", "买家实付", "订单状态", "收货人姓名", "收货地址", "联系手机", "买家电话"]
TAOBAO_HEADER += ["订单创建时间", "订单付款时间", "买家留言", "邮费"]
TAOBAO_HEADER += ["子订单编号", "商家编码", "宝贝标题", "购买数量", "价格", "优惠金额"]


def taobao_csv(path: Path, orders: list[dict], *, shanghai) -> None:
    """A 千牛 export: one row per line, the order's columns on its first row."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TAOBAO_HEADER)
        for order in orders:
            name, phone = order["recipient"]
            province, city, district, street, postcode = order["address"]
            address = " ".join(p for p in (province, city, district, street) if p) + f"({postcode})"
            at = order["ordered_at"].astimezone(shanghai).strftime("%Y-%m-%d %H:%M:%S")
            head = [
                order["external_id"],
                _money(order["amount"]),
                "买家已付款",
                name,
                address,
                phone,
                order["buyer_phone"],
                at,
                at,
                order.get("remark", ""),
                _money(order["shipping"]),
            ]
            for position, line in enumerate(order["lines"], 1):
                row = head if position == 1 else [order["external_id"]] + [""] * (len(head) - 1)
                line_columns = [f"{order['external_id']}{position:02d}", line["sku"], line["name"]]
                line_columns += [line["quantity"], _money(line["unit"]), _money(line["discount"])]
                writer.writerow([*row, *line_columns])


# ---------------------------------------------------------------------------------------------
# The run


class Day:
    def __init__(self, args):
        self.args = args
        self.factor = DAY_SECONDS / (args.minutes * 60)
        self.webhook_ms: list[float] = []
        self.import_s: list[tuple[int, float]] = []
        self.errors: list[str] = []
        self.statuses: Counter = Counter()
        self.lags: list[float] = []
        self.redispatched = 0
        self.backlog: list[tuple[float, int]] = []  # (wall s since start, pending due rows)
        self.sent_deliveries = 0

    # -- set-up ---------------------------------------------------------------------------------

    def setup(self) -> None:
        from django.db import connection

        from orders.demo import demo_users_ensure, demo_warehouses_ensure
        from orders.models import Brand, HubSettings, Shop
        from rules.defaults import APPROVAL_NAME, rules_defaults_install
        from rules.models import ActionKind, Rule, RuleAction
        from rules.services import rules_cache_clear

        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        demo_users_ensure()
        warehouses = {w.code: w for w in demo_warehouses_ensure()}
        rules_defaults_install(Rule, RuleAction)
        # The operator's set-up for the day: the shipped approval rule on, allocation and carriers.
        approval = Rule.objects.get(name=APPROVAL_NAME)
        approval.enabled = True
        approval.save()
        approval.actions.filter(kind=ActionKind.APPROVE).update(cooling_off_minutes=self.args.cooling_off_minutes)
        Rule.objects.filter(name__startswith="bench-day ").delete()
        allocation = [
            ("华南西南 → 广州仓", ["region:south", "region:southwest"], "gz-south", True),
            ("北方 → 天津仓", ["region:north", "region:northeast", "region:northwest"], "tj-north", True),
            ("其他 → 杭州仓", [], "hz-own", False),
        ]
        for position, (name, places, code, stop) in enumerate(allocation, 30):
            rule = Rule.objects.create(
                name=f"bench-day {name}", enabled=True, trigger="approve", position=position, places=places,
                stop_processing=stop,
            )  # fmt: skip
            RuleAction.objects.create(rule=rule, kind=ActionKind.ASSIGN_WAREHOUSE, warehouse=warehouses[code])
        heavy = Rule.objects.create(
            name="bench-day 重货 → 菜鸟", enabled=True, trigger="allocate", position=30, weight_min_grams=5000,
            stop_processing=True,
        )  # fmt: skip
        RuleAction.objects.create(rule=heavy, kind=ActionKind.CHOOSE_CARRIER, carrier="cainiao")
        rest = Rule.objects.create(name="bench-day 其他 → 中通", enabled=True, trigger="allocate", position=31)
        RuleAction.objects.create(rule=rest, kind=ActionKind.CHOOSE_CARRIER, carrier="zto")
        for rule in Rule.objects.filter(name__startswith="bench-day "):
            rule.full_clean()
        rules_cache_clear()
        brand, _ = Brand.objects.get_or_create(code="bench-day", defaults={"name": "大促品牌"})
        self.shopify_shop, _ = Shop.objects.update_or_create(
            code="bench-day-shopify",
            defaults={
                "brand": brand,
                "channel": "shopify",
                "name": "大促 · Shopify",
                "external_shop_id": SHOP_DOMAIN,
                "webhook_secret": WEBHOOK_SECRET,
                "is_active": True,
            },
        )
        self.taobao_shop, _ = Shop.objects.update_or_create(
            code="bench-day-taobao",
            defaults={"brand": brand, "channel": "taobao", "name": "大促 · 天猫", "is_active": True},
        )
        hub = HubSettings.objects.first()
        self.hub_settings = {
            "duplicate_window_hours": hub.duplicate_window_hours if hub else 6,
            "amount_anomaly_factor": hub.amount_anomaly_factor if hub else HubSettings.DEFAULT_AMOUNT_ANOMALY_FACTOR,
        }
        self.rules = [
            {"name": r.name, "trigger": r.trigger, "actions": [a.kind for a in r.actions.all()]}
            for r in Rule.objects.filter(enabled=True).order_by("trigger", "position").prefetch_related("actions")
        ]

    def teardown(self) -> None:
        """The rules as shipped again (the day's off, the approval rule off), for the benchmarks
        that run after this one on the same database and count on the default rules."""
        from rules.defaults import APPROVAL_NAME
        from rules.models import Rule
        from rules.services import rules_cache_clear

        Rule.objects.filter(name__startswith="bench-day ").update(enabled=False)
        Rule.objects.filter(name=APPROVAL_NAME).update(enabled=False)
        rules_cache_clear()

    # -- sending --------------------------------------------------------------------------------

    def webhook(self, client, body: bytes, *, topic: str, delivery_id: str) -> dict:
        signature = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
        started = time.perf_counter()
        response = client.post(
            "/webhooks/shopify/orders",
            data=body,
            content_type="application/json",
            HTTP_X_SHOPIFY_HMAC_SHA256=signature,
            HTTP_X_SHOPIFY_TOPIC=topic,
            HTTP_X_SHOPIFY_SHOP_DOMAIN=SHOP_DOMAIN,
            HTTP_X_SHOPIFY_WEBHOOK_ID=delivery_id,
        )
        self.webhook_ms.append((time.perf_counter() - started) * 1000)
        self.sent_deliveries += 1
        self.statuses[f"{topic} {response.status_code}"] += 1
        if response.status_code != 200:
            self.errors.append(f"{topic} {delivery_id}: {response.status_code} {response.content[:300]!r}")
            return {}
        return response.json()

    def import_batch(self, orders: list[dict], number: int, folder: Path) -> None:
        from zoneinfo import ZoneInfo

        from integrations.services.imports import OrdersImportRefused, orders_import_file

        path = folder / f"taobao-day-{number:04d}.csv"
        taobao_csv(path, orders, shanghai=ZoneInfo("Asia/Shanghai"))
        started = time.perf_counter()
        try:
            result = orders_import_file(path=path, channel="taobao", shop_code=self.taobao_shop.code)
        except OrdersImportRefused as exc:
            self.errors.append(f"import {path.name}: {exc}")
            return
        self.import_s.append((len(orders), time.perf_counter() - started))
        if result.created != len(orders):
            self.errors.append(f"import {path.name}: {result.created} created of {len(orders)}")

    def schedule(self, plan: Plan) -> list[tuple[float, int, str, object]]:
        """(wall s, tie, what, payload) in time order."""
        cooling = self.args.cooling_off_minutes * 60
        items = []
        batch: list[dict] = []
        every = IMPORT_EVERY_DAY_MINUTES * 60
        next_import = every
        imports = 0
        for order in plan.orders:
            while order["day_t"] >= next_import:
                if batch:
                    imports += 1
                    items.append((next_import / self.factor, 1, "import", (imports, batch)))
                    batch = []
                next_import += every
            if order["channel"] == "taobao":
                batch.append(order)
                continue
            items.append((order["send_at"], 0, "create", order))
            if order["retry"]:
                items.append((order["send_at"] + 2.0, 0, "retry", order))
            if order["kind"] == "cancel":
                items.append((order["send_at"] + max(1.0, cooling * order["cancel_after"]), 0, "cancel", order))
        if batch:
            imports += 1
            items.append((max(DAY_SECONDS, next_import) / self.factor, 1, "import", (imports, batch)))
        items.sort(key=lambda item: (item[0], item[1]))
        return items

    def drive(self, items, client, worker, folder: Path) -> None:
        from django.db import connection

        from orders.outbox.services import outbox_redispatch_due

        start = self.start = time.perf_counter()
        next_redispatch = REDISPATCH_EVERY_S
        last_report = 0.0
        for done, (at, _tie, what, payload) in enumerate(items):
            while True:
                now = time.perf_counter() - start
                if now >= next_redispatch:
                    self.redispatched += outbox_redispatch_due()
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT count(*) FROM orders_outboxmessage WHERE status = 'pending' "
                            "AND next_attempt_at <= now()"
                        )
                        self.backlog.append((round(now, 1), cursor.fetchone()[0]))
                    next_redispatch += REDISPATCH_EVERY_S
                    if not worker.alive():
                        raise BenchError(f"the worker exited ({worker.proc.returncode})")
                if now >= at:
                    break
                time.sleep(min(at - now, max(0.0, next_redispatch - now), 0.2))
            self.lags.append(max(0.0, now - at))
            if what == "create":
                self.webhook(client, shopify_payload(payload), topic="orders/create", delivery_id=f"c-{payload['k']}")
            elif what == "retry":
                answer = self.webhook(
                    client, shopify_payload(payload), topic="orders/create", delivery_id=f"c-{payload['k']}"
                )
                if answer and not answer.get("duplicate"):
                    self.errors.append(f"retry of c-{payload['k']} was not answered as a duplicate: {answer}")
            elif what == "cancel":
                cancelled_at = dt.datetime.now(dt.UTC).isoformat()
                self.webhook(
                    client,
                    shopify_payload(payload, cancelled_at=cancelled_at),
                    topic="orders/cancelled",
                    delivery_id=f"x-{payload['k']}",
                )
            else:
                number, batch = payload
                self.import_batch(batch, number, folder)
            if now - last_report >= 60:
                last_report = now
                backlog = self.backlog[-1][1] if self.backlog else 0
                print(
                    f"  {now:6.0f} s: {done:,}/{len(items):,} arrivals sent, lag {self.lags[-1]:.1f} s, "
                    f"outbox due and pending {backlog:,}",
                    flush=True,
                )
        self.arrivals_seconds = time.perf_counter() - start

    def drain(self, worker) -> bool:
        """Until no outbox row is pending (the last approvals wait out their cooling-off)."""
        from django.db import connection

        from orders.outbox.services import outbox_redispatch_due

        deadline = time.perf_counter() + self.args.drain
        while time.perf_counter() < deadline:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM orders_outboxmessage WHERE status = 'pending'")
                (pending,) = cursor.fetchone()
            if pending == 0:
                return True
            if not worker.alive():
                return False
            self.redispatched += outbox_redispatch_due()
            now = time.perf_counter() - self.start
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM orders_outboxmessage WHERE status = 'pending' AND next_attempt_at <= now()"
                )
                self.backlog.append((round(now, 1), cursor.fetchone()[0]))
            time.sleep(REDISPATCH_EVERY_S if pending > 1000 else 2.0)
        return False

    def run(self) -> int:
        from django.conf import settings
        from django.test import Client

        from bench.notify_latency import ProcfileWorkers
        from config.celery import app

        args = self.args
        self.queue = settings.CELERY_TASK_DEFAULT_QUEUE
        started = time.perf_counter()
        self.setup()
        day_start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(microsecond=0)
        plan = Plan(n=args.orders, seed=args.seed, factor=self.factor, day_start=day_start)
        items = self.schedule(plan)
        print(
            f"Day: {args.orders:,} orders in {args.minutes:g} min (compression {self.factor:.1f}x), cooling-off "
            f"{args.cooling_off_minutes} min, {Counter(o['kind'] for o in plan.orders)}; "
            f"{Counter(i[2] for i in items)}; set up in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        host = (settings.ALLOWED_HOSTS or ["localhost"])[0]
        host = "localhost" if host in ("*", "") or host.startswith(".") else host
        client = Client(HTTP_HOST=host)
        worker = ProcfileWorkers(self.queue, settings.ORDERHUB_CALLS_QUEUE, log=WORKER_LOG, prefix="day-bench")
        drained = False
        try:
            with app.connection_for_write() as conn:
                for queue in app.amqp.queues:
                    conn.default_channel.queue_purge(queue)
            worker.start()
            ready = worker.wait_ready(app)
            others = worker.others_on_queue(app)
            if others:
                raise BenchError(f"other workers consume queue {self.queue!r}: {', '.join(others)}; stop them")
            print(f"Worker {worker.name} ready in {ready:.1f} s on queue {self.queue!r} (log: {WORKER_LOG})")
            with tempfile.TemporaryDirectory(prefix="bench-day-") as folder:
                self.drive(items, client, worker, Path(folder))
            print(f"Arrivals done in {self.arrivals_seconds:.0f} s; draining (at most {args.drain:.0f} s)", flush=True)
            mark = time.perf_counter()
            drained = self.drain(worker)
            self.drain_seconds = time.perf_counter() - mark
        except BenchError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            tail = worker.log_tail()
            if tail:
                print(f"Worker log ({WORKER_LOG}), last lines:\n{tail}", file=sys.stderr)
            worker.stop()
            return 1
        finally:
            if worker.alive():
                print(f"Worker {worker.stop()}")
            with contextlib.suppress(Exception), app.connection_for_write() as conn:
                for queue in app.amqp.queues:
                    conn.default_channel.queue_purge(queue)
            self.teardown()
        result = self.result(plan, drained=drained, worker=worker)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        self.report(result)
        print(f"  results: {args.out}")
        return 1 if self.errors else 0

    # -- what happened --------------------------------------------------------------------------

    def result(self, plan: Plan, *, drained: bool, worker) -> dict:
        import celery
        import django
        from django.db import connection

        from orders.states import EXCEPTION_OWNERS

        args = self.args
        cooling = args.cooling_off_minutes * 60
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, channel, external_id, state FROM orders_order")
            orders = cursor.fetchall()
            cursor.execute(
                "SELECT order_id, action, occurred_at, actor_id FROM orders_orderevent "
                "WHERE action IN ('created', 'pay', 'approve', 'allocate', 'cancel', 'approval_refused')"
            )
            events = cursor.fetchall()
            cursor.execute("SELECT order_id, reason, owner_role, cleared_at IS NULL FROM orders_orderexception")
            exceptions = cursor.fetchall()
            cursor.execute("SELECT kind, status, attempts > 1, count(*) FROM orders_outboxmessage GROUP BY 1, 2, 3")
            outbox = cursor.fetchall()
            cursor.execute(
                "SELECT extract(epoch FROM done_at - next_attempt_at)::float8, extract(epoch FROM done_at)::float8 "
                "FROM orders_outboxmessage WHERE status = 'done' AND attempts = 1"
            )
            pickups = cursor.fetchall()
            cursor.execute("SELECT min(created_at), max(done_at) FROM orders_outboxmessage")
            outbox_first, outbox_last = cursor.fetchone()
            cursor.execute("SELECT delivery_id, count(*) FROM integrations_inbounddelivery GROUP BY 1")
            deliveries = cursor.fetchall()
            cursor.execute("SELECT count(*) FROM orders_orderline")
            (line_rows,) = cursor.fetchone()
            cursor.execute("SELECT carrier, count(*) FROM orders_order WHERE state = 'allocated' GROUP BY 1")
            carriers = dict(cursor.fetchall())
            cursor.execute(
                "SELECT w.code, count(*) FROM orders_order o JOIN orders_warehouse w ON w.id = o.warehouse_id "
                "GROUP BY 1"
            )
            by_warehouse = dict(cursor.fetchall())
            cursor.execute("SELECT current_setting('server_version')")
            (server_version,) = cursor.fetchone()

        planned = {(o["channel"], o["external_id"]): o for o in plan.orders}
        found: dict[tuple, list] = defaultdict(list)
        for order_id, channel, external_id, state in orders:
            found[(channel, external_id)].append((order_id, state))
        missing = [key for key in planned if key not in found]
        doubled = [key for key, rows in found.items() if len(rows) > 1]
        unknown = [key for key in found if key not in planned]
        per_order: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for order_id, action, occurred_at, actor_id in events:
            per_order[order_id][action].append((occurred_at, actor_id))
        event_doubles = Counter(
            action
            for actions in per_order.values()
            for action, rows in actions.items()
            if action != "approval_refused" and len(rows) > 1
        )
        open_by_order: dict[int, list] = defaultdict(list)
        for order_id, reason, owner_role, is_open in exceptions:
            open_by_order[order_id].append((reason, owner_role, is_open))

        kinds = Counter(o["kind"] for o in plan.orders)
        clean_total = touchless = 0
        latencies: list[float] = []
        wrong_in_queue, cancel_ok, cancel_approved, cancel_not_cancelled = [], 0, [], []
        expected_ok: Counter = Counter()
        expected_missed: dict[str, list] = defaultdict(list)
        wrong_role: list = []
        not_touchless_states: Counter = Counter()
        for key, order in planned.items():
            rows = found.get(key)
            if not rows:
                continue
            order_id, state = rows[0]
            acts = per_order.get(order_id, {})
            raised = open_by_order.get(order_id, [])
            kind = order["kind"]
            if kind == "clean":
                clean_total += 1
                if raised:
                    wrong_in_queue.append({"number": key[1], "exceptions": [r[0] for r in raised]})
                approved = [a for a in acts.get("approve", []) if a[1] is None]
                allocated = [a for a in acts.get("allocate", []) if a[1] is None]
                if approved and allocated and state == "allocated":
                    touchless += 1
                    paid_at = acts["pay"][0][0]
                    latencies.append((allocated[0][0] - paid_at).total_seconds())
                else:
                    not_touchless_states[state] += 1
            elif kind == "cancel":
                if acts.get("approve"):
                    cancel_approved.append(key[1])
                if state == "cancelled":
                    cancel_ok += 1
                else:
                    cancel_not_cancelled.append({"external_id": key[1], "state": state})
            else:
                reason = EXPECTED_REASON[kind]
                match = [r for r in raised if r[0] == reason]
                if not match:
                    expected_missed[kind].append({"external_id": key[1], "raised": [r[0] for r in raised]})
                elif match[0][1] != EXCEPTION_OWNERS[reason]:
                    wrong_role.append({"external_id": key[1], "reason": reason, "role": match[0][1]})
                else:
                    expected_ok[kind] += 1
                if acts.get("approve"):
                    expected_missed[kind].append({"external_id": key[1], "approved_anyway": True})

        status_counts: Counter = Counter()
        by_kind: dict[str, Counter] = defaultdict(Counter)
        retried = 0
        for kind, status, was_retried, count in outbox:
            status_counts[status] += count
            by_kind[kind][status] += count
            retried += count if was_retried else 0
        total_messages = sum(status_counts.values())
        pickup = [row[0] for row in pickups if row[0] is not None]
        done_times = sorted(row[1] for row in pickups if row[1] is not None)
        peak_per_s = 0.0
        if done_times:
            j = 0
            for i, t in enumerate(done_times):
                while done_times[j] < t - 60:
                    j += 1
                peak_per_s = max(peak_per_s, (i - j + 1) / 60)
        busy_seconds = (outbox_last - outbox_first).total_seconds() if outbox_first and outbox_last else 0
        pickup_p95 = percentile(pickup, 95) if pickup else None
        kept_up = pickup_p95 is not None and pickup_p95 < KEPT_UP_PICKUP_P95_S and drained

        delivery_doubles = [d for d, n in deliveries if n > 1]
        shopify_orders = sum(1 for o in plan.orders if o["channel"] == "shopify")
        expected_deliveries = shopify_orders + kinds["cancel"]

        touchless_rate = touchless / clean_total if clean_total else 0.0
        p95 = percentile(latencies, 95) if latencies else None
        overhang_p95 = p95 - cooling if p95 is not None else None
        missed_total = sum(len(v) for v in expected_missed.values())
        targets = {
            "touchless": {
                "value": round(touchless_rate, 4),
                "target": f">= {TOUCHLESS_TARGET:.0%} of clean orders approved and allocated by the rules",
                "clean_orders": clean_total,
                "approved_and_allocated_by_rules": touchless,
                "the_others_by_state": dict(not_touchless_states),
                "pass": touchless_rate >= TOUCHLESS_TARGET,
            },
            "exceptions": {
                "injected": {k: kinds[k] for k in ("remark", "bad_address", "duplicate")},
                "in_the_right_queue": dict(expected_ok),
                "missed": {k: v[:20] for k, v in expected_missed.items()},
                "missed_count": missed_total,
                "wrong_role": wrong_role[:20],
                "clean_orders_in_queue": len(wrong_in_queue),
                "clean_orders_in_queue_examples": wrong_in_queue[:20],
                "early_cancels": kinds["cancel"],
                "early_cancels_cancelled": cancel_ok,
                "early_cancels_approved": len(cancel_approved),
                "early_cancels_not_cancelled": cancel_not_cancelled[:20],
                "roles": {reason: str(EXCEPTION_OWNERS[reason]) for reason in EXPECTED_REASON.values()},
                "pass": missed_total == 0
                and not wrong_role
                and not wrong_in_queue
                and cancel_ok == kinds["cancel"]
                and not cancel_approved,
            },
            "paid_to_allocated": {
                "count": len(latencies),
                "p50_s": round(percentile(latencies, 50), 2) if latencies else None,
                "p95_s": round(p95, 2) if p95 is not None else None,
                "max_s": round(max(latencies), 2) if latencies else None,
                "cooling_off_s": cooling,
                "overhang_p95_s": round(overhang_p95, 2) if overhang_p95 is not None else None,
                "target": f"p95 <= cooling-off ({cooling} s as configured) + {OVERHANG_TARGET_S:g} s",
                "target_s": cooling + OVERHANG_TARGET_S,
                "conversion": "wall seconds from the pay event to the allocate event (both the hub's timestamps); "
                f"the cooling-off is the configured {args.cooling_off_minutes} min (the shipped 10 min shortened "
                "10x); the 60 s are wall seconds, not compressed, because no work is",
                "pass": p95 is not None and p95 <= cooling + OVERHANG_TARGET_S,
            },
            "integrity": {
                "orders_planned": len(planned),
                "orders_in_hub": sum(len(rows) for rows in found.values()),
                "missing": len(missing),
                "missing_examples": [k[1] for k in missing[:20]],
                "doubled": len(doubled),
                "unknown": len(unknown),
                "events_doubled_by_action": dict(event_doubles),
                "webhook_deliveries_sent": self.sent_deliveries,
                "webhook_deliveries_recorded": len(deliveries),
                "webhook_deliveries_expected": expected_deliveries,
                "webhook_deliveries_recorded_twice": len(delivery_doubles),
                "outbox": dict(status_counts),
                "outbox_retried": retried,
                "outbox_redispatched_by_sweep": self.redispatched,
                "order_lines": line_rows,
                "pass": not missing
                and not doubled
                and not unknown
                and not event_doubles
                and not delivery_doubles
                and len(deliveries) == expected_deliveries
                and status_counts.get("done", 0) == total_messages
                and not self.errors,
            },
        }
        webhook = self.webhook_ms
        imports = self.import_s
        uname = platform.uname()
        return {
            "benchmark": "day",
            "orders": args.orders,
            "minutes": args.minutes,
            "compression": round(self.factor, 2),
            "seed": args.seed,
            "cooling_off_minutes": args.cooling_off_minutes,
            "pass": all(t["pass"] for t in targets.values()),
            "targets": targets,
            "method": "a sale day (24 h curve, sale opening at midnight) squeezed into `minutes` of wall time: each "
            "order sent at its time of day / compression, carrying its uncompressed time of day (yesterday) as its "
            "order time; Shopify orders (40 %) as signed orders/create webhooks through Django's test client in the "
            "bench process, early cancels as orders/cancelled webhooks within the cooling-off, 1 % of deliveries "
            "retried with the same webhook id; Taobao orders (60 %) as a CSV export imported through "
            "orders_import_file every 30 minutes of the day's clock. The shipped rules, the approval rule on with "
            "its cooling-off shortened to cooling_off_minutes (whole minutes: the rule's unit), allocation by "
            "region and carrier by weight added as an operator would. The Procfile's two Celery workers "
            "(hub lane prefork 2, calls lane threads 8) on the bench's queues; no beat: the bench calls "
            "outbox_redispatch_due every 10 s. Work is not compressed: the paid → allocated target is "
            "cooling-off + 60 wall seconds",
            "mix": dict(kinds),
            "bad_addresses": dict(Counter(o["bad_address"] for o in plan.orders if o.get("bad_address"))),
            "channels": dict(Counter(o["channel"] for o in plan.orders)),
            "lines_per_order_mean": round(statistics.fmean(len(o["lines"]) for o in plan.orders), 2),
            "rules_enabled": self.rules,
            "hub_settings": self.hub_settings,
            "allocated_by_warehouse": by_warehouse,
            "allocated_orders_by_carrier": carriers,
            "intake": {
                "webhooks": len(webhook),
                "webhook_p50_ms": round(percentile(webhook, 50), 1) if webhook else None,
                "webhook_p95_ms": round(percentile(webhook, 95), 1) if webhook else None,
                "webhook_max_ms": round(max(webhook), 1) if webhook else None,
                "responses": dict(self.statuses),
                "imports": len(imports),
                "import_rows": sum(n for n, _s in imports),
                "import_seconds_total": round(sum(s for _n, s in imports), 1),
                "import_ms_per_order": round(
                    1000 * sum(s for _n, s in imports) / max(1, sum(n for n, _s in imports)), 2
                ),
                "schedule_lag_p95_s": round(percentile(self.lags, 95), 2) if self.lags else None,
                "schedule_lag_max_s": round(max(self.lags), 2) if self.lags else None,
                "arrivals_wall_seconds": round(self.arrivals_seconds, 1),
                "errors": self.errors[:50],
                "error_count": len(self.errors),
            },
            "worker": {
                "command": " ".join(worker.command),
                "queue": self.queue,
                "messages": total_messages,
                "messages_per_clean_order": round(total_messages / max(1, args.orders), 2),
                "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
                "delivered_per_s_mean": round(total_messages / busy_seconds, 1) if busy_seconds else None,
                "delivered_per_s_peak_60s": round(peak_per_s, 1),
                "pickup_delay_p50_s": round(percentile(pickup, 50), 2) if pickup else None,
                "pickup_delay_p95_s": round(pickup_p95, 2) if pickup_p95 is not None else None,
                "pickup_delay_max_s": round(max(pickup), 2) if pickup else None,
                "pickup_delay_note": "done_at − next_attempt_at of first-attempt messages: how long a due message "
                "waited for the worker (done_at is stamped when the worker has locked the row)",
                "kept_up": kept_up,
                "kept_up_rule": f"pickup delay p95 < {KEPT_UP_PICKUP_P95_S:g} s and every row done within the drain",
                "known_limit": None
                if kept_up
                else "the workers did not keep up with this day: latencies include their backlog",
                "backlog_due_pending_max": max((b for _t, b in self.backlog), default=0),
                "backlog_samples": self.backlog[:: max(1, len(self.backlog) // 60)],
                "drained": drained,
                "drain_seconds": round(getattr(self, "drain_seconds", 0.0), 1),
                "log": str(WORKER_LOG),
            },
            "database": {
                "vendor": "postgresql",
                "server_version": server_version,
                "name": connection.settings_dict["NAME"],
            },
            "python": platform.python_version(),
            "django": django.get_version(),
            "celery": celery.__version__,
            "machine": {
                "uname": " ".join([uname.system, uname.node, uname.release, uname.version, uname.machine]),
                "cpu_count": os.cpu_count(),
                "cpu_model": cpu_model(),
                "load_average_at_end": os.getloadavg(),
                "note": "2 cores shared with other engineers' test runs; the bench process (intake) and the worker "
                "share them with PostgreSQL and Redis",
            },
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }

    def report(self, r: dict) -> None:
        t = r["targets"]
        w = r["worker"]

        def mark(ok):
            return "PASS" if ok else "MISSED"

        ex = t["exceptions"]
        lat = t["paid_to_allocated"]
        integ = t["integrity"]
        print(
            f"\nSale day: {r['orders']:,} orders in {r['minutes']:g} min (x{r['compression']:g}), "
            f"cooling-off {r['cooling_off_minutes']} min\n"
            f"  touchless: {t['touchless']['value']:.2%} of {t['touchless']['clean_orders']:,} clean orders "
            f"(target ≥ 95 %): {mark(t['touchless']['pass'])}\n"
            f"  exceptions: {ex['in_the_right_queue']} in the right queue, {ex['missed_count']} missed, "
            f"{len(ex['wrong_role'])} wrong role, {ex['clean_orders_in_queue']} clean in queue; early cancels "
            f"{ex['early_cancels_cancelled']}/{ex['early_cancels']} cancelled, {ex['early_cancels_approved']} "
            f"approved: {mark(ex['pass'])}\n"
            f"  paid → allocated: p50 {lat['p50_s']} s, p95 {lat['p95_s']} s, max {lat['max_s']} s "
            f"(target ≤ {lat['target_s']:g} s; overhang p95 {lat['overhang_p95_s']} s): {mark(lat['pass'])}\n"
            f"  integrity: {integ['orders_in_hub']:,}/{integ['orders_planned']:,} orders, {integ['missing']} missing, "
            f"{integ['doubled']} doubled, events doubled {integ['events_doubled_by_action']}, deliveries "
            f"{integ['webhook_deliveries_recorded']}/{integ['webhook_deliveries_expected']}, outbox "
            f"{integ['outbox']}: {mark(integ['pass'])}\n"
            f"  worker: {w['messages']:,} messages, {w['delivered_per_s_mean']}/s mean, "
            f"{w['delivered_per_s_peak_60s']}/s peak minute, pickup p95 {w['pickup_delay_p95_s']} s, "
            f"kept up: {w['kept_up']}\n"
            f"  intake: webhook p95 {r['intake']['webhook_p95_ms']} ms, import {r['intake']['import_ms_per_order']} "
            f"ms/order, schedule lag p95 {r['intake']['schedule_lag_p95_s']} s, errors {r['intake']['error_count']}"
        )


if __name__ == "__main__":
    sys.exit(main())
