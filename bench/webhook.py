"""Shopify webhook throughput: signed order deliveries at a steady rate into the app served by
gunicorn as production runs it, then the database asked whether each order arrived exactly once.

    python -m bench.webhook [--rate 100] [--seconds 60] [--warmup-seconds 3] [--clients 16]
                            [--web-workers 5] [--web-threads 4] [--updated-share 0.2]
                            [--duplicate-share 0.05]

(`make bench` runs it on its own PostgreSQL database, with REDIS_URL and a queue of the
benchmarks' own, ORDERHUB_TASK_QUEUE; see scripts/bench.sh.)

The order tables are TRUNCATEd, then gunicorn serves config.wsgi on 127.0.0.1 with the command
of docs/OPERATIONS.md (`--workers 5 --worker-class gthread --threads 4 --timeout 60`, DEBUG
off, PostgreSQL, Redis) and a webhook secret made up for the run (SHOPIFY_WEBHOOK_SECRET). A
schedule of rate × seconds deliveries, one every 1/rate s (after --warmup-seconds of the same,
answered and checked but not timed), is sent by --clients threads, each with a keep-alive
connection (http.client), taking the next delivery when its time comes (open loop: a slow
answer does not slow the schedule; if every client is busy the delivery waits, and that wait
counts in its latency). Each delivery is what Shopify sends: the JSON order, signed
(X-Shopify-Hmac-Sha256 = base64 of HMAC-SHA256 of the raw body with the secret),
X-Shopify-Topic, X-Shopify-Shop-Domain, X-Shopify-Webhook-Id, X-Shopify-API-Version and
X-Shopify-Triggered-At. The mix: mostly orders/create of a new order (pending payment); an
--updated-share of orders/updated for an order created at least a second earlier, now paid;
a --duplicate-share of deliveries sent again with the same webhook id and body (Shopify's
retry), at least half a second after the first.

Latency: from the delivery's scheduled time to its answer (so waiting for a free client
counts), p50/p95/p99/max; the request alone (send to answer) beside it. Afterwards: every
delivery answered 2xx, all but one sending of each webhook id answered {"duplicate": true}
(behind a backlog a re-sent delivery may overtake its first); in the database one
order per Shopify order id, one `created` event each, one `pay` event per order an update paid,
one delivery record per webhook id. The statements one delivery costs are counted in this
process before the run (the view called directly; Django's query log).

Target (issue 18): 100 deliveries/s for 60 s with p95 < 200 ms, every delivery answered 2xx,
each order created exactly once, duplicates answered without a second order. Results:
bench/results/webhook.json ("pass": false when the target is missed; that is not a failure of
the run; a doubled or lost order is, exit 1).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import platform
import queue
import random
import secrets
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench.common import cpu_model, django_setup_for_bench, percentile

TARGET_P95_MS = 200.0
RESULTS = Path(__file__).resolve().parent / "results" / "webhook.json"
ROOT = Path(__file__).resolve().parent.parent
URL_PATH = "/webhooks/shopify/orders"
SHOP_DOMAIN = "orderhub-bench.myshopify.com"
# alerts_notification and orders_outboxmessage reference orders_orderevent: CASCADE takes them too.
TABLES = [
    "rules_rulefiring",
    "integrations_inbounddelivery",
    "orders_orderexception",
    "orders_orderline",
    "orders_attachment",
    "orders_shipment",
    "orders_outboxmessage",
    "orders_orderevent",
    "orders_historicalorder",
    "orders_order",
    "orders_ordernumbersequence",
]
FIRST_ORDER_ID = 5_100_000_000_000
_PLACES = [
    ("浙江省", "杭州市", "余杭区", "文一西路 {n} 号", "311100"),
    ("上海市", "上海市", "浦东新区", "张江路 {n} 弄 {m} 号", "201203"),
    ("北京市", "北京市", "朝阳区", "望京街 {n} 号院 {m} 号楼", "100102"),
    ("广东省", "深圳市", "南山区", "科技园南路 {n} 号 {m} 室", "518057"),
]
_ITEMS = [
    ("CUP-01", "保温杯", "129.00", 350),
    ("TEA-02", "茶叶礼盒", "199.00", 800),
    ("BAG-03", "帆布包", "59.00", 200),
]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.webhook", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="deliveries per second (default 100)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of deliveries (default 60)")
    parser.add_argument("--clients", type=int, default=16, help="sending threads (default 16)")
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=3.0,
        help="deliveries at the same rate first, checked but not in the latencies (default 3)",
    )
    parser.add_argument("--web-workers", type=int, default=5, help="gunicorn workers (default 5, OPERATIONS.md)")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument(
        "--updated-share", type=float, default=0.2, help="share of orders/updated deliveries (default 0.2)"
    )
    parser.add_argument(
        "--duplicate-share", type=float, default=0.05, help="share of re-sent deliveries (default 0.05)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    # bench.sh passes its extra arguments to every benchmark: ignore the ones of the others.
    args, _unknown = parser.parse_known_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.clients < 1 or args.warmup_seconds < 0:
        parser.error("--rate and --seconds must be positive, --clients at least 1, --warmup-seconds 0 or more")
    if min(args.updated_share, args.duplicate_share) < 0 or args.updated_share + args.duplicate_share >= 1:
        parser.error("--updated-share and --duplicate-share must be 0 or more and leave room for new orders")
    return args


# -- what Shopify sends --------------------------------------------------------------------------


def shopify_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def order_payload(index: int, rng: random.Random, *, paid: bool) -> dict:
    """A Shopify order as its webhooks carry it (the fields OrderHub reads, a few it does not)."""
    province, city, district, street, postcode = rng.choice(_PLACES)
    sku, title, price, grams = rng.choice(_ITEMS)
    quantity = rng.randint(1, 3)
    created = dt.datetime(2026, 11, 11, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(
        milliseconds=10 * index
    )
    return {
        "id": FIRST_ORDER_ID + index,
        "name": f"#{100001 + index}",
        "email": f"buyer{index}@example.com",
        "phone": f"+86139{rng.randrange(10**8):08d}",
        "created_at": created.isoformat(),
        "updated_at": (created + dt.timedelta(minutes=2 if paid else 0)).isoformat(),
        "currency": "CNY",
        "total_price": f"{float(price) * quantity:.2f}",
        "financial_status": "paid" if paid else "pending",
        "fulfillment_status": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "note": None,
        "taxes_included": True,
        "total_tax": "0.00",
        "line_items": [
            {
                "id": 10 * (FIRST_ORDER_ID + index) + 1,
                "title": title,
                "sku": sku,
                "quantity": quantity,
                "price": price,
                "total_discount": "0.00",
                "discount_allocations": [],
                "grams": grams,
                "gift_card": False,
            }
        ],
        "shipping_lines": [],
        "shipping_address": {
            "first_name": "伟",
            "last_name": "张",
            "address1": street.format(n=rng.randrange(1, 999), m=rng.randrange(1, 40)),
            "address2": district,
            "city": city,
            "province": province,
            "country": "China",
            "zip": postcode,
            "phone": f"139{rng.randrange(10**8):08d}",
        },
        "customer": {"id": 7_000_000 + index, "email": f"buyer{index}@example.com", "orders_count": 1},
    }


class Delivery:
    __slots__ = ("at", "body", "kind", "order_index", "signature", "topic", "webhook_id")

    def __init__(self, *, at, kind, order_index, topic, webhook_id, body, signature):
        self.at, self.kind, self.order_index, self.topic = at, kind, order_index, topic
        self.webhook_id, self.body, self.signature = webhook_id, body, signature

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Hmac-Sha256": self.signature,
            "X-Shopify-Shop-Domain": SHOP_DOMAIN,
            "X-Shopify-API-Version": "2026-01",
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-Triggered-At": dt.datetime.now(dt.UTC).isoformat(),
        }


def schedule_build(args, secret: str, *, seed: int = 20261111) -> list[Delivery]:
    """Every delivery of the run, in time order: new orders, updates of orders created at least
    a second before, and re-sent deliveries at least half a second after their first sending."""
    rng = random.Random(seed)
    total = int(args.rate * (args.warmup_seconds + args.seconds))
    step = 1.0 / args.rate
    deliveries: list[Delivery] = []
    created: list[Delivery] = []  # creations in time order; those a second old move to `updatable`
    aged = 0
    updatable: list[Delivery] = []  # created at least a second ago and not updated yet
    sent: list[Delivery] = []  # first sendings, to send again once half a second old
    resendable = 0

    def make(at, kind, index, topic, paid):
        body = json.dumps(order_payload(index, rng, paid=paid), ensure_ascii=False).encode("utf-8")
        return Delivery(
            at=at,
            kind=kind,
            order_index=index,
            topic=topic,
            webhook_id=f"bench-{seed}-{len(deliveries):07d}-{secrets.token_hex(4)}",
            body=body,
            signature=shopify_signature(body, secret),
        )

    orders = 0
    for n in range(total):
        at = n * step
        while aged < len(created) and created[aged].at <= at - 1.0:
            updatable.append(created[aged])
            aged += 1
        while resendable < len(sent) and sent[resendable].at <= at - 0.5:
            resendable += 1
        roll = rng.random()
        if roll < args.duplicate_share and resendable:
            first = sent[rng.randrange(resendable)]
            delivery = Delivery(
                at=at,
                kind="duplicate",
                order_index=first.order_index,
                topic=first.topic,
                webhook_id=first.webhook_id,
                body=first.body,
                signature=first.signature,
            )
        elif roll < args.duplicate_share + args.updated_share and updatable:
            # One of the more recent creations (paid within minutes, as buyers do).
            pick = len(updatable) - 1 - rng.randrange(min(len(updatable), 200))
            target = updatable[pick]
            updatable[pick] = updatable[-1]
            updatable.pop()
            delivery = make(at, "updated", target.order_index, "orders/updated", True)
            sent.append(delivery)
        else:
            delivery = make(at, "create", orders, "orders/create", False)
            orders += 1
            created.append(delivery)
            sent.append(delivery)
        deliveries.append(delivery)
    return deliveries


# -- sending -------------------------------------------------------------------------------------


class Sender(threading.Thread):
    """One client: a keep-alive HTTP/1.1 connection that sends whatever delivery is due next.
    http.client rather than requests: the senders share the machine with the server, and
    requests costs several times more CPU per request (Shopify's own senders are elsewhere)."""

    def __init__(self, *, base: str, work: queue.Queue, started: float, results: list):
        super().__init__(daemon=True)
        self.host, self.port = base.removeprefix("http://").split(":")
        self.work, self.started, self.results = work, started, results
        self.http: http.client.HTTPConnection | None = None

    def post(self, delivery: Delivery) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.http is None:
                self.http = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
            try:
                self.http.request("POST", URL_PATH, body=delivery.body, headers=delivery.headers())
                response = self.http.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: once more on a new one.
                self.http.close()
                self.http = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def run(self) -> None:
        while True:
            delivery = self.work.get()
            if delivery is None:
                if self.http is not None:
                    self.http.close()
                return
            sent = time.perf_counter()
            try:
                status, answer = self.post(delivery)
            except Exception as exc:  # a refused connection or a timeout is an error, not a crash
                status, answer = type(exc).__name__, b""
            done = time.perf_counter()
            self.results.append((delivery, status, answer, done - (self.started + delivery.at), done - sent))


def deliveries_send(deliveries: list[Delivery], *, base: str, clients: int) -> tuple[list, float, int]:
    """Send on schedule; returns (results, seconds from the first to the last answer, deliveries
    handed out more than 50 ms after their time because every client was busy)."""
    work: queue.Queue = queue.Queue()
    results: list = []
    started = time.perf_counter() + 0.2
    senders = [Sender(base=base, work=work, started=started, results=results) for _ in range(clients)]
    for sender in senders:
        sender.start()
    late = 0
    for delivery in deliveries:
        wait = started + delivery.at - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        elif -wait > 0.05:
            late += 1
        work.put(delivery)
    for _sender in senders:
        work.put(None)
    for sender in senders:
        sender.join(timeout=120)
    return results, time.perf_counter() - started, late


# -- statements per delivery ---------------------------------------------------------------------


def statements_count(secret: str) -> dict[str, int]:
    """The statements the view runs for a new order, an update that pays it, and a re-sent
    delivery (the view called directly, as gunicorn's worker would after the middleware)."""
    from django.conf import settings
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from integrations.channels.shopify_webhook import shopify_orders_webhook

    factory = RequestFactory()
    rng = random.Random(1)
    settings.SHOPIFY_WEBHOOK_SECRET = secret
    counts = {}

    def deliver(kind, payload, topic, webhook_id):
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_HMAC_SHA256": shopify_signature(body, secret),
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP_DOMAIN,
            "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id,
        }
        request = factory.post(URL_PATH, data=body, content_type="application/json", **headers)
        with CaptureQueriesContext(connection) as queries:
            response = shopify_orders_webhook(request)
        if response.status_code != 200:
            raise RuntimeError(f"{kind}: the probe delivery was answered {response.status_code}: {response.content!r}")
        counts[kind] = len(queries)

    index = 10**9  # far from the run's orders; the tables are emptied after
    deliver("warm-up", order_payload(index - 1, rng, paid=False), "orders/create", "probe-0")
    deliver("orders/create", order_payload(index, rng, paid=False), "orders/create", "probe-1")
    deliver("orders/updated (paid)", order_payload(index, rng, paid=True), "orders/updated", "probe-2")
    deliver("duplicate", order_payload(index, rng, paid=True), "orders/updated", "probe-2")
    counts.pop("warm-up")
    return counts


