"""What the fault tests share: a Redis server of their own (killed and restarted at will, never
the one at 6379), Celery workers as real processes (SIGKILLed at will), the test process's
Celery app pointed at that Redis, and a carrier that fails on a known plan.

Sizes: `soak(ci, long)` is `long` under `make soak` (ORDERHUB_SOAK=1), else `ci`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.fakes.sf import DUPLICATE, FakeSF

ROOT = Path(__file__).resolve().parents[2]
SOAK = os.environ.get("ORDERHUB_SOAK") == "1"
REDIS_SERVER = shutil.which("redis-server")


def soak(ci: int, long: int) -> int:
    return long if SOAK else ci


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """redis-server on a free port, nothing on disk: a restart loses every queued message, as
    a crashed broker without persistence does."""

    def __init__(self, log_dir: Path):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_dir / f"redis-{self.starts}.log", "wb")  # noqa: SIM115 (kept for the process)
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self.ping, timeout=10, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; clients see their connections reset."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()

    def queue_length(self, name: str) -> int:
        import redis

        return redis.Redis.from_url(self.url).llen(name)


@pytest.fixture
def own_redis(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("needs the redis-server binary (CI installs it)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def app_broker(url: str):
    """Point this process's Celery app (what `outbox_dispatch` publishes with) at `url`, and
    back afterwards. Pools are per broker URL, so dropping the cached ones is enough."""
    from config.celery import app

    conf = app.conf
    saved = (conf.broker_url, conf.broker_transport_options, app._pool, app.amqp._producer_pool)
    conf.broker_url = url
    conf.broker_transport_options = {"socket_connect_timeout": 2, "socket_timeout": 5, "visibility_timeout": 3600}
    app._pool = app.amqp._producer_pool = None
    try:
        yield app
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        conf.broker_url, conf.broker_transport_options, app._pool, app.amqp._producer_pool = saved


@pytest.fixture
def broker(own_redis, transactional_db):
    """This process publishes to the test's own Redis; the queue is this run's test queue."""
    from django.conf import settings

    with app_broker(own_redis.url) as app:
        yield app, settings.CELERY_TASK_DEFAULT_QUEUE


def _test_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class CeleryWorker:
    """`celery -A config worker` as a process of its own (its own session, so it and its pool
    can be killed together), on the test database, the given broker and the test's queue."""

    def __init__(self, *, broker_url: str, queue: str, log_dir: Path, name: str):
        self.broker_url = broker_url
        self.queue = queue
        self.log_path = log_dir / f"worker-{name}.log"
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self, *, pool: str = "prefork", concurrency: int = 1) -> CeleryWorker:
        self.options = {"pool": pool, "concurrency": concurrency}
        self.restarts = getattr(self, "restarts", 0)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.faults.worker_settings",
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": self.broker_url,
            "ORDERHUB_TASK_QUEUE": self.queue,
            "PYTHONPATH": str(ROOT),
        }
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (kept for the process)
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "config",
                "worker",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                f"--hostname={self.name}@%h",
                "--queues",
                f"{self.queue},{self.queue}.calls",  # both lanes (config.settings.base.task_queues)
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def pool_children(self) -> list[int]:
        """The prefork pool's processes (children of the worker's main process)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def kill_everything(self) -> None:
        """SIGKILL to the worker and its pool at once: the machine or container died."""
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: the main process stops its pool
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill_everything()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def supervise(self) -> None:
        """Start the worker again if it exited, as its process manager does in production
        (Restart=always, docs/OPERATIONS.md): a broker that vanishes mid-connection can end the
        worker's main process (a reconnect error inside kombu), and the work must still get done."""
        if self.process is not None and self.process.poll() is not None:
            self.restarts += 1
            self.start(**self.options)


@pytest.fixture
def workers(broker, own_redis, tmp_path):
    """start(name, pool=…, concurrency=…) -> a running CeleryWorker; all stopped at the end,
    before the test database is flushed. Their logs are printed when the test fails."""
    _app, queue = broker
    started: list[CeleryWorker] = []

    def start(name: str = "w1", **options) -> CeleryWorker:
        worker = CeleryWorker(broker_url=own_redis.url, queue=queue, log_dir=tmp_path, name=name).start(**options)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        for worker in started:
            tail = worker.log()[-4000:]
            if tail.strip():
                print(f"--- worker {worker.name} log (tail) ---\n{tail}")


