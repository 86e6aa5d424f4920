"""Transition benchmark: what the transition service costs over the bare SQL it has to run.

    python -m bench.transition [--n 2000] [--warmup 100] [--block 50] [--profile 0]

(`make bench` runs it on its own PostgreSQL database, see scripts/bench.sh.)

Two ways of approving a paid order, each timed one transition at a time, whole transaction
including the commit:

- floor: raw SQL on a plain psycopg connection opened with the same parameters, adapters and
  cursor class as Django's (client-side binding, no prepared statements), so the ratio measures
  the application, not the driver: BEGIN; SELECT ... FOR UPDATE; UPDATE orders_order;
  INSERT INTO orders_orderevent; COMMIT.
- service: `order_transition(order_id, "approve", actor=cs1, expected_version=v)`.

They run in alternating blocks (the first of each pair alternates too) so machine noise hits
both alike. Results go to bench/results/transition.json; missing the target is reported there
("pass": false), not as a failure. The orders tables are TRUNCATEd at the start (the
append-only row triggers do not see TRUNCATE), so each run starts from the same empty tables.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

from bench.common import cpu_model, django_setup_for_bench, paid_orders_create, percentile

TARGET_RATIO = 2.0
RESULTS = Path(__file__).resolve().parent / "results" / "transition.json"
ACTION = "approve"
TABLES = [
    "orders_attachment",
    "orders_shipment",
    "orders_orderevent",
    "orders_historicalorder",
    "orders_order",
    "orders_ordernumbersequence",
]

# The floor is the least SQL the design needs: lock, update, the event, and the one outbox row
# the seed's "approved → tell the CS owner" rule asks for.
FLOOR_SELECT = "SELECT id, state, version FROM orders_order WHERE id = %s FOR UPDATE"
FLOOR_UPDATE = (
    "UPDATE orders_order SET state = %s, version = version + 1, updated_by_id = %s, updated_at = %s, "
    "state_changed_at = %s WHERE id = %s"
)
FLOOR_INSERT = (
    "INSERT INTO orders_orderevent (order_id, action, from_state, to_state, actor_id, actor_name, actor_role, "
    "occurred_at, order_version, note, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) "
    "RETURNING id"
)
FLOOR_REDIS_KEY = "orderhub:bench:floor"
FLOOR_OUTBOX = (
    "INSERT INTO orders_outboxmessage (event_id, rule_id, kind, params, idempotency_key, status, attempts, "
    "next_attempt_at, last_error, result, created_at) "
    "VALUES (%s, %s, 'notify', '{}'::jsonb, %s, 'pending', 0, %s, '', '', %s)"
)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.transition", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="timed transitions of each kind (default 2000)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed transitions of each kind first")
    parser.add_argument("--block", type=int, default=50, help="transitions per block before switching kind")
    parser.add_argument("--profile", type=int, default=0, help="also cProfile this many service transitions")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.n < 1 or args.warmup < 0 or args.block < 1 or args.profile < 0:
        parser.error("--n and --block must be positive, --warmup and --profile not negative")
    return args


def summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "median_ms": round(statistics.median(ms), 4),
        "p95_ms": round(percentile(ms, 95), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
        "min_ms": round(min(ms), 4),
        "max_ms": round(max(ms), 4),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if (status := django_setup_for_bench("transition")) is not None:
        return status
    return Bench(args).run()


class Bench:
    def __init__(self, args):
        self.args = args

    # -- setup -------------------------------------------------------------------------------

    def run(self) -> int:
        from django.db import connection

        from orders.demo import demo_users_ensure
        from orders.permissions import actor_may_take, role_of, user_display_name
        from orders.states import TRANSITIONS_BY_ACTION

        args = self.args
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        users = demo_users_ensure()
        self.actor = users["cs1"]
        from rules.defaults import rules_defaults_install
        from rules.models import Rule, RuleAction

        rules_defaults_install(Rule, RuleAction)
        rules = list(Rule.objects.filter(trigger=ACTION, enabled=True).values_list("pk", flat=True))
        if len(rules) != 1:
            print(f"ERROR: expected the one default rule for {ACTION!r}, found {len(rules)}", file=sys.stderr)
            return 2
        self.rule_id = rules[0]
        transition = TRANSITIONS_BY_ACTION[ACTION]
        if not actor_may_take(self.actor, transition):
            print("ERROR: cs1 may not approve: run `manage.py setup_roles` first", file=sys.stderr)
            return 2
        self.from_state = transition.sources[0]
        self.to_state = transition.target
        self.actor_name = user_display_name(self.actor)
        self.actor_role = role_of(self.actor)

        per_kind = args.warmup + args.n
        extra = 2 + args.profile  # query counting (cached and fresh actor), then profiling
        started = time.perf_counter()
        ids = self.orders_create(2 * per_kind + extra)
        print(f"Set up {len(ids)} paid orders in {time.perf_counter() - started:.1f} s")
        floor_ids, service_ids, extra_ids = ids[:per_kind], ids[per_kind : 2 * per_kind], ids[2 * per_kind :]

        self.floor_conn = self.floor_connect()
        self.floor_redis = self.floor_redis_connect()
        try:
            gc.collect()
            self.blocks(floor_ids[: args.warmup], service_ids[: args.warmup])
            gc.collect()
            started = time.perf_counter()
            floor, service = self.blocks(floor_ids[args.warmup :], service_ids[args.warmup :])
            elapsed = time.perf_counter() - started
        finally:
            self.floor_conn.close()

        queries = self.queries_count(extra_ids[0], extra_ids[1])
        if args.profile:
            self.profile(extra_ids[2:])
        problems = self.verify(floor_ids + service_ids)
        if problems:
            for problem in problems:
                print(f"ERROR: {problem}", file=sys.stderr)
            return 1

        result = self.result(floor, service, queries, elapsed)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.report(result)
        if self.floor_redis is not None:
            # No worker runs in this benchmark: drop the floor's messages and the service's tasks.
            from django.conf import settings

            self.floor_redis.delete(FLOOR_REDIS_KEY, settings.CELERY_TASK_DEFAULT_QUEUE)
        return 0

    def orders_create(self, count: int) -> list[int]:
        return paid_orders_create(count, cs_owner=self.actor, number_prefix="BENCH")

    def floor_redis_connect(self):
        """After the commit the service tells a worker (one task per outbox row). The floor does
        the least that can do it: one LPUSH of a small message on a plain Redis connection.
        Without REDIS_URL (the embedded folder queue) the floor skips it."""
        from django.conf import settings

        if not settings.REDIS_URL:
            return None
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        client.delete(FLOOR_REDIS_KEY)
        return client

    def floor_connect(self):
        """A second connection like Django's: same parameters, adapters, cursor class (client-side
        binding) and no prepared statements, outside autocommit so BEGIN is implicit as in an
        atomic block."""
        import psycopg
        from django.db import connection

        conn = psycopg.connect(**connection.get_connection_params())
        conn.autocommit = False
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        return conn

    # -- the two kinds -----------------------------------------------------------------------

    def floor_one(self, cursor, order_id: int) -> float:
        conn = self.floor_conn
        started = time.perf_counter()
        cursor.execute(FLOOR_SELECT, [order_id])
        _, state, version = cursor.fetchone()
        if state != self.from_state:
            conn.rollback()
            raise RuntimeError(f"floor: order {order_id} is {state}, not {self.from_state}")
        now = dt.datetime.now(dt.UTC)
        cursor.execute(FLOOR_UPDATE, [self.to_state, self.actor.pk, now, now, order_id])
        cursor.execute(
            FLOOR_INSERT,
            [
                order_id,
                ACTION,
                state,
                self.to_state,
                self.actor.pk,
                self.actor_name,
                self.actor_role,
                now,
                version + 1,
                "",
                "{}",
            ],
        )
        (event_id,) = cursor.fetchone()
        cursor.execute(FLOOR_OUTBOX, [event_id, self.rule_id, f"floor:{event_id}", now, now])
        conn.commit()
        if self.floor_redis is not None:
            self.floor_redis.lpush(FLOOR_REDIS_KEY, json.dumps({"task": "outbox_process", "args": [event_id]}))
        return time.perf_counter() - started

    def service_one(self, order_id: int) -> float:
        from orders.services.transition import order_transition

        started = time.perf_counter()
        order_transition(order_id, ACTION, actor=self.actor, expected_version=2)
        return time.perf_counter() - started

    def blocks(self, floor_ids: list[int], service_ids: list[int]) -> tuple[list[float], list[float]]:
        """Alternate blocks of each kind; odd pairs start with the service."""
        floor, service = [], []
        size = self.args.block
        with self.floor_conn.cursor() as cursor:
            for pair, start in enumerate(range(0, len(floor_ids), size)):
                runs = [("floor", floor_ids[start : start + size]), ("service", service_ids[start : start + size])]
                if pair % 2:
                    runs.reverse()
                for kind, ids in runs:
                    if kind == "floor":
                        floor.extend(self.floor_one(cursor, order_id) for order_id in ids)
                    else:
                        service.extend(self.service_one(order_id) for order_id in ids)
        return floor, service

    # -- what the service does ---------------------------------------------------------------

    def queries_count(self, cached_id: int, fresh_id: int) -> dict:
        """The statements one service transition sends, BEGIN and COMMIT included: with the
        actor object reused as in the timed loop (role and permissions cached on it), and with
        the actor freshly loaded, as a web request would have it."""
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from orders.services.transition import order_transition

        out = {}
        for label, order_id, actor in (
            ("reused_actor", cached_id, self.actor),
            ("fresh_actor", fresh_id, get_user_model().objects.get(pk=self.actor.pk)),
        ):
            with CaptureQueriesContext(connection) as ctx:
                order_transition(order_id, ACTION, actor=actor, expected_version=2)
            out[label] = {"count": len(ctx.captured_queries), "sql": [q["sql"] for q in ctx.captured_queries]}
        out["floor"] = {
            "count": 6,
            "sql": ["BEGIN", FLOOR_SELECT, FLOOR_UPDATE, FLOOR_INSERT, FLOOR_OUTBOX, "COMMIT"],
        }
        return out

    def profile(self, order_ids: list[int]) -> None:
        profiler = cProfile.Profile()
        profiler.enable()
        for order_id in order_ids:
            self.service_one(order_id)
        profiler.disable()
        print(f"\ncProfile of {len(order_ids)} service transitions (top 30 by cumulative time):")
        stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("cumulative")
        stats.print_stats(30)
        print("Top 30 by own time:")
        stats.sort_stats("tottime").print_stats(30)

    def verify(self, order_ids: list[int]) -> list[str]:
        from orders.models import Order, OrderEvent

        problems = []
        moved = Order.objects.filter(pk__in=order_ids, state=self.to_state, version=3).count()
        if moved != len(order_ids):
            problems.append(f"{len(order_ids) - moved} benchmark orders were not moved to {self.to_state} v3")
        events = OrderEvent.objects.filter(order_id__in=order_ids, action=ACTION).count()
        if events != len(order_ids):
            problems.append(f"expected {len(order_ids)} {ACTION} events, found {events}")
        return problems

    # -- results -----------------------------------------------------------------------------

    def result(self, floor: list[float], service: list[float], queries: dict, elapsed: float) -> dict:
        import django
        import psycopg
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT version(), current_setting('server_version')")
            db_version, server_version = cursor.fetchone()
        floor_s, service_s = summary(floor), summary(service)
        ratio_median = round(service_s["median_ms"] / floor_s["median_ms"], 3)
        ratio_p95 = round(service_s["p95_ms"] / floor_s["p95_ms"], 3)
        uname = platform.uname()
        return {
            "benchmark": "transition",
            "action": ACTION,
            "n": self.args.n,
            "warmup": self.args.warmup,
            "block": self.args.block,
            "floor": floor_s,
            "service": service_s,
            "ratio_median": ratio_median,
            "ratio_p95": ratio_p95,
            "target_ratio": TARGET_RATIO,
            "pass_median": ratio_median <= TARGET_RATIO,
            "pass_p95": ratio_p95 <= TARGET_RATIO,
            "pass": ratio_median <= TARGET_RATIO and ratio_p95 <= TARGET_RATIO,
            "pass_rule": "both ratio_median and ratio_p95 (service / floor) at most target_ratio",
            "floor_includes": "BEGIN; SELECT … FOR UPDATE; UPDATE order; INSERT event; INSERT outbox row; COMMIT"
            + ("; then one Redis LPUSH (the worker's wake-up)" if self.floor_redis is not None else ""),
            "queries_per_transition": {
                "note": "statements sent per transition, BEGIN and COMMIT included",
                "service_reused_actor": queries["reused_actor"]["count"],
                "service_fresh_actor": queries["fresh_actor"]["count"],
                "floor": queries["floor"]["count"],
                "sql": queries,
            },
            "timed_wall_seconds": round(elapsed, 2),
            "database": {
                "vendor": "postgresql",
                "version": db_version,
                "server_version": server_version,
                "name": connection.settings_dict["NAME"],
                "host": connection.settings_dict["HOST"],
            },
            "python": platform.python_version(),
            "django": django.get_version(),
            "psycopg": psycopg.__version__,
            "machine": {
                "uname": " ".join([uname.system, uname.node, uname.release, uname.version, uname.machine]),
                "cpu_count": os.cpu_count(),
                "cpu_model": cpu_model(),
            },
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }

    def report(self, r: dict) -> None:
        f, s = r["floor"], r["service"]
        verdict = "PASS" if r["pass"] else "MISSED"
        q = r["queries_per_transition"]
        print(
            f"\nTransition benchmark ({r['action']}), n={r['n']} of each, "
            f"PostgreSQL {r['database']['server_version']}, Python {r['python']}, Django {r['django']}\n"
            f"  floor (raw SQL)              median {f['median_ms']:7.3f} ms   p95 {f['p95_ms']:7.3f} ms\n"
            f"  service (order_transition)   median {s['median_ms']:7.3f} ms   p95 {s['p95_ms']:7.3f} ms\n"
            f"  ratio service/floor          median {r['ratio_median']:7.2f}x    p95 {r['ratio_p95']:7.2f}x"
            f"   target <= {r['target_ratio']:.1f}x: {verdict}\n"
            f"  statements per transition (with BEGIN/COMMIT): floor {q['floor']}, "
            f"service {q['service_reused_actor']} (actor reused) / {q['service_fresh_actor']} (actor fresh)\n"
            f"  results: {self.args.out}"
        )
        if not r["pass"]:
            print(f"  TARGET MISSED: the service costs more than {r['target_ratio']:.1f}x the floor (see the json).")


if __name__ == "__main__":
    sys.exit(main())