# -- checking ------------------------------------------------------------------------------------


def results_verify(deliveries: list[Delivery], results: list) -> dict:
    from django.db.models import Count

    from integrations.models import InboundDelivery
    from orders.models import Order, OrderEvent

    expected = {str(FIRST_ORDER_ID + d.order_index) for d in deliveries if d.kind == "create"}
    paid = {str(FIRST_ORDER_ID + d.order_index) for d in deliveries if d.kind == "updated"}
    orders = dict(Order.objects.filter(channel="shopify").values_list("external_id", "pk"))
    per_id = Order.objects.filter(channel="shopify").values("external_id").annotate(n=Count("id")).filter(n__gt=1)
    created = Counter(
        OrderEvent.objects.filter(order__channel="shopify", action="created").values_list("order_id", flat=True)
    )
    pays = Counter(OrderEvent.objects.filter(order__channel="shopify", action="pay").values_list("order_id", flat=True))
    # A webhook id sent n times: n - 1 of its answers say {"duplicate": true}, whichever of the
    # sendings the server took first (behind a backlog, a re-sent one may overtake its first).
    said_duplicate: Counter = Counter()
    for d, status, answer, _l, _r in results:
        with contextlib.suppress(ValueError, AttributeError):
            said_duplicate[d.webhook_id] += status == 200 and json.loads(answer).get("duplicate") is True
    sendings = Counter(d.webhook_id for d in deliveries)
    resent = {webhook_id: n for webhook_id, n in sendings.items() if n > 1}
    duplicates_sent = sum(n - 1 for n in resent.values())
    answered_duplicate = sum(min(said_duplicate[webhook_id], n - 1) for webhook_id, n in resent.items())
    # Every sending of an id answered "duplicate" (none applied), or an id sent once called a duplicate.
    wrongly_duplicate = sum(max(0, said_duplicate[webhook_id] - (sendings[webhook_id] - 1)) for webhook_id in sendings)
    webhook_ids = {d.webhook_id for d in deliveries}
    recorded = InboundDelivery.objects.filter(source="shopify", delivery_id__in=webhook_ids).count()
    return {
        "orders_expected": len(expected),
        "orders_found": len(set(orders) & expected),
        "orders_missing": len(expected - set(orders)),
        "orders_unexpected": len(set(orders) - expected),
        "orders_doubled": per_id.count(),
        "created_events_not_one": sum(1 for key in expected if created.get(orders.get(key), 0) != 1),
        "paid_expected": len(paid),
        "pay_events_not_one": sum(1 for key in paid if pays.get(orders.get(key), 0) != 1),
        "pay_events_unexpected": sum(1 for key, pk in orders.items() if key not in paid and pays.get(pk)),
        "duplicates_sent": duplicates_sent,
        "duplicates_answered_duplicate": answered_duplicate,
        "answered_duplicate_wrongly": wrongly_duplicate,
        "deliveries_expected": len(webhook_ids),
        "deliveries_recorded": recorded,
    }


