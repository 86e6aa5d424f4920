"""PostgreSQL drops a connection in the middle of a transition (a failover, a restart, an
administrator's pg_terminate_backend): the transaction rolls back, nothing of it remains, and
the person gets a clear message instead of a database traceback.

The transition is stopped at a known point by a row lock the test holds from its own
connection, PostgreSQL shows it waiting there (pg_locks), and only then is its backend
terminated, so the drop always lands inside the transaction:
- "before writing": waiting for the order's row lock, the first thing a transition does;
- "after writing": the order row, its history row and its event already written, the shipment
  insert waiting on the unique tracking-number index, where another transaction (the test's,
  never committed) holds the same number;
- "while committing": everything written, COMMIT waiting on the actor's user row, which the
  deferred foreign-key checks (Django's are INITIALLY DEFERRED) must share-lock. Here the client
  cannot know whether the server committed, and the message says so.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.urls import reverse

from orders.exceptions import DatabaseUnavailable, OrderError
from orders.models import Order, OrderEvent, OutboxMessage, Shipment
from orders.services.transition import order_transition

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREAD_TIMEOUT = 30


def snapshot(order_id: int) -> dict:
    order = Order.objects.get(pk=order_id)
    return {
        "state": order.state,
        "version": order.version,
        "updated_by": order.updated_by_id,
        "updated_at": order.updated_at,
        "events": list(OrderEvent.objects.filter(order_id=order_id).values_list("id", flat=True).order_by("id")),
        "outbox": OutboxMessage.objects.filter(event__order_id=order_id).count(),
        "history": order.history.count(),
        "shipments": Shipment.objects.filter(order_id=order_id).count(),
    }


def _backend_waits_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid])
        return cursor.fetchone()[0]


def _backend_has_written_orders(pid: int) -> bool:
    """The transaction holds the lock an UPDATE takes on the orders table (pg_locks is live,
    unlike pg_stat_activity inside the test's own transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND granted AND locktype = 'relation' "
            "AND relation = %s::regclass AND mode = 'RowExclusiveLock')",
            [pid, Order._meta.db_table],
        )
        return cursor.fetchone()[0]


def run_and_drop(call, *, hold, written: bool) -> dict:
    """Take a lock with `hold()` in the test's own transaction, run `call` in a thread with its
    own connection, wait until its backend waits on a lock, terminate that backend, roll the
    test's transaction back. Returns what the call returned or raised, and how long it took
    after the drop."""
    outcome: dict = {}
    pid_ready = threading.Event()

    def worker():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            pid_ready.set()
            outcome["result"] = call()
        except BaseException as exc:  # recorded for the test to look at
            outcome["error"] = exc
        finally:
            pid_ready.set()
            connection.close()

    thread = threading.Thread(target=worker, daemon=True)
    with transaction.atomic():
        hold()
        thread.start()
        assert pid_ready.wait(THREAD_TIMEOUT) and "pid" in outcome, outcome
        pid = outcome["pid"]
        deadline = time.monotonic() + THREAD_TIMEOUT
        while not _backend_waits_on_a_lock(pid):
            assert thread.is_alive(), f"the call ended before it reached the held lock: {outcome}"
            assert time.monotonic() < deadline, "the call never waited on the held lock"
            time.sleep(0.005)
        assert _backend_has_written_orders(pid) is written
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone()[0] is True
        dropped_at = time.monotonic()
        thread.join(THREAD_TIMEOUT)
        transaction.set_rollback(True)  # what the test held is never committed
    assert not thread.is_alive(), "the call hung after its connection was dropped"
    outcome["seconds_after_drop"] = time.monotonic() - dropped_at
    return outcome


def row_lock(model, pk):
    def hold():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {model._meta.db_table} WHERE id = %s FOR UPDATE", [pk])
            assert cursor.fetchall(), f"no {model.__name__} {pk} to hold"

    return hold


def the_same_number_uncommitted(order, tracking_number):
    def hold():
        # Never committed (the test's transaction rolls back), so the deferred foreign keys are
        # never checked; the unique index makes the transition's insert wait for this transaction.
        Shipment.objects.create(
            order=order,
            sequence=1,
            carrier="sf",
            tracking_number=tracking_number,
            event=order.events.order_by("id").last(),
        )

    return hold


