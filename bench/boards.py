"""Board benchmark: the pages people work from, on a hub of 1,000,000 orders.

    python -m bench.boards [--requests 200] [--warmup 5] [--orders 1000000] [--events-per-order 4]

(`make bench` runs it; see scripts/bench.sh. The data set lives in a database of its own,
`<bench database>_boards`, built once by bench/dataset.py and reused while it fits.)

Each page is requested `--requests` times through Django's test client, in this process,
logged in (force_login) as the demo user who works from it: the customer-service board (cs1,
who works 3 of the data set's 27 brands, so every cs1 page is brand-scoped; no filter,
?owner=mine, ?owner=all, ?owner=all&brand=bench-01, ?q=<a random order number of its brands>,
in turn), the warehouse board
(wh1, as is), the operations board (ops1; every reason, then each reason alone, then one
brand), the timeline of
one of the three 50-event orders and of random orders (cs1), the admin's customer-service,
warehouse and operations board changelists, and the live rows endpoint of the customer-service
board: with the current change token (nothing changed: 204) and with an old one (the rows).

Per page: p50/p95/max of the whole request (middleware, view, queries, template), the SQL
statements one request runs (CaptureQueriesContext, in one extra request per variant, so the
timed requests pay no query logging), their summed time, and the slowest one with its EXPLAIN
(ANALYZE, BUFFERS) plan, so a miss can be diagnosed from the json alone.

Target: p95 < 150 ms for every page. Results: bench/results/boards.json ("pass": false when a
page misses; an error on a page fails the run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from bench.common import cpu_model, django_setup_for_bench, percentile
from bench.dataset import MAX_AGE_HOURS, dataset_database_prepare, dataset_database_select, dataset_ensure

TARGET_P95_MS = 150.0
RESULTS = Path(__file__).resolve().parent / "results" / "boards.json"
PLAN_LINES = 60


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.boards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per page variant first")
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the data set (default 1000000)")
    parser.add_argument("--events-per-order", type=float, default=4.0, help="average events per order (default 4)")
    parser.add_argument("--database", help="the data set's database (default: DATABASE_URL's name + _boards)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set even when it fits")
    parser.add_argument(
        "--max-age-hours", type=float, default=MAX_AGE_HOURS, help="rebuild a data set older than this (default 6)"
    )
    parser.add_argument("--only", help="comma-separated page names to measure (default: all)")
    parser.add_argument("--seed", type=int, default=7, help="which random orders are opened and searched")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    # bench.sh passes its extra arguments to every benchmark: ignore the ones of the others.
    args, _unknown = parser.parse_known_args(argv)
    if args.requests < 1 or args.warmup < 0 or args.orders < 100:
        parser.error("--requests must be positive, --warmup not negative, --orders at least 100")
    return args


class Page:
    """One page to measure: variants are (label, user, url-maker) taken in turn."""

    def __init__(self, name: str, url_name: str, variants: list[tuple[str, str, object]], expect=(200,)):
        self.name, self.url_name, self.variants, self.expect = name, url_name, variants, expect


def pages_build(*, rng: random.Random, sample_numbers: list[str], big_numbers: list[str], cs_user=None) -> list[Page]:
    from django.urls import reverse

    from orders.selectors import board_change_token

    def fixed(url):
        return lambda: url

    def search(base):
        return lambda: f"{base}?q={rng.choice(sample_numbers)}"

    def timeline(numbers):
        return lambda: reverse("orders:timeline", args=[rng.choice(numbers)])

    cs = reverse("orders:board_cs")
    rows = reverse("orders:board_rows", args=["cs"])
    admin_cs = "/admin/orders/customerserviceboard/"
    admin_wh = "/admin/orders/warehouseboard/"
    ops = reverse("orders:board_ops")
    # An old token: the page shown a while ago, before the newest events.
    old_token = "1.1.1"
    return [
        Page(
            "cs_board",
            "orders:board_cs",
            [
                ("default", "cs1", fixed(cs)),
                ("owner=mine", "cs1", fixed(f"{cs}?owner=mine")),
                ("owner=all", "cs1", fixed(f"{cs}?owner=all")),
                ("owner=all&brand=bench-01", "cs1", fixed(f"{cs}?owner=all&brand=bench-01")),
                ("q=<number>", "cs1", search(cs)),
            ],
        ),
        Page(
            "warehouse_board", "orders:board_warehouse", [("default", "wh1", fixed(reverse("orders:board_warehouse")))]
        ),
        Page(
            "ops_board",
            "orders:board_ops",
            [
                ("default", "ops1", fixed(ops)),
                ("kind=stale", "ops1", fixed(f"{ops}?kind=stale")),
                ("kind=conflicting", "ops1", fixed(f"{ops}?kind=conflicting")),
                ("kind=risk_hold", "ops1", fixed(f"{ops}?kind=risk_hold")),
                ("brand=bench-01", "ops1", fixed(f"{ops}?brand=bench-01")),
            ],
        ),
        Page("timeline_big", "orders:timeline", [("50 events", "cs1", timeline(big_numbers))]),
        Page("timeline_random", "orders:timeline", [("random order", "cs1", timeline(sample_numbers))]),
        Page(
            "admin_cs_board",
            "admin:orders_customerserviceboard_changelist",
            [
                ("default", "cs1", fixed(admin_cs)),
                ("owner=mine", "cs1", fixed(f"{admin_cs}?owner=mine")),
                ("q=<number>", "cs1", search(admin_cs)),
            ],
        ),
        Page(
            "admin_warehouse_board",
            "admin:orders_warehouseboard_changelist",
            [("default", "wh1", fixed(admin_wh))],
        ),
        Page(
            "admin_ops_board",
            "admin:orders_operationsboard_changelist",
            [("default", "ops1", fixed("/admin/orders/operationsboard/"))],
        ),
        Page(
            "cs_rows_unchanged",
            "orders:board_rows",
            [("since=<current token>", "cs1", lambda: f"{rows}?since={board_change_token(user=cs_user)}")],
            # 200 when the minute turned between reading the token and the request.
            expect=(204, 200),
        ),
        Page(
            "cs_rows_changed",
            "orders:board_rows",
            [("since=<old token>", "cs1", fixed(f"{rows}?since={old_token}&owner=mine"))],
        ),
    ]


def page_measure(page: Page, *, clients: dict, requests: int, warmup: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings: dict[str, list[float]] = {label: [] for label, _user, _url in page.variants}
    statuses: Counter = Counter()
    for _label, user, url in page.variants:
        for _ in range(warmup):
            _get(clients[user], url(), page.expect)
    for i in range(requests):
        label, user, url = page.variants[i % len(page.variants)]
        target = url()
        client = clients[user]
        started = time.perf_counter()
        response = client.get(target)
        elapsed = (time.perf_counter() - started) * 1000
        _check(response, target, page.expect)
        statuses[response.status_code] += 1
        timings[label].append(elapsed)
    # One more request per variant, with every statement recorded.
    variants, slowest = {}, None
    for label, user, url in page.variants:
        target = url()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            _get(clients[user], target, page.expect)
            elapsed = (time.perf_counter() - started) * 1000
        queries = [{"sql": q["sql"], "ms": float(q["time"]) * 1000} for q in captured.captured_queries]
        variants[label] = {
            "url": target,
            "user": user,
            **_figures(timings[label]),
            "queries": len(queries),
            "captured_request_ms": round(elapsed, 1),
            "captured_db_ms": round(sum(q["ms"] for q in queries), 1),
        }
        for q in queries:
            if _is_select(q["sql"]) and (slowest is None or q["ms"] > slowest["ms"]):
                slowest = {**q, "variant": label, "url": target}
    all_timings = [t for values in timings.values() for t in values]
    result = {
        "url_name": page.url_name,
        "requests": len(all_timings),
        **_figures(all_timings),
        "target_p95_ms": TARGET_P95_MS,
        "queries": max(v["queries"] for v in variants.values()),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "variants": variants,
    }
    result["pass"] = result["p95_ms"] < TARGET_P95_MS
    if slowest is not None:
        result["slowest_query"] = {
            "variant": slowest["variant"],
            "url": slowest["url"],
            "ms": round(slowest["ms"], 2),
            "sql": slowest["sql"],
            **explain(slowest["sql"]),
        }
    return result


def _figures(values: list[float]) -> dict:
    return {
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "max_ms": round(max(values), 1),
        "mean_ms": round(sum(values) / len(values), 1),
    }


def _get(client, target: str, expect):
    response = client.get(target)
    _check(response, target, expect)
    return response


def _check(response, target: str, expect) -> None:
    if response.status_code not in expect:
        raise AssertionError(f"GET {target}: {response.status_code}, expected {' or '.join(map(str, expect))}")


def _is_select(sql: str) -> bool:
    return sql.lstrip().upper().startswith(("SELECT", "WITH"))


def explain(sql: str) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of one captured statement: the plan's text (first lines), the
    execution and planning times, and the scans it made."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        (plan_json,) = cursor.fetchone()
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        text = [row[0] for row in cursor.fetchall()]
    if isinstance(plan_json, str):
        plan_json = json.loads(plan_json)
    top = plan_json[0]
    scans = []

    def walk(node):
        if "Relation Name" in node or "Scan" in node["Node Type"]:
            scans.append(
                {
                    "node": node["Node Type"],
                    "relation": node.get("Relation Name", ""),
                    "index": node.get("Index Name", ""),
                    "rows": node.get("Actual Rows"),
                    "loops": node.get("Actual Loops"),
                    "total_ms": node.get("Actual Total Time"),
                    "filter": node.get("Filter", node.get("Index Cond", "")),
                    "rows_removed_by_filter": node.get("Rows Removed by Filter", 0),
                }
            )
        for child in node.get("Plans", []):
            walk(child)

    walk(top["Plan"])
    return {
        "explain": {
            "execution_ms": top.get("Execution Time"),
            "planning_ms": top.get("Planning Time"),
            "top_node": top["Plan"]["Node Type"],
            "scans": scans,
            "plan": text[:PLAN_LINES]
            + ([f"... {len(text) - PLAN_LINES} more lines"] if len(text) > PLAN_LINES else []),
        }
    }


def boards_measure(
    *,
    orders: int,
    big_numbers: list[str],
    requests: int,
    warmup: int,
    seed: int = 7,
    only: set[str] | None = None,
    log=print,
) -> tuple[dict, dict]:
    """Measure every page (or those in `only`) on the data set of `orders` orders in the current
    database: (results by page name, errors by page name). `big_numbers`: the 50-event orders."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from orders.selectors import shop_ids_visible_to

    users = {u.username: u for u in get_user_model().objects.filter(username__in=["cs1", "wh1", "ops1"])}
    rng = random.Random(seed)
    # cs1 works three of the 27 brands: the orders it opens and searches are among theirs.
    cs1_shops = sorted(shop_ids_visible_to(users["cs1"]) or ())
    with connection.cursor() as cursor:
        ids = rng.sample(range(1, orders + 1), min(orders, 5000))
        cursor.execute(
            "SELECT number FROM orders_order WHERE id = ANY(%s) AND shop_id = ANY(%s) ORDER BY id LIMIT 500",
            [ids, cs1_shops],
        )
        sample_numbers = [row[0] for row in cursor.fetchall()]
    big_numbers = big_numbers or sample_numbers[:3]

    host = (settings.ALLOWED_HOSTS or ["localhost"])[0]
    host = "localhost" if host in ("*", "") or host.startswith(".") else host
    clients = {}
    for username, user in users.items():
        clients[username] = Client(HTTP_HOST=host)
        clients[username].force_login(user)

    pages = pages_build(rng=rng, sample_numbers=sample_numbers, big_numbers=big_numbers, cs_user=users["cs1"])
    if only:
        pages = [p for p in pages if p.name in only]
    results, errors = {}, {}
    for page in pages:
        log(f"  {page.name} ...", end="", flush=True)
        try:
            results[page.name] = page_measure(page, clients=clients, requests=requests, warmup=warmup)
            r = results[page.name]
            log(f" p95 {r['p95_ms']:.1f} ms, {r['queries']} queries")
        except Exception as exc:  # a page that does not work: reported, and the run fails
            errors[page.name] = f"{type(exc).__name__}: {exc}"
            log(f" ERROR {errors[page.name]}")
            traceback.print_exc(limit=3)
    return results, errors


