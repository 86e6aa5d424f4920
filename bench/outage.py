"""A broker outage under load: Redis dies for five minutes while approvals go on at 200 events/s,
and comes back empty; every reaction must end done exactly once, and the backlog must be worked
off within two minutes of the broker's return.

    python -m bench.outage [--rate 200] [--before 60] [--outage 300] [--after 60]
                           [--concurrency 2] [--recover 180]

(`make bench` runs it with the environment of scripts/bench.sh; the broker here is a
redis-server of the benchmark's own on a free port, nothing on disk, so a kill loses every
queued message, as a crashed broker without persistence does. The shared Redis is not touched.)

The run: bench/notify_latency.py's drivers approve paid orders on one fixed schedule for
before + outage + after seconds; the seed's rule tells each order's CS owner. The Procfile's hub
worker (prefork) drains the lane; this process plays beat: the re-dispatch sweep every 10 s.
At `before` seconds Redis is SIGKILLed (the queued wake-ups are gone, the drivers' commits can
no longer wake anyone: each driver stops trying for ORDERHUB_BROKER_PAUSE_SECONDS after a
failure, the sweep finds the broker down), and `outage` seconds later it is started again,
empty. Measured:

- recovery: from the broker's return until no outbox row committed before it is pending (the
  target: < 120 s), and until every notification of the outage has arrived;
- the queue: its length sampled every second; after the return it must stay small (the sweep
  wakes a few drains per lane, never one task per waiting row);
- exactly once: one notification per approval, for cs2, its outbox row done at the first
  attempt; nothing lost, nothing doubled;
- the latencies of the approvals before the outage and after the recovery, and how long a
  driver's transition took while the broker was down (it must not wait on it).

Results go to bench/results/outage.json ("pass": recovery < 120 s and exactly once).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "outage.json"
WORKER_LOG = ROOT / "var" / "bench-outage-worker.log"
TARGET_RECOVERY_S = 120.0
SWEEP_EVERY_S = 10.0
DUE_SQL = "SELECT count(*) FROM orders_outboxmessage WHERE status = 'pending' AND next_attempt_at <= now()"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.outage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="approvals per second (default 200)")
    parser.add_argument("--before", type=float, default=60.0, help="seconds before the outage (default 60)")
    parser.add_argument("--outage", type=float, default=300.0, help="seconds the broker is down (default 300)")
    parser.add_argument("--after", type=float, default=60.0, help="seconds after its return (default 60)")
    parser.add_argument("--concurrency", type=int, default=2, help="hub worker processes (default 2)")
    parser.add_argument("--recover", type=float, default=300.0, help="seconds to wait for the backlog at most")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args, ignored = parser.parse_known_args(argv)
    if ignored:
        print(f"outage: ignoring arguments it does not take: {' '.join(ignored)}")
    if min(args.rate, args.before, args.outage, args.after, args.recover) <= 0 or args.concurrency < 1:
        parser.error("every duration and the rate must be positive")
    return args


class OwnRedis:
    def __init__(self, folder: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        import redis

        self.starts += 1
        log = (self.folder / f"redis-{self.starts}.log").open("wb")
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def queue_length(self, *names: str) -> int | None:
        import redis

        try:
            client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.5)
            return sum(client.llen(name) for name in names)
        except redis.RedisError:
            return None


def main(argv=None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-outage-"))
    broker = OwnRedis(folder)
    broker.start()
    # Before Django reads its settings: this process, its drivers and the worker use this broker.
    os.environ["REDIS_URL"] = broker.url
    from bench.common import django_setup_for_bench

    try:
        if (status := django_setup_for_bench("outage", need_redis=True)) is not None:
            return status

        def terminate(signum, frame):
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, terminate)
        return Outage(args, broker).run()
    finally:
        broker.kill()
        shutil.rmtree(folder, ignore_errors=True)


class Outage:
    def __init__(self, args, broker: OwnRedis):
        self.args = args
        self.broker = broker
        self.samples: list[tuple[float, int | None, int]] = []  # (t, queue length, due pending rows)
        self.sweeps: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> int:
        from django.conf import settings
        from django.db import connections

        from bench.notify_latency import Bench, Worker, _drive
        from bench.notify_latency import parse_args as latency_args

        args = self.args
        self.queues = (settings.CELERY_TASK_DEFAULT_QUEUE, settings.ORDERHUB_CALLS_QUEUE)
        helper = Bench(latency_args([]))
        helper.setup()
        total = math.ceil(args.rate * (args.before + args.outage + args.after))
        started = time.perf_counter()
        ids = helper.orders_create(total)
        print(f"Set up {len(ids)} paid orders in {time.perf_counter() - started:.1f} s; broker {self.broker.url}")
        worker = Worker(settings.CELERY_TASK_DEFAULT_QUEUE, log=WORKER_LOG, prefix="outage-bench", concurrency=2)
        from config.celery import app

        connections.close_all()
        worker.start()
        try:
            worker.wait_ready(app)
            drivers = max(1, math.ceil(args.rate / 50))
            context = multiprocessing.get_context("fork")
            out = context.Queue()
            self.t0 = time.time() + 0.5
            processes = [
                context.Process(
                    target=_drive,
                    args=(ids[k::drivers], args.rate, k, drivers, self.t0, helper.actor.pk, out),
                    daemon=True,
                )
                for k in range(drivers)
            ]
            for process in processes:
                process.start()
            watcher = threading.Thread(target=self.watch, daemon=True)
            watcher.start()
            self.sleep_until(self.t0 + args.before)
            self.broker.kill()
            self.down_at = time.time()
            print(f"  {self.down_at - self.t0:6.1f} s: Redis killed", flush=True)
            self.sleep_until(self.t0 + args.before + args.outage)
            self.broker.start()
            self.up_at = time.time()
            print(f"  {self.up_at - self.t0:6.1f} s: Redis back, empty", flush=True)
            rows: list[tuple] = []
            for _ in processes:
                rows.extend(out.get(timeout=args.before + args.outage + args.after + 600))
            for process in processes:
                process.join(timeout=30)
            self.driven_at = time.time()
            recovered = self.wait_recovered(len(rows))
            self.halt.set()
            watcher.join(timeout=20)
        finally:
            self.halt.set()
            print(f"Worker {worker.stop()}")
        result = self.result(rows, recovered, helper, worker, drivers)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.report(result)
        return 0 if result["exactly_once"] else 1

    def sleep_until(self, at: float) -> None:
        while (left := at - time.time()) > 0:
            time.sleep(min(left, 0.5))

    def watch(self) -> None:
        """Beat's sweep every 10 s, and a sample of the queue and the due backlog every second,
        on a connection of this thread's own."""
        from django.db import connection

        from orders.outbox.services import outbox_redispatch_due

        next_sweep = time.monotonic() + SWEEP_EVERY_S
        try:
            while not self.halt.is_set():
                with connection.cursor() as cursor:
                    cursor.execute(DUE_SQL)
                    due = cursor.fetchone()[0]
                self.samples.append((round(time.time() - self.t0, 1), self.broker.queue_length(*self.queues), due))
                if time.monotonic() >= next_sweep:
                    self.sweeps.append((round(time.time() - self.t0, 1), outbox_redispatch_due()))
                    next_sweep += SWEEP_EVERY_S
                self.halt.wait(1.0)
        finally:
            connection.close()

    def wait_recovered(self, committed: int) -> bool:
        """Until every approval's notification exists and no row is pending."""
        from django.db import connection

        deadline = time.monotonic() + self.args.recover
        self.rows_done_at = self.notices_done_at = None
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM orders_outboxmessage WHERE status = 'pending'")
                pending = cursor.fetchone()[0]
                cursor.execute("SELECT count(DISTINCT event_id) FROM alerts_notification")
                notified = cursor.fetchone()[0]
            if not pending and notified >= committed:
                return True
            time.sleep(0.2)
        return False

    def result(self, rows, recovered: bool, helper, worker, drivers: int) -> dict:
        from django.db import connection

        args = self.args
        commits = {r[0]: r for r in rows}
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT e.id, e.occurred_at, count(n.id), min(n.created_at), max(m.done_at), bool_and(m.status = 'done'),
                       max(m.attempts), bool_and(n.recipient_id = %s)
                FROM orders_orderevent e
                JOIN orders_outboxmessage m ON m.event_id = e.id
                LEFT JOIN alerts_notification n ON n.event_id = e.id
                WHERE e.id = ANY(%s)
                GROUP BY e.id, e.occurred_at
                """,
                [helper.owner.pk, list(commits)],
            )
            found = {row[0]: row for row in cursor.fetchall()}
        missing = [e for e in commits if e not in found or found[e][2] == 0]
        doubled = [e for e, row in found.items() if row[2] > 1]
        wrong = [e for e, row in found.items() if row[7] is False]
        not_done = [e for e, row in found.items() if not row[5]]
        # Done at the first attempt: the outage delays a reaction, it never makes it fail or retry.
        retried = [e for e, row in found.items() if (row[6] or 0) > 1]
        up_at = self.up_at
        before_outage = [r for r in rows if r[1] < self.down_at]
        during = [r for r in rows if self.down_at <= r[1] < up_at]
        after = [r for r in rows if r[1] >= up_at]
        # The backlog's last reaction: the latest notification of an approval committed before the return.
        backlog_notices = [
            found[r[0]][3].timestamp() for r in rows if r[1] < up_at and r[0] in found and found[r[0]][3]
        ]
        recovery = (max(backlog_notices) - up_at) if backlog_notices else None
        due_after = [(t, q, d) for t, q, d in self.samples if t >= up_at - self.t0]
        drained_at = next((t for t, _q, d in due_after if d == 0), None)

        def latencies(subset) -> dict:
            values = [found[r[0]][3].timestamp() - r[1] for r in subset if r[0] in found and found[r[0]][3]]
            if not values:
                return {"count": 0}
            ms = [v * 1000 for v in values]
            return {
                "count": len(ms),
                "p50_ms": round(percentile(ms, 50), 1),
                "p95_ms": round(percentile(ms, 95), 1),
                "max_ms": round(max(ms), 1),
            }

        def calls(subset) -> dict:
            ms = [r[2] * 1000 for r in subset]
            return {"p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1)} if ms else {}

        exactly_once = recovered and not missing and not doubled and not wrong and not not_done
        recovery_ok = recovery is not None and recovery < TARGET_RECOVERY_S
        queue_after = [q for _t, q, _d in due_after if q is not None]
        starts = sorted(r[1] - r[2] for r in rows)
        return {
            "benchmark": "outage",
            "rate_per_s": args.rate,
            "rate_achieved_per_s": round((len(starts) - 1) / (starts[-1] - starts[0]), 1) if len(starts) > 1 else None,
            "drivers": drivers,
            "seconds": {"before": args.before, "outage": args.outage, "after": args.after},
            "approvals": len(rows),
            "approvals_while_down": len(during),
            "recovered": recovered,
            "recovery_seconds": round(recovery, 1) if recovery is not None else None,
            "recovery_note": "the broker's return → the last notification of an approval committed before it",
            "due_backlog_gone_seconds": round(drained_at - (up_at - self.t0), 1) if drained_at is not None else None,
            "due_backlog_max": max((d for _t, _q, d in self.samples), default=0),
            "queue_length_max_after_return": max(queue_after, default=0),
            "queue_note": "wake-ups in the broker's queues, sampled every second after its return: a backlog of "
            "rows is never re-sent row by row",
            "sweeps": self.sweeps,
            "target_recovery_s": TARGET_RECOVERY_S,
            "notifications": {
                "missing": len(missing),
                "doubled": len(doubled),
                "wrong_recipient": len(wrong),
                "outbox_not_done": len(not_done),
                "outbox_retried": len(retried),
            },
            "exactly_once": exactly_once,
            "pass": exactly_once and recovery_ok,
            "pass_rule": "every approval notified once (cs2), its row done, and the backlog's last reaction within "
            "target_recovery_s of the broker's return",
            "latency_before_outage": latencies(before_outage),
            "latency_after_return": latencies(after),
            "transition_call_before": calls(before_outage),
            "transition_call_while_down": calls(during),
            "samples": self.samples[:: max(1, len(self.samples) // 120)],
            "worker": {"command": " ".join(worker.command), "log": str(WORKER_LOG)},
            "load_average_at_end": os.getloadavg(),
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }

    def report(self, r: dict) -> None:
        n = r["notifications"]
        print(
            f"\nBroker outage: {r['approvals']:,} approvals at {r['rate_per_s']:g}/s (achieved "
            f"{r['rate_achieved_per_s']}/s), Redis down {r['seconds']['outage']:g} s "
            f"({r['approvals_while_down']:,} approvals meanwhile)\n"
            f"  recovery after the return: {r['recovery_seconds']} s (target < {r['target_recovery_s']:g} s); due "
            f"backlog max {r['due_backlog_max']:,}, queue max after return {r['queue_length_max_after_return']}\n"
            f"  exactly once: {r['exactly_once']} (missing {n['missing']}, doubled {n['doubled']}, not done "
            f"{n['outbox_not_done']}, retried {n['outbox_retried']})\n"
            f"  transition while down: {r['transition_call_while_down']}, before: {r['transition_call_before']}\n"
            f"  latency before: {r['latency_before_outage']}, after the return: {r['latency_after_return']}\n"
            f"  {'PASS' if r['pass'] else 'MISSED'}; results: {self.args.out}"
        )


if __name__ == "__main__":
    sys.exit(main())