@pytest.mark.parametrize("point", ["before writing", "after writing", "while committing"])
def test_a_dropped_connection_rolls_the_transition_back_with_a_clear_error(make_order, users, point):
    order = make_order("packed")
    wh1 = users["wh1"]
    number = "SF7310000000001"
    before = snapshot(order.pk)
    hold = {
        "before writing": row_lock(Order, order.pk),
        "after writing": the_same_number_uncommitted(order, number),
        "while committing": row_lock(get_user_model(), wh1.pk),
    }[point]

    outcome = run_and_drop(
        lambda: order_transition(
            order.pk, "ship", actor=wh1, expected_version=order.version, carrier="sf", tracking_number=number
        ),
        hold=hold,
        written=point != "before writing",
    )

    error = outcome.get("error")
    assert isinstance(error, DatabaseUnavailable), repr(error)
    assert isinstance(error, OrderError)  # every caller that shows OrderError shows this too
    if point == "while committing":
        assert error.maybe_saved is True
        assert error.message == (
            f"The connection to the database was lost while “Ship with tracking number” on order "
            f"#{order.pk} was being saved: it may or may not have been saved. Reload the order to "
            "check before trying again."
        )
    else:
        assert error.maybe_saved is False
        assert error.message == (
            f"“Ship with tracking number” on order #{order.pk} was not saved: the connection to the "
            "database was lost. Nothing was changed; try again in a moment."
        )
    assert outcome["seconds_after_drop"] < 5
    # Nothing of it remains: no new version or state, event, history row, shipment or outbox row.
    assert snapshot(order.pk) == before
    assert not Shipment.objects.filter(tracking_number=number).exists()

    # The caller tries again on a new connection, and it goes through once.
    event = order_transition(
        order.pk, "ship", actor=wh1, expected_version=order.version, carrier="sf", tracking_number=number
    )
    after = snapshot(order.pk)
    assert (after["state"], after["version"]) == ("shipped", before["version"] + 1)
    assert after["events"] == [*before["events"], event.pk]
    assert after["shipments"] == 1 and after["history"] == before["history"] + 1


def test_the_board_shows_the_message_instead_of_an_error_page(client, make_order, users):
    order = make_order("paid")
    cs1 = users["cs1"]
    client.force_login(cs1)
    before = snapshot(order.pk)
    url = reverse("orders:board_transition", args=[order.number, "approve"])
    board = reverse("orders:board_cs")

    outcome = run_and_drop(
        lambda: client.post(url, {"expected_version": order.version, "next": board}),
        hold=row_lock(Order, order.pk),
        written=False,
    )

    response = outcome.get("result")
    assert response is not None, repr(outcome.get("error"))
    assert response.status_code == 302 and response["Location"] == board
    flashed = [str(m) for m in response.wsgi_request._messages]
    assert flashed == [
        f"{order.number}: “Approve” on order #{order.pk} was not saved: the connection to the database "
        "was lost. Nothing was changed; try again in a moment."
    ]
    assert snapshot(order.pk) == before


def test_a_connection_lost_while_committing_says_the_change_may_have_been_saved(make_order, users, monkeypatch):
    """COMMIT reached the server but its answer was lost: PostgreSQL may well have committed, so
    "nothing was saved" would be a lie. The message asks to reload before trying again."""
    import psycopg

    order = make_order("paid")
    before = snapshot(order.pk)
    connection.ensure_connection()
    raw = connection.connection
    real_commit = raw.commit

    def commit_then_lose_the_answer():
        real_commit()
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(raw, "commit", commit_then_lose_the_answer)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            order_transition(order.pk, "approve", actor=users["cs1"], expected_version=order.version)
    finally:
        monkeypatch.undo()
        connection.close()
    assert caught.value.maybe_saved is True
    assert caught.value.message == (
        f"The connection to the database was lost while “Approve” on order #{order.pk} was being "
        "saved: it may or may not have been saved. Reload the order to check before trying again."
    )
    # Here it was saved, once; reloading shows it.
    after = snapshot(order.pk)
    assert (after["state"], after["version"]) == ("reviewed", before["version"] + 1)
    assert len(after["events"]) == len(before["events"]) + 1


def test_errors_of_the_statement_itself_are_not_called_a_lost_connection():
    """A deadlock or a lock timeout is PostgreSQL answering, not the connection going away."""
    import psycopg
    from django.db import InterfaceError, OperationalError

    from orders.services.transition import _connection_lost

    def wrapped(cause):
        error = OperationalError(str(cause))
        error.__cause__ = cause
        return error

    assert _connection_lost(wrapped(psycopg.OperationalError("server closed the connection unexpectedly")))
    assert _connection_lost(wrapped(psycopg.errors.AdminShutdown("terminating connection")))
    assert _connection_lost(InterfaceError("connection already closed"))
    assert not _connection_lost(wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert not _connection_lost(wrapped(psycopg.errors.LockNotAvailable("lock timeout")))
    assert not _connection_lost(wrapped(psycopg.errors.QueryCanceled("statement timeout")))
