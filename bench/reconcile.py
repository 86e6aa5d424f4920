"""Reconciliation benchmark: a 1,000,000-row export against the 1,000,000-order hub.

    python -m bench.reconcile [--orders 1000000] [--share 0.005] [--keep-file]

Uses the read benchmarks' data set (bench/dataset.py, built once and reused). Writes a CSV
export of every order of the hub as a finance ledger extended with the main status and the
tracking number would show it (order number, main status, amount, payment status, latest
tracking number), with a realistic share of differences (`--share`, 0.5 % by default, split
evenly over: amount, status, payment, tracking number changed; row dropped → missing in the
source; unknown order number added → missing in the hub). Then runs

    manage.py reconcile --source finance FILE --mapping bench --json

in a child process (read only: no --fix, so the data set stays as it is) and measures its wall
time and peak RSS (getrusage of the children). Targets: < 60 s, < 300 MB. Results:
bench/results/reconcile.json, including whether the counts found equal the differences made.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import cpu_model, django_setup_for_bench
from bench.dataset import dataset_database_prepare, dataset_database_select, dataset_ensure

RESULTS = Path(__file__).resolve().parent / "results" / "reconcile.json"
TARGET_SECONDS = 60.0
TARGET_MB = 300.0
KINDS = (
    "amount_mismatch",
    "status_mismatch",
    "payment_mismatch",
    "tracking_mismatch",
    "missing_in_source",
    "missing_in_hub",
)
MAPPING = {
    "columns": {
        "number": "订单号",
        "status": "订单状态",
        "amount": "金额",
        "payment": "收款状态",
        "tracking_number": "运单号",
    },
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the data set (default 1000000)")
    parser.add_argument("--share", type=float, default=0.005, help="share of rows with a difference (default 0.005)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-file", action="store_true", help="keep the generated export")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def export_write(path: Path, *, share: float, seed: int) -> dict:
    """The export, streamed from the database; returns the differences made, by kind."""
    from django.db import connection

    from orders.states import MainStatus, PaymentStatus

    rng = random.Random(seed)
    made = dict.fromkeys(KINDS, 0)
    other_status = {s: next(o for o in MainStatus.values if o != s) for s in MainStatus.values}
    other_payment = {s: next(o for o in PaymentStatus.values if o != s) for s in PaymentStatus.values}
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as f, connection.cursor() as cursor:
        writer = csv.writer(f)
        writer.writerow(MAPPING["columns"].values())
        cursor.execute("DECLARE bench_export NO SCROLL CURSOR WITH HOLD FOR " + _EXPORT_SQL)
        while True:
            cursor.execute("FETCH FORWARD 20000 FROM bench_export")
            batch = cursor.fetchall()
            if not batch:
                break
            for order_id, number, main_status, amount, payment, tracking in batch:
                row = [number, main_status, f"{amount:.2f}", payment, tracking or ""]
                if rng.random() < share:
                    kind = rng.choice(KINDS)
                    # Finance's scope is the paid orders: only those are missed when dropped.
                    if kind == "missing_in_source" and payment != PaymentStatus.PAID:
                        kind = "amount_mismatch"
                    if kind == "tracking_mismatch" and not tracking:
                        kind = "status_mismatch"
                    made[kind] += 1
                    if kind == "missing_in_source":
                        continue
                    if kind == "missing_in_hub":
                        writer.writerow(row)
                        rows += 1
                        row = [f"XX{order_id:012d}", main_status, row[2], payment, ""]
                    elif kind == "amount_mismatch":
                        row[2] = f"{amount + 1:.2f}"
                    elif kind == "status_mismatch":
                        row[1] = other_status[main_status]
                    elif kind == "payment_mismatch":
                        row[3] = other_payment[payment]
                    else:
                        row[4] = f"ZZ{order_id:012d}"
                writer.writerow(row)
                rows += 1
        cursor.execute("CLOSE bench_export")
    return {"rows": rows, "made": made}


_EXPORT_SQL = """
SELECT o.id, o.number, o.main_status, o.amount, o.payment_status,
       (SELECT s.tracking_number FROM orders_shipment s WHERE s.order_id = o.id ORDER BY s.sequence DESC LIMIT 1)
FROM orders_order o WHERE o.main_order_id IS NULL ORDER BY o.id
"""


def mapping_ensure():
    from orders.states import MainStatus, PaymentStatus
    from reconciliation.models import SourceMapping

    SourceMapping.objects.update_or_create(
        source="finance",
        name="bench",
        defaults={
            "is_default": False,
            "columns": MAPPING["columns"],
            "statuses": {s: s for s in MainStatus.values},
            "payment_statuses": {s: s for s in PaymentStatus.values},
        },
    )


def main(argv=None) -> int:
    args = parse_args(argv or sys.argv[1:])
    dataset_database_select()
    if (status := django_setup_for_bench("reconcile")) is not None:
        return status
    dataset_database_prepare()
    started = time.perf_counter()
    dataset = dataset_ensure(args.orders)
    dataset_seconds = time.perf_counter() - started
    mapping_ensure()

    workdir = Path(tempfile.mkdtemp(prefix="reconcile-bench-"))
    path = workdir / "ledger.csv"
    started = time.perf_counter()
    export = export_write(path, share=args.share, seed=args.seed)
    export_seconds = time.perf_counter() - started
    print(f"export: {export['rows']:,} rows, {path.stat().st_size / 1e6:.0f} MB in {export_seconds:.1f} s", flush=True)

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.dev")}
    command = [sys.executable, "manage.py", "reconcile", str(path), "--source", "finance", "--mapping", "bench"]
    command += ["--json", "--report", str(workdir / "report.csv")]
    started = time.perf_counter()
    child = subprocess.run(command, env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if child.returncode != 0:
        print(child.stderr, file=sys.stderr)
        return 1
    counts = json.loads(child.stdout)
    found = counts["differences"]
    made = export["made"]
    result = {
        "benchmark": "reconcile",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "orders": args.orders,
        "dataset_ensure_seconds": round(dataset_seconds, 1),
        "dataset_built": dataset.get("built", False),
        "source_rows": export["rows"],
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "export_seconds": round(export_seconds, 1),
        "differences_made": made,
        "differences_found": found,
        "counts_match": all(found.get(kind, 0) == made[kind] for kind in KINDS),
        "run": counts,
        "wall_seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_mb, 1),
        "target": {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_MB},
        "pass": seconds < TARGET_SECONDS and peak_mb < TARGET_MB,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: result[k] for k in ("wall_seconds", "peak_rss_mb", "counts_match", "pass")}))
    if not args.keep_file:
        for name in ("ledger.csv", "report.csv"):
            (workdir / name).unlink(missing_ok=True)
        workdir.rmdir()
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
