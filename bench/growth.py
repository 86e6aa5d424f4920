"""Growth benchmark: the boards, the live poll, the timeline and the sweeps as the hub grows.

    python -m bench.growth [--sizes 100000,1000000,5000000] [--requests 100] [--events-per-order 4]

(`make bench` runs it; see scripts/bench.sh.) For each size, bench/dataset.py's data set of that
many orders (events in proportion: `--events-per-order`, 4 by default, so 400 k, 4 M and 20 M
events) in a database of its own, `<bench database>_growth_<size>` (orderhub_bench_growth_100k,
_1m, _5m), built once and reused while it fits (dataset.py: the same parameters, younger than
`--max-age-hours`). On it, the pages of bench/boards.py (`boards_measure`: the boards, the
admin's board lists, the timeline of a 50-event order and of random orders, the live poll with
nothing changed and with rows changed; `--requests` timed requests per page) and the sweeps of
bench/sweeps.py (`sweeps_measure`: a first run on a clean alerts table, `--repeat` idempotent
runs, one explained run).

Each size runs in a process of its own (`--one-size`, a fresh Django connection on the size's
database and nothing left in memory from the size before); the parent reads that process's peak
resident memory from the kernel (wait4) and the load average before and after, since other
benchmarks may share the machine.

Targets at every size: every page's p95 < 150 ms, stale + conflicts + sla together < 5 s in the
first run and in the worst repeat. Results: bench/results/growth.json ("pass": false when a
size misses; a page that errors or a size that cannot be measured fails the run). "curve" holds
the figures by size, in the order of "sizes"; "runs" each size's details (query counts, the
slowest query's EXPLAIN ANALYZE per page and per sweep, the data set and its build).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.boards import TARGET_P95_MS
from bench.dataset import MAX_AGE_HOURS
from bench.sweeps import TARGET_SECONDS, TARGET_SWEEPS

RESULTS = Path(__file__).resolve().parent / "results" / "growth.json"
DEFAULT_SIZES = "100000,1000000,5000000"
PLAN_LINES = 40


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"orders per data set, comma-separated ({DEFAULT_SIZES})"
    )
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page and size (default 100)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page variant first (default 3)")
    parser.add_argument("--events-per-order", type=float, default=4.0, help="average events per order (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="idempotent sweep runs after the first (default 3)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild every data set even when it fits")
    parser.add_argument("--max-age-hours", type=float, default=MAX_AGE_HOURS, help="rebuild a set older than this")
    parser.add_argument("--only", help="comma-separated page names to measure (default: all)")
    parser.add_argument("--no-sweeps", action="store_true", help="measure the pages only")
    parser.add_argument("--seed", type=int, default=7, help="which random orders are opened and searched")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)  # the child: one size, then exit
    parser.add_argument("--part", type=Path, help=argparse.SUPPRESS)  # where the child writes its figures
    # bench.sh passes its extra arguments to every benchmark: ignore the ones of the others.
    args, _unknown = parser.parse_known_args(argv)
    try:
        args.size_list = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    except ValueError:
        parser.error("--sizes: comma-separated whole numbers of orders")
    if not args.size_list or min(args.size_list) < 100 or args.requests < 1 or args.warmup < 0:
        parser.error("--sizes at least 100 orders each, --requests positive, --warmup not negative")
    return args


def size_label(orders: int) -> str:
    """100000 → 100k, 1000000 → 1m, 2500000 → 2500k."""
    if orders % 1_000_000 == 0:
        return f"{orders // 1_000_000}m"
    if orders % 1_000 == 0:
        return f"{orders // 1_000}k"
    return str(orders)


def database_for(orders: int) -> str | None:
    """The size's database: DATABASE_URL's name (+ _growth unless it ends so) + _<size>."""
    from urllib.parse import urlsplit

    parts = urlsplit(os.environ.get("DATABASE_URL", ""))
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return None
    base = parts.path.lstrip("/")
    if not base.endswith("_growth"):
        base += "_growth"
    return f"{base}_{size_label(orders)}"


# ---------------------------------------------------------------------------------------------
# One size (the child process)


def _trimmed_plan(explained: dict) -> dict:
    plan = explained.get("explain") or {}
    lines = plan.get("plan") or []
    return {
        "execution_ms": plan.get("execution_ms"),
        "planning_ms": plan.get("planning_ms"),
        "plan": lines[:PLAN_LINES] + ([f"... {len(lines) - PLAN_LINES} more lines"] if len(lines) > PLAN_LINES else []),
    }


def one_size(args) -> int:
    """Ensure the size's data set, measure it, write the figures to args.part."""
    import resource

    from bench.common import django_setup_for_bench
    from bench.dataset import dataset_database_prepare, dataset_database_select, dataset_ensure

    orders = args.one_size
    dataset_database_select(name=database_for(orders))
    if (status := django_setup_for_bench("growth")) is not None:
        return status
    from django.db import connection

    from bench.boards import boards_measure
    from bench.sweeps import sweeps_measure
    from bench.sweeps import table_print as sweeps_table_print

    dataset_database_prepare()
    started = time.perf_counter()
    dataset = dataset_ensure(
        orders, events_per_order=args.events_per_order, max_age_hours=args.max_age_hours, force=args.rebuild
    )
    ensure_seconds = time.perf_counter() - started
    rss_after_ensure = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    pages, errors = boards_measure(
        orders=orders,
        big_numbers=dataset.get("big_order_numbers") or [],
        requests=args.requests,
        warmup=args.warmup,
        seed=args.seed,
        only=set(args.only.split(",")) if args.only else None,
    )
    page_figures = {}
    for name, page in pages.items():
        slowest = page.get("slowest_query") or {}
        page_figures[name] = {
            **{key: page[key] for key in ("p50_ms", "p95_ms", "max_ms", "mean_ms", "requests", "queries", "pass")},
            "variants": {
                label: {key: variant[key] for key in ("url", "p50_ms", "p95_ms", "queries")}
                for label, variant in page["variants"].items()
            },
            "slowest_query": {
                "variant": slowest.get("variant"),
                "ms": slowest.get("ms"),
                "sql": (slowest.get("sql") or "")[:1500],
                **_trimmed_plan(slowest),
            }
            if slowest
            else None,
        }
    sweeps = None
    measured = None
    if not args.no_sweeps:
        try:
            measured = sweeps_measure(repeat=args.repeat, orders=orders)
        except Exception as exc:  # reported with the pages' figures, and the run fails
            errors["sweeps"] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(limit=5)
    if measured is not None:
        sweeps_table_print(measured)
        sweeps = {
            "pass": measured["pass"],
            "first_run": measured["first_run"],
            "second_run": measured["second_run"],
            "explain": {
                name: {
                    "statements": sweep["statements"],
                    "slowest_ms": sweep["slowest_ms"],
                    "slowest_sql": sweep["slowest_sql"],
                    "explained_ms": sweep.get("explained_ms"),
                    "explained_sql": sweep.get("explained_sql"),
                    **_trimmed_plan(sweep),
                }
                for name, sweep in measured["explain"].items()
            },
            "thresholds": measured["thresholds"],
        }
        events = measured["events"]
    else:
        events = dataset.get("events")

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database()), current_setting('server_version')")
        database_bytes, server_version = cursor.fetchone()
    built_at = dt.datetime.fromisoformat(dataset["built_at"])
    part = {
        "orders": orders,
        "label": size_label(orders),
        "database": connection.settings_dict["NAME"],
        "pass": bool(pages)
        and not errors
        and all(p["pass"] for p in pages.values())
        and (sweeps or {}).get("pass", True),
        "pages": page_figures,
        "errors": errors,
        "sweeps": sweeps,
        "dataset": {
            "orders": dataset["orders"],
            "events": events,
            "lines": dataset.get("lines"),
            "shipments": dataset.get("shipments"),
            "active": dataset.get("active"),
            "stale_at_build": dataset.get("stale"),
            "events_per_order_param": args.events_per_order,
            "built_now": dataset.get("built"),
            "built_at": dataset["built_at"],
            "age_hours_at_run": round((dt.datetime.now(dt.UTC) - built_at).total_seconds() / 3600, 2),
            "build_seconds": dataset.get("build_seconds"),
            "build_timings": dataset.get("timings"),
            # The build's own process (a set reused: the one that built it, when it recorded it).
            "build_peak_rss_mb": dataset.get("build_peak_rss_mb"),
            "ensure_seconds": round(ensure_seconds, 1),
            "peak_rss_mb_after_ensure": round(rss_after_ensure),
            "database_mb": round(database_bytes / 2**20),
        },
        "server_version": server_version,
    }
    args.part.write_text(json.dumps(part, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return 0


# ---------------------------------------------------------------------------------------------
# The curve (the parent)


def _child_argv(args, orders: int, part: Path) -> list[str]:
    argv = [sys.executable, "-m", "bench.growth", "--one-size", str(orders), "--part", str(part)]
    argv += ["--requests", str(args.requests), "--warmup", str(args.warmup), "--seed", str(args.seed)]
    argv += ["--events-per-order", str(args.events_per_order), "--repeat", str(args.repeat)]
    argv += ["--max-age-hours", str(args.max_age_hours)]
    argv += ["--rebuild"] * args.rebuild + ["--no-sweeps"] * args.no_sweeps
    if args.only:
        argv += ["--only", args.only]
    return argv


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def size_run(args, orders: int) -> dict:
    """One size in a child process: its figures, its peak memory, the load around it."""
    with tempfile.TemporaryDirectory(prefix="orderhub-growth-") as folder:
        part = Path(folder) / "part.json"
        load_before, started = _load(), time.perf_counter()
        child = subprocess.Popen(_child_argv(args, orders, part))
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        run = json.loads(part.read_text(encoding="utf-8")) if part.exists() else {"orders": orders}
    run.update(
        exit_status=child.returncode,
        seconds=round(seconds, 1),
        process_peak_rss_mb=round(usage.ru_maxrss / 1024),
        load_avg_before=load_before,
        load_avg_after=_load(),
    )
    if child.returncode != 0 or "pages" not in run:
        run["pass"] = False
        run.setdefault("errors", {})["size"] = f"the measuring process exited with {child.returncode}"
    return run


def curve_build(runs: list[dict]) -> dict:
    """The figures by size, each a list in the order of `orders` (None where a size has none)."""
    names = list(dict.fromkeys(name for run in runs for name in run.get("pages", {})))

    def sweeps_run(run, which):
        return (run.get("sweeps") or {}).get(which) or {}

    sweep_names = list(dict.fromkeys(name for run in runs for name in sweeps_run(run, "first_run").get("sweeps", {})))

    def per_sweep(which, key):
        return {
            name: [sweeps_run(run, which).get("sweeps", {}).get(name, {}).get(key) for run in runs]
            for name in sweep_names
        }

    def of_dataset(key):
        return [(run.get("dataset") or {}).get(key) for run in runs]

    return {
        "orders": [run["orders"] for run in runs],
        "labels": [size_label(run["orders"]) for run in runs],
        "events": of_dataset("events"),
        "pages": {
            name: {
                key: [run.get("pages", {}).get(name, {}).get(key) for run in runs]
                for key in ("p50_ms", "p95_ms", "queries")
            }
            for name in names
        },
        "sweeps": {
            "target_first_run_seconds": [sweeps_run(run, "first_run").get("target_sweeps_seconds") for run in runs],
            "target_second_run_worst_seconds": [
                sweeps_run(run, "second_run").get("target_sweeps_seconds_worst") for run in runs
            ],
            "first_run_seconds": per_sweep("first_run", "seconds"),
            "second_run_worst_seconds": per_sweep("second_run", "seconds_max"),
            "opened_first_run": per_sweep("first_run", "opened"),
        },
        "build_seconds": of_dataset("build_seconds"),
        "build_peak_rss_mb": of_dataset("build_peak_rss_mb"),
        "database_mb": of_dataset("database_mb"),
        "load_avg_before": [run.get("load_avg_before") for run in runs],
    }


def table_print(result: dict) -> None:
    curve = result["curve"]
    labels = curve["labels"]

    def cell(value, digits=1):
        return "—" if value is None else f"{value:.{digits}f}"

    print(f"\nGrowth: p95 ms by orders (target < {TARGET_P95_MS:.0f} ms), sweeps s (target < {TARGET_SECONDS:g} s)")
    print(f"{'page':<28}" + "".join(f"{label:>10}" for label in labels))
    for name, figures in curve["pages"].items():
        print(f"{name:<28}" + "".join(f"{cell(v):>10}" for v in figures["p95_ms"]))
    sweeps = curve["sweeps"]
    print(f"{'sweeps first run (s)':<28}" + "".join(f"{cell(v, 2):>10}" for v in sweeps["target_first_run_seconds"]))
    print(
        f"{'sweeps repeat, worst (s)':<28}"
        + "".join(f"{cell(v, 2):>10}" for v in sweeps["target_second_run_worst_seconds"])
    )
    print(f"{'build s':<28}" + "".join(f"{cell(v, 0):>10}" for v in curve["build_seconds"]))
    print(f"{'build peak MB':<28}" + "".join(f"{cell(v, 0):>10}" for v in curve["build_peak_rss_mb"]))
    print(f"{'load before':<28}" + "".join(f"{cell((v or [None])[0], 2):>10}" for v in curve["load_avg_before"]))
    for run in result["runs"]:
        for name, error in (run.get("errors") or {}).items():
            print(f"{run.get('label', run['orders'])} {name}: ERROR {error}")
    print(
        f"Every page p95 < {TARGET_P95_MS:.0f} ms and the sweeps < {TARGET_SECONDS:g} s at every size: "
        f"{'PASS' if result['pass'] else 'MISSED'}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one_size:
        return one_size(args)
    if database_for(args.size_list[0]) is None:
        print("ERROR: the growth benchmark needs PostgreSQL (DATABASE_URL); use `make bench`", file=sys.stderr)
        return 2
    import platform

    from bench.common import cpu_model

    runs = []
    for orders in args.size_list:
        print(f"== growth: {orders:,} orders in {database_for(orders)} (load {_load()})", flush=True)
        runs.append(size_run(args, orders))
    errors = any(run.get("errors") for run in runs)
    result = {
        "benchmark": "growth",
        "target_p95_ms": TARGET_P95_MS,
        "target_seconds": TARGET_SECONDS,
        "target_sweeps": list(TARGET_SWEEPS),
        "pass": not errors and all(run.get("pass") for run in runs),
        "pass_rule": "at every size, every page's p95 (bench.boards' method) is under target_p95_ms and "
        "stale + conflicts + sla together are under target_seconds in the first run (clean alerts table) and "
        "in the worst idempotent repeat (bench.sweeps' method); a page that errors or a size that cannot be "
        "measured fails the run",
        "sizes": args.size_list,
        "events_per_order": args.events_per_order,
        "requests_per_page": args.requests,
        "warmup_per_variant": args.warmup,
        "sweep_repeats": args.repeat,
        "method": "each size in a process of its own on its own database (bench.dataset's set of that many "
        "orders, reused while it fits); the pages through Django's test client in that process "
        "(bench.boards.boards_measure), then the sweeps (bench.sweeps.sweeps_measure); peak memory from "
        "wait4, the load average (1, 5, 15 min) before and after each size",
        "curve": curve_build(runs),
        "runs": runs,
        "database": {"vendor": "postgresql", "server_version": next((r.get("server_version") for r in runs), None)},
        "python": platform.python_version(),
        "machine": {"cpu_model": cpu_model(), "cpu_count": os.cpu_count()},
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    table_print(result)
    print(f"  results: {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