class PlannedCarrier(FakeSF):
    """SF's gateway answering each carrier order id by a plan: plans[order_id] lists the answers
    to its 1st, 2nd, … call ("ok" after the list ends). It counts per order id the calls, the
    waybills really created, and the duplicates refused (SF's 8016, which our adapter reads as
    "an earlier attempt got through"). With `hold_after_create`, the first call of those ids
    creates the waybill and then never answers: `held` is set, and the request hangs until the
    fake closes (the answer is lost with whoever was waiting for it)."""

    def __init__(self, *, plans: dict[str, list[str]] | None = None, hold_after_create=(), **kwargs):
        super().__init__(**kwargs)
        import threading

        self.plans = plans or {}
        self.calls: Counter = Counter()
        self.created: Counter = Counter()
        self.duplicates: Counter = Counter()
        self.hold_after_create = set(hold_after_create)
        self.held = threading.Event()

    @staticmethod
    def order_id_of(received) -> str:
        try:
            return str(received.payload.get("orderId") or "")
        except (KeyError, ValueError):
            return ""

    def answer_for(self, received):
        order_id = self.order_id_of(received)
        self.calls[order_id] += 1
        plan = self.plans.get(order_id, [])
        n = self.calls[order_id]
        return plan[n - 1] if n <= len(plan) else "ok"

    def _create_order(self, payload: dict):
        served = super()._create_order(payload)
        order_id = str(payload.get("orderId") or "")
        if isinstance(served, dict):
            self.created[order_id] += 1
        elif served == DUPLICATE:
            self.duplicates[order_id] += 1
        return served

    def respond(self, received, answer):
        body = super().respond(received, answer)
        order_id = self.order_id_of(received)
        if order_id in self.hold_after_create and self.calls[order_id] == 1:
            self.held.set()
            return None  # created at the carrier; the answer never comes
        return body


def sf_account_for(fake: FakeSF, warehouses):
    from integrations.models import CarrierAccount

    account = CarrierAccount.objects.create(
        name="顺丰",
        carrier="sf",
        endpoint=fake.url,
        app_key=fake.partner_id,
        app_secret=fake.check_word,
        extra={"monthly_card": "7551234567"},
    )
    account.warehouses.set(warehouses)
    return account


def only_upload_rules() -> None:
    """Reactions other than the waybill upload and the tech lead's failure alert off, so the
    outbox holds exactly what the test counts."""
    from rules.models import Rule, RuleAction

    Rule.objects.exclude(trigger__in=["ship", "reaction_failed"]).update(enabled=False)
    enabled = RuleAction.objects.filter(rule__enabled=True).values_list("rule__trigger", "kind", "reaction")
    assert {(trigger, reaction or kind) for trigger, kind, reaction in enabled} == {
        ("ship", "carrier_upload_waybill"),
        ("reaction_failed", "notify"),
    }


def wait_until_finished(
    rows, *, timeout: float, sweep_every: float | None, sweep_when=None, supervised: tuple = ()
) -> int:
    """Poll until no outbox row of `rows` (ids, or a queryset: re-read each time, so rows that
    appear meanwhile count) is pending. Every `sweep_every` seconds (and only when
    `sweep_when()` is true, if given) run the beat's re-dispatch sweep (`outbox_redispatch_due`)
    as beat would, rather than waiting for beat. The `supervised` workers are started again if
    they exit, as their process manager would. Returns how many sweeps it took."""
    from django.db.models import QuerySet

    from orders.models import OutboxMessage, OutboxStatus
    from orders.outbox.services import outbox_redispatch_due

    if not isinstance(rows, QuerySet):
        rows = OutboxMessage.objects.filter(pk__in=list(rows))
    deadline = time.monotonic() + timeout
    next_sweep = time.monotonic() + (sweep_every or 0)
    sweeps = 0
    pending = rows.filter(status=OutboxStatus.PENDING)
    while pending.exists():
        for worker in supervised:
            worker.supervise()
        now = time.monotonic()
        if now > deadline:
            left = list(pending.values_list("pk", "kind", "attempts", "next_attempt_at", "last_error")[:10])
            raise AssertionError(f"timed out after {timeout}s; {pending.count()} rows still pending, e.g. {left}")
        if sweep_every is not None and now >= next_sweep and (sweep_when is None or sweep_when()):
            outbox_redispatch_due(limit=5000)
            sweeps += 1
            next_sweep = now + sweep_every
        time.sleep(0.1)
    return sweeps