def verified_clean(verify: dict) -> bool:
    return (
        verify["orders_found"] == verify["orders_expected"]
        and verify["orders_missing"] == verify["orders_unexpected"] == verify["orders_doubled"] == 0
        and verify["created_events_not_one"] == verify["pay_events_not_one"] == verify["pay_events_unexpected"] == 0
        and verify["duplicates_answered_duplicate"] == verify["duplicates_sent"]
        and verify["answered_duplicate_wrongly"] == 0
        and verify["deliveries_recorded"] == verify["deliveries_expected"]
    )


def _ms(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {
        "p50": round(percentile(values, 50) * 1000, 1),
        "p95": round(percentile(values, 95) * 1000, 1),
        "p99": round(percentile(values, 99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


def tables_empty() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


def main(argv=None) -> int:
    args = parse_args(argv)
    if (status := django_setup_for_bench("webhook")) is not None:
        return status
    import django
    import psycopg
    from django.conf import settings
    from django.db import connection, connections

    from bench.load import server_start, server_stop

    secret = "shpss_bench_" + secrets.token_hex(16)
    tables_empty()
    statements = statements_count(secret)
    tables_empty()
    started = time.perf_counter()
    deliveries = schedule_build(args, secret)
    kinds = Counter(d.kind for d in deliveries)
    print(
        f"Webhook: {len(deliveries):,} deliveries at {args.rate:g}/s for {args.seconds:g} s "
        f"({dict(kinds)}), built in {time.perf_counter() - started:.1f} s; statements per delivery {statements}"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        (server_version,) = cursor.fetchone()
    database = connection.settings_dict["NAME"]
    connections.close_all()

    os.environ["SHOPIFY_WEBHOOK_SECRET"] = secret
    log_path = ROOT / "var" / "bench-webhook-gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    load_before = os.getloadavg()
    process, base, log = server_start(workers=args.web_workers, threads=args.web_threads, log_path=log_path)
    try:
        results, elapsed, late = deliveries_send(deliveries, base=base, clients=args.clients)
    finally:
        server_stop(process, log)
    load_after = os.getloadavg()
    verify = results_verify(deliveries, results)
    if settings.REDIS_URL:
        # No worker runs in this benchmark: drop whatever the deliveries queued.
        import redis

        redis.Redis.from_url(settings.REDIS_URL).delete(settings.CELERY_TASK_DEFAULT_QUEUE)

    answers = Counter(str(status) for _d, status, _a, _l, _r in results)
    not_2xx = sum(n for status, n in answers.items() if not (status.isdigit() and 200 <= int(status) < 300))
    not_2xx += len(deliveries) - len(results)  # never answered (a client hung past the join)
    # The warm-up's deliveries are answered and checked like the others, but not timed: each
    # gunicorn worker loads the URLconf and connects to the database on its first requests.
    measured = [r for r in results if r[0].at >= args.warmup_seconds]
    latency = [lat for _d, _s, _a, lat, _r in measured]
    request = [req for _d, _s, _a, _l, req in measured]
    by_kind = {
        kind: _ms([lat for d, _s, _a, lat, _r in measured if d.kind == kind])
        for kind in ("create", "updated", "duplicate")
    }
    clean = verified_clean(verify)
    p95 = _ms(latency)["p95"]
    result = {
        "benchmark": "webhook",
        "command": "python -m bench.webhook "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out",)),
        "target_p95_ms": TARGET_P95_MS,
        "target_rate_per_second": args.rate,
        "pass": p95 is not None and p95 < TARGET_P95_MS and not_2xx == 0 and clean,
        "pass_rule": "p95 of scheduled time → answer under target_p95_ms, every delivery answered 2xx, each "
        "order created exactly once (one created event), each paid update one pay event, every re-sent delivery "
        'answered {"duplicate": true}, one delivery record per webhook id',
        "rate_per_second": args.rate,
        "seconds": args.seconds,
        "achieved_per_second": round(len(results) / elapsed, 1) if elapsed > 0 else None,
        "deliveries": {
            "sent": len(deliveries),
            "timed": len(measured),
            **{kind: kinds.get(kind, 0) for kind in ("create", "updated", "duplicate")},
        },
        "warmup_seconds": args.warmup_seconds,
        "latency_ms": _ms(latency),
        "latency_ms_by_kind": by_kind,
        "request_ms": _ms(request),
        "late_handouts": late,
        "answers": dict(sorted(answers.items())),
        "not_2xx": not_2xx,
        "verify": verify,
        "statements_per_delivery": statements,
        "clients": args.clients,
        "server": {
            "command": f"gunicorn config.wsgi --workers {args.web_workers} --worker-class gthread "
            f"--threads {args.web_threads} --timeout 60",
            "DEBUG": False,
        },
        "method": "open-loop schedule (one delivery every 1/rate s) sent by keep-alive client threads "
        "(http.client) on loopback to gunicorn; latency from the scheduled time, so a delivery waiting for a free "
        "client counts; signed as Shopify signs; then the database checked",
        "database": {"vendor": "postgresql", "server_version": server_version, "name": database},
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": psycopg.__version__,
        "machine": {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "uname": " ".join(platform.uname())},
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"Webhook: {result['achieved_per_second']}/s achieved of {args.rate:g}/s; latency p50 "
        f"{result['latency_ms']['p50']} ms, p95 {p95} ms (target < {TARGET_P95_MS:.0f}), p99 "
        f"{result['latency_ms']['p99']} ms, max {result['latency_ms']['max']} ms; answers {result['answers']}; "
        f"late handouts {late}\n  verify {json.dumps(verify)}\n  "
        f"{'PASS' if result['pass'] else 'MISSED'}; results: {args.out}"
    )
    if not clean:
        print("ERROR: an order was lost or doubled, or a delivery not recorded once (see verify)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
