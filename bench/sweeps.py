"""Alert sweep benchmark: the four sweeps over a hub of 1,000,000 orders and ~10,000,000 events.

    python -m bench.sweeps [--orders 1000000] [--events-per-order 10] [--repeat 3]

(`make bench` runs it; see scripts/bench.sh. The data set is bench/dataset.py's, in a database
of its own, `<bench database>_sweeps`, because it has more events than the boards' set and this
benchmark empties the alerts table.)

1. The four sweeps' alerts are deleted (a clean alerts table), then each sweep runs once: every
   order found is an opening ("first run").
2. Then the sweeps run `--repeat` times more: nothing to open or resolve, every active alert is
   touched (last seen, times seen) — the steady state beat sees every minute ("second run": the
   median and the worst of the repeats).
3. One more run under CaptureQueriesContext: per sweep the statements and their time, and the
   slowest statement's EXPLAIN (ANALYZE, BUFFERS) (writes inside a rolled-back transaction).

Target: stale + conflict + SLA together in < 5 s, first run and second run alike (the risk-hold
sweep is reported beside them). Results: bench/results/sweeps.json ("pass": false on a miss).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

from bench.common import cpu_model, django_setup_for_bench
from bench.dataset import MAX_AGE_HOURS, dataset_database_prepare, dataset_database_select, dataset_ensure

TARGET_SECONDS = 5.0
TARGET_SWEEPS = ("stale", "conflicts", "sla")
RESULTS = Path(__file__).resolve().parent / "results" / "sweeps.json"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.sweeps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the data set (default 1000000)")
    parser.add_argument(
        "--events-per-order", type=float, default=10.0, help="average events per order (default 10: ~10M events)"
    )
    parser.add_argument("--database", help="the data set's database (default: DATABASE_URL's name + _sweeps)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set even when it fits")
    parser.add_argument("--max-age-hours", type=float, default=MAX_AGE_HOURS, help="rebuild a set older than this")
    parser.add_argument("--repeat", type=int, default=3, help="idempotent runs after the first (default 3)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args, _unknown = parser.parse_known_args(argv)  # `make bench` passes every benchmark's options
    return args


def _run_all(now) -> dict[str, dict]:
    from alerts.sweeps import SWEEPS

    out = {}
    for name, sweep in SWEEPS.items():
        started = time.perf_counter()
        counts = sweep(now=now)
        out[name] = {
            "seconds": round(time.perf_counter() - started, 3),
            **counts.as_dict(),
            "rewritten": counts.rewritten,
        }
    return out


def _total(run: dict, names) -> float:
    return round(sum(run[name]["seconds"] for name in names), 3)


def _plannable(sql: str) -> str:
    """The statement EXPLAIN can take: the query of a DECLARE … CURSOR … FOR, a SELECT, WITH,
    INSERT, UPDATE or DELETE; "" for the rest (COMMIT, SAVEPOINT, RELEASE)."""
    text = sql.lstrip()
    head = text[:8].upper()
    if head.startswith("DECLARE"):
        match = re.search(r"\bCURSOR\b.*?\bFOR\b\s", text, flags=re.IGNORECASE | re.DOTALL)
        return text[match.end() :] if match else ""
    return text if head.startswith(("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")) else ""


def _explained_run(now) -> dict:
    """Each sweep once more, its statements captured; the slowest one explained."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from alerts.sweeps import SWEEPS
    from bench.boards import explain

    out = {}
    for name, sweep in SWEEPS.items():
        with CaptureQueriesContext(connection) as captured:
            sweep(now=now)
        statements = [{"ms": round(float(q["time"]) * 1000, 1), "sql": q["sql"]} for q in captured.captured_queries]
        slowest = max(statements, key=lambda s: s["ms"])
        # The slowest statement that has a plan (not COMMIT or a savepoint; a server-side
        # cursor's query without its DECLARE).
        planned = [dict(s, sql=_plannable(s["sql"])) for s in statements if _plannable(s["sql"])]
        plan = {}
        if planned:
            slowest_planned = max(planned, key=lambda s: s["ms"])

            class Rollback(Exception):
                pass

            try:
                with transaction.atomic():
                    plan = explain(slowest_planned["sql"])
                    raise Rollback
            except Rollback:
                pass
            plan = {"explained_ms": slowest_planned["ms"], "explained_sql": slowest_planned["sql"][:1500], **plan}
        out[name] = {
            "statements": len(statements),
            "statements_ms": [s["ms"] for s in statements],
            "slowest_ms": slowest["ms"],
            "slowest_sql": slowest["sql"][:1500],
            **plan,
        }
    return out


PASS_RULE = (
    "stale + conflicts + sla together under target_seconds in the first run (clean alerts "
    "table: all openings) and in the worst idempotent run; the idempotent runs open and resolve nothing"
)


