"""Finance moves a row: 待开票 → 开票申请 → 已开票 with the invoice number, or off the list. Every
refusal names its reason and changes nothing."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from finance.exceptions import (
    InvoiceNotFound,
    InvoiceNumberInvalid,
    InvoiceNumberTaken,
    InvoiceRefused,
    StaleInvoiceError,
)
from finance.models import InvoiceRequest
from finance.services import (
    invoice_cancel,
    invoice_details_update,
    invoice_mark_issued,
    invoice_mark_requested,
)
from orders.exceptions import ActionNotPermitted, InvalidActionData
from orders.models import OrderEvent
from orders.services.transition import order_transition
from tests.finance.conftest import snapshot

pytestmark = pytest.mark.django_db

NUMBER = "24312000000012345678"


def test_finance_marks_requested_then_issued(listed, users):
    fin = users["fin1"]
    invoice = listed(amount="1299.00")
    order_version = invoice.order.version

    invoice = invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=1)
    assert (invoice.status, invoice.version, invoice.requested_by) == ("requested", 2, fin)
    assert invoice.requested_at is not None

    invoice = invoice_mark_issued(
        invoice_id=invoice.pk, actor=fin, invoice_number=" 2431 2000 0000 1234 5678 ", expected_version=2
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.version, invoice.invoice_number) == ("issued", 3, NUMBER)
    assert invoice.issued_by == fin and invoice.issued_at >= invoice.requested_at
    assert invoice.updated_by == fin

    events = list(
        OrderEvent.objects.filter(order=invoice.order, action__startswith="invoice_").order_by("occurred_at", "id")
    )
    assert [e.action for e in events] == ["invoice_listed", "invoice_marked_requested", "invoice_issued"]
    requested, issued = events[1], events[2]
    assert requested.actor_display == "陈静 (Finance)" and requested.data["from"] == "pending"
    assert issued.data["invoice_number"] == NUMBER and issued.data["from"] == "requested"
    assert NUMBER in issued.note and "recorded the issued invoice" in issued.timeline_text()
    # Lines on the timeline: the order itself did not change.
    assert {e.order_version for e in events} == {order_version}
    invoice.order.refresh_from_db()
    assert invoice.order.version == order_version and invoice.order.state == "packed"


def test_finance_fills_title_and_tax_id(listed, users):
    invoice = listed()
    invoice = invoice_details_update(
        invoice_id=invoice.pk,
        actor=users["fin1"],
        expected_version=1,
        buyer_title="  杭州  示例科技有限公司 ",
        buyer_tax_id="91330100 ma2h3x4y5z",
    )
    assert (invoice.buyer_title, invoice.buyer_tax_id) == ("杭州 示例科技有限公司", "91330100MA2H3X4Y5Z")
    assert invoice.version == 2
    event = OrderEvent.objects.get(order=invoice.order, action="invoice_details_updated")
    assert event.data["before"] == {"buyer_title": "", "buyer_tax_id": ""}
    # The same again: nothing to record.
    invoice_details_update(
        invoice_id=invoice.pk,
        actor=users["fin1"],
        expected_version=2,
        buyer_title="杭州 示例科技有限公司",
        buyer_tax_id="91330100MA2H3X4Y5Z",
    )
    assert InvoiceRequest.objects.get(pk=invoice.pk).version == 2


@pytest.mark.parametrize("username", ["cs1", "wh1", "ops1", "tech1", None])
def test_other_roles_and_the_system_are_refused(listed, users, username):
    invoice = listed()
    actor = users[username] if username else None
    before = snapshot(invoice)
    calls = [
        lambda: invoice_mark_requested(invoice_id=invoice.pk, actor=actor, expected_version=1),
        lambda: invoice_mark_issued(invoice_id=invoice.pk, actor=actor, invoice_number=NUMBER, expected_version=1),
        lambda: invoice_cancel(invoice_id=invoice.pk, actor=actor, expected_version=1, reason="no"),
        lambda: invoice_details_update(
            invoice_id=invoice.pk, actor=actor, expected_version=1, buyer_title="X", buyer_tax_id=""
        ),
    ]
    for call in calls:
        with pytest.raises(ActionNotPermitted) as refused:
            call()
        assert "may not take the action" in refused.value.message
    assert snapshot(invoice) == before


def test_inactive_finance_user_is_refused(listed, users):
    invoice = listed()
    fin = users["fin1"]
    fin.is_active = False
    fin.save()
    with pytest.raises(ActionNotPermitted):
        invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=1)


def test_stale_version_is_refused_naming_who_changed_it(listed, users, django_user_model):
    from django.contrib.auth.models import Group

    colleague = django_user_model.objects.create(username="fin2", first_name="芳", last_name="黄", is_staff=True)
    colleague.groups.set([Group.objects.get(name="finance")])
    invoice = listed()
    invoice_mark_requested(invoice_id=invoice.pk, actor=colleague, expected_version=1)
    before = snapshot(invoice)

    with pytest.raises(StaleInvoiceError) as conflict:
        invoice_mark_issued(invoice_id=invoice.pk, actor=users["fin1"], invoice_number=NUMBER, expected_version=1)
    message = conflict.value.message
    assert invoice.order.number in message and "黄芳" in message
    assert "your version 1, now 2" in message and "Nothing was saved" in message
    with pytest.raises(StaleInvoiceError):
        invoice_cancel(invoice_id=invoice.pk, actor=users["fin1"], expected_version=1, reason="buyer wants none")
    with pytest.raises(InvalidActionData):
        invoice_mark_issued(invoice_id=invoice.pk, actor=users["fin1"], invoice_number=NUMBER, expected_version="x")
    assert snapshot(invoice) == before


def test_system_change_is_named_as_the_system(listed, users):
    invoice = listed()
    with pytest.raises(StaleInvoiceError) as conflict:
        invoice_mark_requested(invoice_id=invoice.pk, actor=users["fin1"], expected_version=7)
    assert "changed by System" in conflict.value.message


def test_duplicate_invoice_number_is_refused_naming_the_other_order(listed, users):
    fin = users["fin1"]
    first, second = listed(), listed()
    for invoice in (first, second):
        invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=1)
    invoice_mark_issued(invoice_id=first.pk, actor=fin, invoice_number=NUMBER, expected_version=2)
    before = snapshot(first, second)

    with pytest.raises(InvoiceNumberTaken) as taken:
        invoice_mark_issued(invoice_id=second.pk, actor=fin, invoice_number=NUMBER.lower(), expected_version=2)
    assert first.order.number in taken.value.message and NUMBER in taken.value.message
    assert snapshot(first, second) == before


def test_the_database_keeps_numbers_unique_when_the_check_is_raced(listed, users, monkeypatch):
    """Two issues of one number committed at once: the one that loses gets the same message."""
    from finance import services

    fin = users["fin1"]
    first, second = listed(), listed()
    for invoice in (first, second):
        invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=1)
    invoice_mark_issued(invoice_id=first.pk, actor=fin, invoice_number=NUMBER, expected_version=2)
    monkeypatch.setattr(services, "_check_number_free", lambda number, invoice: None)
    before = snapshot(first, second)
    with pytest.raises(InvoiceNumberTaken) as taken:
        invoice_mark_issued(invoice_id=second.pk, actor=fin, invoice_number=NUMBER, expected_version=2)
    assert first.order.number in taken.value.message
    assert snapshot(first, second) == before


@pytest.mark.parametrize(
    "number",
    ["", "   ", "1234567", "ABC-12345678", "123456789012345678901", "发票12345678", "=1+2345678"],
)
def test_bad_invoice_number_is_refused(listed, users, number):
    invoice = listed()
    invoice_mark_requested(invoice_id=invoice.pk, actor=users["fin1"], expected_version=1)
    before = snapshot(invoice)
    with pytest.raises(InvoiceNumberInvalid) as refused:
        invoice_mark_issued(invoice_id=invoice.pk, actor=users["fin1"], invoice_number=number, expected_version=2)
    assert "invoice number" in refused.value.message
    assert snapshot(invoice) == before


def test_moves_out_of_order_are_refused(listed, users):
    fin = users["fin1"]
    invoice = listed()
    before = snapshot(invoice)
    with pytest.raises(InvoiceRefused) as refused:
        invoice_mark_issued(invoice_id=invoice.pk, actor=fin, invoice_number=NUMBER, expected_version=1)
    assert "mark it requested first" in refused.value.message
    assert snapshot(invoice) == before

    invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=1)
    before = snapshot(invoice)
    with pytest.raises(InvoiceRefused) as refused:
        invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=2)
    assert "already marked requested by 陈静" in refused.value.message
    assert snapshot(invoice) == before

    invoice_mark_issued(invoice_id=invoice.pk, actor=fin, invoice_number=NUMBER, expected_version=2)
    before = snapshot(invoice)
    for call in (
        lambda: invoice_mark_issued(invoice_id=invoice.pk, actor=fin, invoice_number="12345678", expected_version=3),
        lambda: invoice_cancel(invoice_id=invoice.pk, actor=fin, expected_version=3, reason="oops"),
        lambda: invoice_details_update(
            invoice_id=invoice.pk, actor=fin, expected_version=3, buyer_title="Other", buyer_tax_id=""
        ),
    ):
        with pytest.raises(InvoiceRefused) as refused:
            call()
        assert "issued" in refused.value.message.lower()
    assert snapshot(invoice) == before


def test_cancel_needs_a_reason_and_ends_the_row(listed, users):
    fin = users["fin1"]
    invoice = listed()
    before = snapshot(invoice)
    with pytest.raises(InvalidActionData):
        invoice_cancel(invoice_id=invoice.pk, actor=fin, expected_version=1, reason="  ")
    assert snapshot(invoice) == before

    invoice = invoice_cancel(invoice_id=invoice.pk, actor=fin, expected_version=1, reason="买家不需要发票")
    assert (invoice.status, invoice.cancelled_by, invoice.note) == ("cancelled", fin, "买家不需要发票")
    event = OrderEvent.objects.get(order=invoice.order, action="invoice_cancelled")
    assert event.note == "买家不需要发票" and event.data["from"] == "pending"
    before = snapshot(invoice)
    with pytest.raises(InvoiceRefused) as refused:
        invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=2)
    assert "taken off the to-invoice list" in refused.value.message
    assert snapshot(invoice) == before


def test_gift_order_is_refused(make_order, users):
    """A gift never gets on the list; a row that got there some other way is still refused."""
    main = make_order("packed")
    gift = make_order("packed", main_order=main, amount="0.00")
    invoice = InvoiceRequest.objects.create(order=gift, amount=gift.amount, currency=gift.currency)
    before = snapshot(invoice)
    with pytest.raises(InvoiceRefused) as refused:
        invoice_mark_requested(invoice_id=invoice.pk, actor=users["fin1"], expected_version=1)
    assert "gift orders are never invoiced" in refused.value.message
    assert snapshot(invoice) == before


def test_refunded_order_is_not_invoiced(listed, users):
    fin = users["fin1"]
    invoice = listed("delivered")
    order = invoice.order
    order_transition(order.pk, "request_return", actor=users["cs1"], note="破损")
    order_transition(order.pk, "approve_return", actor=users["cs1"])
    order_transition(order.pk, "refund", actor=None)
    before = snapshot(invoice)
    with pytest.raises(InvoiceRefused) as refused:
        invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=1)
    assert "refunded" in refused.value.message and "Take it off" in refused.value.message
    assert snapshot(invoice) == before
    invoice_cancel(invoice_id=invoice.pk, actor=fin, expected_version=1, reason="已退款")
    assert InvoiceRequest.objects.get(pk=invoice.pk).status == "cancelled"


@pytest.mark.parametrize(
    ("title", "tax_id", "words"),
    [("x" * 101, "", "too long"), ("OK", "12345", "not a tax id"), ("OK", "9133-0100-MA2H3X4Y", "not a tax id")],
)
def test_bad_title_or_tax_id_is_refused(listed, users, title, tax_id, words):
    invoice = listed()
    before = snapshot(invoice)
    with pytest.raises(InvalidActionData) as refused:
        invoice_details_update(
            invoice_id=invoice.pk, actor=users["fin1"], expected_version=1, buyer_title=title, buyer_tax_id=tax_id
        )
    assert words in refused.value.message
    assert snapshot(invoice) == before


@pytest.mark.parametrize("invoice_id", [999999, "abc", None])
def test_unknown_row_is_refused(users, invoice_id):
    with pytest.raises(InvoiceNotFound):
        invoice_mark_requested(invoice_id=invoice_id, actor=users["fin1"], expected_version=None)


# ---------------------------------------------------------------------------------------------
# Real concurrency (PostgreSQL row locks)


def _race(*calls):
    """Run the calls at the same moment in threads; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        from django.db import connections

        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # the test looks at what was raised
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_people_issuing_one_number_at_once_one_wins(listed, users):
    assert connection.vendor == "postgresql"
    fin = users["fin1"]
    first, second = listed(), listed()
    for invoice in (first, second):
        invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=1)
    results = _race(
        lambda: invoice_mark_issued(invoice_id=first.pk, actor=fin, invoice_number=NUMBER, expected_version=2),
        lambda: invoice_mark_issued(invoice_id=second.pk, actor=fin, invoice_number=NUMBER, expected_version=2),
    )
    winners = [r for r in results if isinstance(r, InvoiceRequest)]
    losers = [r for r in results if isinstance(r, InvoiceNumberTaken)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert InvoiceRequest.objects.filter(invoice_number=NUMBER).count() == 1
    loser = second if winners[0].pk == first.pk else first
    assert InvoiceRequest.objects.get(pk=loser.pk).status == "requested"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_moves_of_one_row_at_once_one_wins(listed, users):
    fin = users["fin1"]
    invoice = listed()
    results = _race(
        lambda: invoice_mark_requested(invoice_id=invoice.pk, actor=fin, expected_version=1),
        lambda: invoice_cancel(invoice_id=invoice.pk, actor=fin, expected_version=1, reason="买家不要了"),
    )
    assert sum(isinstance(r, InvoiceRequest) for r in results) == 1, results
    assert sum(isinstance(r, StaleInvoiceError) for r in results) == 1, results
    assert InvoiceRequest.objects.get(pk=invoice.pk).version == 2