def main(argv=None) -> int:
    args = parse_args(argv)
    dataset_database_select(name=args.database)
    if (status := django_setup_for_bench("boards")) is not None:
        return status
    dataset_database_prepare()
    started = time.perf_counter()
    dataset = dataset_ensure(
        args.orders, events_per_order=args.events_per_order, max_age_hours=args.max_age_hours, force=args.rebuild
    )
    dataset_seconds = time.perf_counter() - started

    results, errors = boards_measure(
        orders=args.orders,
        big_numbers=dataset.get("big_order_numbers") or [],
        requests=args.requests,
        warmup=args.warmup,
        seed=args.seed,
        only=set(args.only.split(",")) if args.only else None,
    )

    result = result_build(args, dataset, dataset_seconds, results, errors)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    table_print(result)
    print(f"  results: {args.out}")
    return 1 if errors else 0


def table_print(result: dict) -> None:
    print(f"\nBoards on {result['dataset']['orders']:,} orders / {result['dataset']['events']:,} events")
    print(f"{'page':<24}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'queries':>9}{'slowest SQL ms':>16}  verdict")
    for name, page in result["pages"].items():
        slow = page.get("slowest_query", {}).get("ms", 0)
        verdict = "PASS" if page["pass"] else "MISSED"
        print(
            f"{name:<24}{page['p50_ms']:>9.1f}{page['p95_ms']:>9.1f}{page['max_ms']:>9.1f}{page['queries']:>9}"
            f"{slow:>16.1f}  {verdict}"
        )
    for name, error in result["errors"].items():
        print(f"{name:<24}  ERROR {error}")
    overall = "PASS" if result["pass"] else "MISSED"
    print(f"Target p95 < {TARGET_P95_MS:.0f} ms on every page: {overall}")


