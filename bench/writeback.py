"""Shipment written back to Shopify: from the shipment recorded in the hub to the shop's
acknowledgement of the fulfilment, through the real outbox, Redis and the Procfile's workers,
against a local Shopify Admin GraphQL server that fails a share of all calls.

    python -m bench.writeback [--count 600] [--rate 5] [--fail-rate 0.2] [--drain 600]

(`make bench` runs it with the environment of scripts/bench.sh: its own PostgreSQL database,
REDIS_URL and a queue of the benchmarks' own.)

The run: --count packed Shopify orders are set up in bulk in one shop with a Shopify Admin API
account whose base URL is the local fake (tests/fakes/shopify_admin.py: it checks the token
and the GraphQL documents and answers in Shopify's shapes; here it answers HTTP 500 to a random
--fail-rate of *every* call, reads and mutations alike, so one write-back of two calls fails
an attempt about 1 - 0.8² = 36 % of the time). The warehouse user ships them at --rate a second
(`order_transition(…, "ship")`, each committing its shipment and its outbox row); the Procfile's
workers deliver: the hub lane's (`--pool=prefork --concurrency 2`) and the calls lane's
(`--pool=threads --concurrency 8`), each a process of its own on the benchmark's queues; this
process plays beat (the re-dispatch sweep every 10 s). The outbox's settings are the
defaults (ORDERHUB_OUTBOX_MAX_ATTEMPTS 8, back-off base 2 s doubling with jitter, cap 600 s)
unless the environment sets them. The rule "shipped → upload the waybill" is switched off for
the run: no carrier is configured here, and its failures would only add noise to the calls lane.

Measured per shipment: `ChannelWriteBack.acknowledged_at - Shipment.created_at` (both written
by the application, after Shopify answered and the hub committed), the attempts it took, and
whether it failed for good; every shipment must end acknowledged once, with exactly one
fulfilment on the fake shop carrying its tracking number. "pass": p95 < 120 s including the
retries, nothing failed, nothing doubled. Results go to bench/results/writeback.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench.common import cpu_model, percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "writeback.json"
WORKER_LOG = ROOT / "var" / "bench-writeback-worker.log"
TARGET_P95_S = 120.0
SWEEP_EVERY_S = 10.0
TOKEN = "shpat_bench_writeback"
SHOP_DOMAIN = "bench-writeback.myshopify.com"
TABLES = [
    "integrations_channelwriteback",
    "integrations_shopifyadminaccount",
    "integrations_shipmentuploadline",
    "integrations_shipmentuploadfile",
    "integrations_trackingrecord",
    "alerts_chatdelivery",
    "alerts_notification",
    "orders_outboxmessage",
    "orders_attachment",
    "orders_shipment",
    "orders_orderevent",
    "orders_historicalorder",
    "orders_order",
    "orders_ordernumbersequence",
]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.writeback", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=600, help="shipments (default 600)")
    parser.add_argument("--rate", type=float, default=5.0, help="shipments per second (default 5)")
    parser.add_argument("--fail-rate", type=float, default=0.2, help="share of Shopify calls answered 500 (0.2)")
    parser.add_argument("--drain", type=float, default=900.0, help="seconds to wait for the last write-backs")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args, ignored = parser.parse_known_args(argv)
    if ignored:
        print(f"writeback: ignoring arguments it does not take: {' '.join(ignored)}")
    if args.count < 1 or args.rate <= 0 or not 0 <= args.fail_rate < 1:
        parser.error("--count and --rate must be positive, --fail-rate in [0, 1)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from bench.common import django_setup_for_bench

    if (status := django_setup_for_bench("writeback", need_redis=True)) is not None:
        return status
    return WriteBack(args).run()


class WriteBack:
    def __init__(self, args):
        self.args = args
        self.halt = threading.Event()
        self.sweeps: list[tuple[float, int]] = []

    def setup(self, fake) -> list[int]:
        from django.db import connection
        from django.utils import timezone

        from integrations.models import ShopifyAdminAccount
        from orders.demo import demo_users_ensure
        from orders.models import Order
        from orders.outbox.services import outbox_subscriptions_cache_clear
        from orders.services.shops import shop_default_for_channel
        from orders.states import Channel, State
        from rules.defaults import rules_defaults_install
        from rules.models import Rule, RuleAction

        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        users = demo_users_ensure()
        self.actor = users["wh1"]
        rules_defaults_install(Rule, RuleAction)
        self.rules_off = list(
            Rule.objects.filter(enabled=True, actions__reaction="carrier_upload_waybill").values_list("name", flat=True)
        )
        Rule.objects.filter(name__in=self.rules_off).update(enabled=False)
        outbox_subscriptions_cache_clear()
        shop = shop_default_for_channel(Channel.SHOPIFY)
        shop.external_shop_id = SHOP_DOMAIN
        shop.save(update_fields=["external_shop_id"])
        ShopifyAdminAccount.objects.create(shop=shop, access_token=TOKEN, base_url=fake.base_url)
        now = timezone.now()
        base = 910000000000000000
        orders = [
            Order(
                number=f"WB{i:08d}",
                channel=Channel.SHOPIFY,
                shop=shop,
                external_id=str(base + i),
                amount="128.00",
                currency="CNY",
                state=State.PACKED,
                version=5,
                cs_owner=users["cs1"],
                ordered_at=now,
                state_changed_at=now,
                updated_at=now,
            )
            for i in range(1, self.args.count + 1)
        ]
        Order.objects.bulk_create(orders, batch_size=1000)
        for order in orders:
            fake.add_order(order.external_id)
        return [o.pk for o in orders]

    def run(self) -> int:
        from django.conf import settings
        from django.db import connections

        from bench.notify_latency import BenchError, Worker
        from config.celery import app
        from tests.fakes.shopify_admin import FakeShopifyAdmin

        args = self.args
        hub_queue, calls_queue = settings.CELERY_TASK_DEFAULT_QUEUE, settings.ORDERHUB_CALLS_QUEUE
        self.rules_off: list[str] = []
        try:
            with FakeShopifyAdmin(access_token=TOKEN) as fake:
                started = time.perf_counter()
                ids = self.setup(fake)
                print(
                    f"Set up {len(ids)} packed Shopify orders in {time.perf_counter() - started:.1f} s; "
                    f"fake Shopify at {fake.base_url}"
                )
                # The Procfile's two workers. Both read ORDERHUB_TASK_QUEUE = the hub queue (so each
                # knows both lanes' queues, as under honcho); each consumes its own lane's queue.
                hub = Worker(hub_queue, log=WORKER_LOG, prefix="writeback-bench", concurrency=2)
                calls = Worker(
                    hub_queue,
                    log=WORKER_LOG.with_name(WORKER_LOG.stem + "-calls" + WORKER_LOG.suffix),
                    prefix="writeback-bench-calls",
                    pool="threads",
                    concurrency=8,
                    queues=calls_queue,
                )
                with app.connection_for_write() as conn:
                    for queue in (hub_queue, calls_queue):
                        conn.default_channel.queue_purge(queue)
                connections.close_all()
                hub.start()
                calls.start()
                try:
                    ready = max(hub.wait_ready(app), calls.wait_ready(app))
                    print(f"Workers ready in {ready:.1f} s (hub on {hub_queue!r}, calls on {calls_queue!r})")
                    fake.fail_rate = args.fail_rate
                    sweeper = threading.Thread(target=self.sweep, daemon=True)
                    self.t0 = time.time()
                    sweeper.start()
                    shipped_at = self.drive(ids)
                    drained = self.wait_settled(len(ids))
                except BenchError as exc:
                    print(f"ERROR: {exc}", file=sys.stderr)
                    return 2
                finally:
                    self.halt.set()
                    print(f"Workers: hub {hub.stop()}, calls {calls.stop()}")
                result = self.result(fake, shipped_at, drained, hub, calls)
        finally:
            self.rules_restore()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.report(result)
        return 0 if result["exactly_once"] else 1

    def rules_restore(self) -> None:
        """The rules switched off for the run are on again for the benchmarks after this one."""
        from rules.models import Rule

        Rule.objects.filter(name__in=self.rules_off).update(enabled=True)

    def drive(self, ids: list[int]) -> list[float]:
        """Ship every order on a fixed schedule; the time each commit took, per call."""
        from orders.services.transition import order_transition

        calls = []
        interval = 1.0 / self.args.rate
        due = time.monotonic()
        for k, order_id in enumerate(ids):
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            began = time.perf_counter()
            order_transition(
                order_id, "ship", actor=self.actor, carrier=("sf", "zto")[k % 2], tracking_number=f"WB{k:012d}"
            )
            calls.append(time.perf_counter() - began)
            due += interval
            if k and k % 200 == 0:
                print(f"  {k} shipped ({time.time() - self.t0:.0f} s)", flush=True)
        return calls

    def sweep(self) -> None:
        """Beat's re-dispatch sweep every 10 s, on a connection of this thread's own."""
        from django.db import connection

        from orders.outbox.services import outbox_redispatch_due

        try:
            while not self.halt.wait(SWEEP_EVERY_S):
                self.sweeps.append((round(time.time() - self.t0, 1), outbox_redispatch_due()))
        finally:
            connection.close()

    def wait_settled(self, expected: int) -> float | None:
        """Until no write-back message is pending; the seconds after the last shipment."""
        from orders.models import OutboxMessage, OutboxStatus

        last = time.monotonic()
        deadline = last + self.args.drain
        while time.monotonic() < deadline:
            pending = OutboxMessage.objects.filter(kind="shopify_fulfilment_write", status=OutboxStatus.PENDING).count()
            total = OutboxMessage.objects.filter(kind="shopify_fulfilment_write").count()
            if total >= expected and pending == 0:
                return time.monotonic() - last
            time.sleep(0.5)
        return None

    def result(self, fake, shipped_at: list[float], drained: float | None, hub, calls) -> dict:
        from django.conf import settings
        from django.db import connection

        from integrations.models import ChannelWriteBack, WriteBackStatus
        from orders.models import Shipment

        shipments = {s.pk: s for s in Shipment.objects.all()}
        rows = list(ChannelWriteBack.objects.all())
        acknowledged = [r for r in rows if r.status == WriteBackStatus.ACKNOWLEDGED]
        failed = [r for r in rows if r.status == WriteBackStatus.FAILED]
        latencies = [(r.acknowledged_at - shipments[r.shipment_id].created_at).total_seconds() for r in acknowledged]
        attempts = Counter(r.attempts for r in rows)
        # On the shop: one fulfilment per order, carrying our number.
        numbers = {s.order.external_id: s.tracking_number for s in Shipment.objects.select_related("order")}
        doubled = wrong = missing = 0
        for order_id, number in numbers.items():
            fulfilments = fake.orders[f"gid://shopify/Order/{order_id}"].fulfilments
            if len(fulfilments) > 1:
                doubled += 1
            elif not fulfilments:
                missing += 1
            elif fulfilments[0].tracking[0].number != number:
                wrong += 1
        calls_made = len(fake.requests)
        answered_500 = sum(1 for r in fake.requests if r.answer == "server_error")
        exactly_once = (
            drained is not None
            and len(acknowledged) == len(shipments)
            and not failed
            and doubled == 0
            and wrong == 0
            and missing == 0
        )
        p95 = percentile(latencies, 95) if latencies else None
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0]
        uname = platform.uname()
        return {
            "benchmark": "writeback",
            "shipments": len(shipments),
            "rate_per_s": self.args.rate,
            "fail_rate": self.args.fail_rate,
            "acknowledged": len(acknowledged),
            "failed": len(failed),
            "failed_errors": [r.last_error[:200] for r in failed[:5]],
            "on_the_shop": {"doubled": doubled, "wrong_number": wrong, "missing": missing},
            "latency_s": {
                "p50": round(percentile(latencies, 50), 2) if latencies else None,
                "p95": round(p95, 2) if p95 is not None else None,
                "p99": round(percentile(latencies, 99), 2) if latencies else None,
                "max": round(max(latencies), 2) if latencies else None,
            },
            "latency_note": "ChannelWriteBack.acknowledged_at - Shipment.created_at: shipment committed → Shopify's "
            "answer recorded, retries included",
            "attempts": dict(sorted(attempts.items())),
            "shopify_calls": calls_made,
            "shopify_calls_answered_500": answered_500,
            "shopify_mutations": len(fake.mutations()),
            "drained_after_last_shipment_s": round(drained, 1) if drained is not None else None,
            "transition_call_ms": {
                "p50": round(percentile([c * 1000 for c in shipped_at], 50), 1),
                "p95": round(percentile([c * 1000 for c in shipped_at], 95), 1),
            },
            "outbox_settings": {
                "max_attempts": settings.ORDERHUB_OUTBOX_MAX_ATTEMPTS,
                "backoff_base_s": settings.ORDERHUB_OUTBOX_BACKOFF_BASE,
                "backoff_cap_s": settings.ORDERHUB_OUTBOX_BACKOFF_CAP,
                "grace_s": settings.ORDERHUB_OUTBOX_GRACE_SECONDS,
            },
            "rules_switched_off": self.rules_off,
            "sweeps": self.sweeps,
            "target_p95_s": TARGET_P95_S,
            "exactly_once": exactly_once,
            "pass": exactly_once and p95 is not None and p95 < TARGET_P95_S,
            "pass_rule": "every shipment acknowledged once (one fulfilment with its number on the shop), none failed, "
            "p95 < target_p95_s",
            "workers": {"hub": " ".join(hub.command), "calls": " ".join(calls.command), "log": str(WORKER_LOG)},
            "machine": {
                "uname": " ".join([uname.system, uname.node, uname.release, uname.version, uname.machine]),
                "cpu_count": os.cpu_count(),
                "cpu_model": cpu_model(),
                "load_average_at_end": os.getloadavg(),
            },
            "database": {"server_version": server_version},
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }

    def report(self, r: dict) -> None:
        lat = r["latency_s"]
        print(
            f"\nShipment → Shopify acknowledged: {r['shipments']:,} shipments at {r['rate_per_s']:g}/s, "
            f"{r['fail_rate']:.0%} of calls failing\n"
            f"  p50 {lat['p50']} s, p95 {lat['p95']} s, p99 {lat['p99']} s, max {lat['max']} s "
            f"(target p95 < {r['target_p95_s']:g} s)\n"
            f"  acknowledged {r['acknowledged']}, failed {r['failed']}, attempts {r['attempts']}; on the shop: "
            f"{r['on_the_shop']}\n"
            f"  {'PASS' if r['pass'] else 'MISSED'}; results: {self.args.out}"
        )


if __name__ == "__main__":
    sys.exit(main())