def sweeps_measure(*, repeat: int = 3, orders: int | None = None, log=print) -> dict:
    """The sweeps on the current database's data set: a first run on a clean alerts table, then
    `repeat` idempotent runs at the same clock, then one explained run. Returns "pass",
    "first_run", "second_run", "explain", "thresholds", "events" and "alerts_deleted"."""
    from django.db import connection
    from django.utils import timezone

    from alerts.models import Alert, AlertKind, AlertKindSettings
    from alerts.sweeps import stale_thresholds
    from orders.selectors import hub_settings_get

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_orderevent")
        (events,) = cursor.fetchone()

    kinds = [AlertKind.STALE_ORDER, AlertKind.CONFLICTING_EDITS, AlertKind.SLA_BREACH, AlertKind.RISK_HOLD_WAITING]
    for kind in kinds:  # measure every kind, whatever an earlier run left switched off
        AlertKindSettings.objects.update_or_create(kind=kind, defaults={"enabled": True})
    deleted, _ = Alert.objects.filter(kind__in=kinds).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE alerts_alert")
    if orders is not None:
        log(f"Sweeps on {orders:,} orders / {events:,} events ({deleted} old alerts deleted)")

    # One clock for every run: the repeats are the same minute's sweep again (the idempotent case);
    # a minute later a few more orders are stale, which is news, not a repeat.
    now = timezone.now()
    first = _run_all(now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE alerts_alert")  # what autovacuum does after a burst of inserts
    repeats = [_run_all(now) for _ in range(max(repeat, 1))]
    idempotent = all(r[name]["opened"] == 0 and r[name]["resolved"] == 0 for r in repeats for name in r)
    second = {
        name: {
            "seconds_median": round(statistics.median(r[name]["seconds"] for r in repeats), 3),
            "seconds_max": round(max(r[name]["seconds"] for r in repeats), 3),
            **{k: repeats[-1][name][k] for k in ("opened", "touched", "resolved", "rewritten")},
        }
        for name in first
    }
    explained = _explained_run(now)

    first_target = _total(first, TARGET_SWEEPS)
    second_target = round(max(sum(r[name]["seconds"] for name in TARGET_SWEEPS) for r in repeats), 3)
    hub = hub_settings_get()
    return {
        "pass": first_target < TARGET_SECONDS and second_target < TARGET_SECONDS and idempotent,
        "first_run": {"target_sweeps_seconds": first_target, "all_seconds": _total(first, first), "sweeps": first},
        "second_run": {
            "target_sweeps_seconds_worst": second_target,
            "all_seconds_worst": round(max(sum(r[n]["seconds"] for n in r) for r in repeats), 3),
            "repeats": len(repeats),
            "opens_or_resolves_nothing": idempotent,
            "sweeps": second,
        },
        "explain": explained,
        "thresholds": {
            "stale_minutes_per_state": stale_thresholds(),
            "conflict_role_count": hub.conflict_role_count,
            "conflict_window_hours": hub.conflict_window_hours,
        },
        "events": events,
        "alerts_deleted": deleted,
    }


def table_print(measured: dict, *, log=print) -> None:
    first, second = measured["first_run"]["sweeps"], measured["second_run"]["sweeps"]
    log(f"{'sweep':<12}{'first s':>9}{'opened':>9}{'second s':>10}{'touched':>9}{'rewritten':>10}{'resolved':>9}")
    for name in first:
        f, s = first[name], second[name]
        log(
            f"{name:<12}{f['seconds']:>9.3f}{f['opened']:>9}{s['seconds_median']:>10.3f}{s['touched']:>9}"
            f"{s.get('rewritten', 0):>10}{s['resolved']:>9}"
        )

    log(
        f"stale+conflicts+sla: first {measured['first_run']['target_sweeps_seconds']:.3f} s, second (worst) "
        f"{measured['second_run']['target_sweeps_seconds_worst']:.3f} s; "
        f"target < {TARGET_SECONDS:g} s: {'pass' if measured['pass'] else 'MISS'}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    dataset_database_select(name=args.database, suffix="_sweeps")
    if (status := django_setup_for_bench("sweeps")) is not None:
        return status
    from django.db import connection

    dataset_database_prepare()
    started = time.perf_counter()
    dataset = dataset_ensure(
        args.orders, events_per_order=args.events_per_order, max_age_hours=args.max_age_hours, force=args.rebuild
    )
    dataset_seconds = time.perf_counter() - started
    measured = sweeps_measure(repeat=args.repeat, orders=dataset["orders"])
    events = measured["events"]
    result = {
        "benchmark": "sweeps",
        "target_seconds": TARGET_SECONDS,
        "target_sweeps": list(TARGET_SWEEPS),
        "pass": measured["pass"],
        "pass_rule": PASS_RULE,
        **{key: measured[key] for key in ("first_run", "second_run", "explain", "thresholds")},
        "dataset": {
            "database": connection.settings_dict["NAME"],
            "orders": dataset["orders"],
            "events": events,
            "events_per_order_param": args.events_per_order,
            "active": dataset.get("active"),
            "stale_at_build": dataset.get("stale"),
            "built_now": dataset.get("built"),
            "built_at": dataset.get("built_at"),
            "ensure_seconds": round(dataset_seconds, 1),
        },
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "python": platform.python_version()},
    }
    try:
        from bench.boards import result_build

        machine = result_build(args, {**dataset, "built_at": dataset.get("built_at")}, dataset_seconds, {}, {})
        result.update({k: machine[k] for k in ("database", "python", "django", "psycopg", "machine")})
    except Exception:  # the machine description is a courtesy
        pass
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")

    table_print(measured)
    print(f"  results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