def result_build(args, dataset: dict, dataset_seconds: float, pages: dict, errors: dict) -> dict:
    import django
    import psycopg
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), current_setting('server_version'), current_setting('shared_buffers')")
        db_version, server_version, shared_buffers = cursor.fetchone()
    uname = platform.uname()
    return {
        "benchmark": "boards",
        "target_p95_ms": TARGET_P95_MS,
        "pass": bool(pages) and not errors and all(p["pass"] for p in pages.values()),
        "pass_rule": "every page's p95 (whole request through Django's test client, logged in) is under "
        "target_p95_ms; a page that errors fails the run",
        "requests_per_page": args.requests,
        "warmup_per_variant": args.warmup,
        "method": "test client in this process (no HTTP server, no network), force_login as the page's role; "
        "variants of a page are requested in turn; query counts and the slowest query's EXPLAIN (ANALYZE, "
        "BUFFERS) come from one extra request per variant under CaptureQueriesContext",
        "pages": pages,
        "errors": errors,
        "dataset": {
            "database": connection.settings_dict["NAME"],
            "built_now": dataset.get("built"),
            "age_hours_at_run": round(
                (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(dataset["built_at"])).total_seconds() / 3600, 2
            ),
            "ensure_seconds": round(dataset_seconds, 1),
            **{k: v for k, v in dataset.items() if k != "built"},
        },
        "database": {
            "vendor": "postgresql",
            "version": db_version,
            "server_version": server_version,
            "shared_buffers": shared_buffers,
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


if __name__ == "__main__":
    sys.exit(main())
