"""Finance's to-invoice list in the admin: what it lists (never a gift order), filters, search,
totals, export links with the list's filters, bulk "mark requested", a row's page with its
moves through the services, refusals shown and nothing changed, a constant number of queries."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from finance.models import InvoiceRequest
from finance.services import invoice_mark_issued, invoice_mark_requested
from tests.finance.conftest import snapshot

pytestmark = pytest.mark.django_db

LIST = reverse("admin:finance_invoicerequest_changelist")


def page(invoice) -> str:
    return reverse("admin:finance_invoicerequest_change", args=[invoice.pk])


def move_url(invoice, move) -> str:
    return reverse("admin:finance_invoicerequest_move", args=[invoice.pk, move])


def listed_numbers(html: str) -> list[str]:
    return re.findall(r'class="orderhub-timeline-link">([A-Z0-9-]+)</a>', html)


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def get(login):
    def fetch(username, url=LIST, params=None):
        response = login(username).get(url, params or {})
        assert response.status_code == 200, (username, url, params, response.status_code)
        return response.content.decode()

    return fetch


def test_list_opens_on_open_rows_oldest_first_never_gifts(get, listed, make_order, users):
    first = listed(amount="100.00")
    second = listed(amount="250.50", channel="amazon")
    issued = listed(amount="999.00")
    invoice_mark_requested(invoice_id=second.pk, actor=users["fin1"], expected_version=1)
    invoice_mark_requested(invoice_id=issued.pk, actor=users["fin1"], expected_version=1)
    invoice_mark_issued(invoice_id=issued.pk, actor=users["fin1"], invoice_number="12345678", expected_version=2)
    gift = make_order("packed", main_order=first.order, amount="0.00")
    gift_row = InvoiceRequest.objects.create(order=gift, amount=Decimal("0.00"), currency="CNY", status="pending")

    html = get("fin1")
    assert listed_numbers(html) == [first.order.number, second.order.number]
    assert f'href="{reverse("orders:timeline", args=[first.order.number])}"' in html
    assert listed_numbers(get("fin1", params={"status": "issued"})) == [issued.order.number]
    assert listed_numbers(get("fin1", params={"status": "all"})) == [
        first.order.number,
        second.order.number,
        issued.order.number,
    ]
    assert listed_numbers(get("fin1", params={"status": "all", "channel": "amazon"})) == [second.order.number]
    assert listed_numbers(get("fin1", params={"status": "all", "currency": "CNY"})) == listed_numbers(
        get("fin1", params={"status": "all"})
    )
    assert listed_numbers(get("fin1", params={"status": "all", "q": "12345678"})) == [issued.order.number]
    assert listed_numbers(get("fin1", params={"status": "all", "q": first.order.number})) == [first.order.number]
    assert listed_numbers(get("fin1", params={"status": "all", "q": gift.number})) == []
    assert gift.number not in get("fin1", params={"status": "all"})
    assert gift_row.status == "pending"  # written directly, and still never shown


def test_totals_count_the_listed_rows_without_gifts(get, listed, make_order):
    first = listed(amount="100.00")
    listed(amount="250.50")
    gift = make_order("packed", main_order=first.order, amount="0.00")
    InvoiceRequest.objects.create(order=gift, amount=Decimal("7.00"), currency="CNY")
    html = get("fin1")
    totals = re.search(r'<li data-status="pending" data-currency="CNY">(.*?)</li>', html, re.S).group(1)
    assert "<strong>2</strong>" in totals and "350.50" in totals


def test_export_links_carry_the_lists_filters(get, listed):
    listed()
    html = get("fin1", params={"status": "all", "channel": "amazon", "added_from": "2026-01-01", "q": "x"})
    csv_link = re.search(r'href="([^"]+)" class="orderhub-export" data-format="csv"', html).group(1)
    xlsx_link = re.search(r'href="([^"]+)" class="orderhub-export" data-format="xlsx"', html).group(1)
    query = "status=all&amp;channel=amazon&amp;added_from=2026-01-01&amp;q=x"
    assert csv_link == reverse("finance:invoice_export_csv") + "?" + query
    assert xlsx_link == reverse("finance:invoice_export_xlsx") + "?" + query


def test_a_bad_filter_is_said_and_the_list_shown_without_it(login, listed):
    listed()
    client = login("fin1")
    response = client.get(LIST, {"added_from": "yesterday"})
    assert response.status_code == 302 and response["Location"] == LIST
    assert any("not a date" in m for m in flash(response))


def test_bulk_mark_requested_reports_what_was_done_and_refused(login, listed, users):
    first, second, done_before = listed(), listed(), listed()
    invoice_mark_requested(invoice_id=done_before.pk, actor=users["fin1"], expected_version=1)
    client = login("fin1")
    response = client.post(
        LIST,
        {"action": "mark_requested", "index": 0, "_selected_action": [first.pk, second.pk, done_before.pk]},
    )
    assert response.status_code == 302
    messages = flash(response)
    assert "Marked requested: 2 invoices." in messages
    assert any(m.startswith(done_before.order.number) and "already marked requested" in m for m in messages)
    statuses = dict(InvoiceRequest.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "requested", second.pk: "requested", done_before.pk: "requested"}
    assert InvoiceRequest.objects.get(pk=done_before.pk).version == 2


def test_bulk_action_is_finances_alone(login, listed):
    invoice = listed()
    before = snapshot(invoice)
    for username in ("ops1", "tech1"):
        response = login(username).post(
            LIST, {"action": "mark_requested", "index": 0, "_selected_action": [invoice.pk]}
        )
        assert response.status_code in (200, 302)
    assert snapshot(invoice) == before


def test_row_page_marks_requested_then_issued_with_the_number(login, listed):
    invoice = listed()
    client = login("fin1")
    html = client.get(page(invoice)).content.decode()
    assert 'data-move="requested"' in html and 'data-move="issued"' not in html
    assert f'href="{reverse("orders:timeline", args=[invoice.order.number])}"' in html

    response = client.post(move_url(invoice, "requested"), {"requested-expected_version": 1}, follow=True)
    assert "Marked requested." in response.content.decode()
    html = client.get(page(invoice)).content.decode()
    assert 'data-move="issued"' in html and 'data-move="requested"' not in html

    response = client.post(
        move_url(invoice, "issued"),
        {"issued-expected_version": 2, "issued-invoice_number": "24312000000012345678"},
        follow=True,
    )
    assert "Invoice 24312000000012345678 recorded." in response.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.invoice_number, invoice.version) == ("issued", "24312000000012345678", 3)
    # Nothing left to do on an issued row.
    assert "data-move=" not in client.get(page(invoice)).content.decode()


def test_row_page_shows_refusals_and_changes_nothing(login, listed, users):
    other = listed()
    invoice = listed()
    for row in (other, invoice):
        invoice_mark_requested(invoice_id=row.pk, actor=users["fin1"], expected_version=1)
    invoice_mark_issued(invoice_id=other.pk, actor=users["fin1"], invoice_number="12345678", expected_version=2)
    before = snapshot(other, invoice)
    client = login("fin1")
    attempts = [
        ({"issued-expected_version": 1, "issued-invoice_number": "87654321"}, "your version 1, now 2"),
        ({"issued-expected_version": 2, "issued-invoice_number": "12345678"}, other.order.number),
        ({"issued-expected_version": 2, "issued-invoice_number": "12-34"}, "not an invoice number"),
        ({"issued-expected_version": 2}, "required"),
    ]
    for data, words in attempts:
        response = client.post(move_url(invoice, "issued"), data)
        assert response.status_code == 302 and response["Location"] == page(invoice)
        assert any(words in m for m in flash(response)), (data, flash(response))
    response = client.post(move_url(invoice, "nonsense"), {})
    assert any("no such action" in m for m in flash(response))
    assert client.get(move_url(invoice, "issued")).status_code == 405
    assert snapshot(other, invoice) == before


def test_operations_read_but_cannot_move(login, listed):
    invoice = listed()
    client = login("ops1")
    html = client.get(page(invoice)).content.decode()
    assert "data-move=" not in html
    before = snapshot(invoice)
    response = client.post(move_url(invoice, "requested"), {"requested-expected_version": 1})
    assert any("may not take the action" in m for m in flash(response))
    assert snapshot(invoice) == before


@pytest.mark.parametrize("username", ["cs1", "wh1"])
def test_other_roles_do_not_see_the_list(login, listed, username):
    invoice = listed()
    client = login(username)
    assert client.get(LIST).status_code == 403
    assert client.get(page(invoice)).status_code == 403
    before = snapshot(invoice)
    assert client.post(move_url(invoice, "requested"), {"requested-expected_version": 1}).status_code == 403
    assert snapshot(invoice) == before


def test_a_gift_rows_page_is_not_there(login, make_order):
    main = make_order("packed")
    gift = make_order("packed", main_order=main, amount="0.00")
    row = InvoiceRequest.objects.create(order=gift, amount=Decimal("0.00"), currency="CNY")
    client = login("fin1")
    response = client.get(page(row))
    assert response.status_code == 302  # the admin's "does not exist" redirect
    assert client.post(move_url(row, "requested"), {"requested-expected_version": 1}).status_code == 404
    assert InvoiceRequest.objects.get(pk=row.pk).status == "pending"


def _list_queries(client, params) -> tuple[int, int]:
    client.get(LIST, params)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, params)
    assert response.status_code == 200
    return len(queries), len(listed_numbers(response.content.decode()))


def test_list_runs_a_constant_number_of_queries(login, listed, users):
    client = login("fin1")
    listed()
    small = {key: _list_queries(client, params) for key, params in {"open": {}, "all": {"status": "all"}}.items()}
    for index in range(12):
        invoice = listed(amount="99.00", channel=["shopify", "amazon"][index % 2])
        if index % 3 == 0:
            invoice_mark_requested(invoice_id=invoice.pk, actor=users["fin1"], expected_version=1)
    big = {key: _list_queries(client, params) for key, params in {"open": {}, "all": {"status": "all"}}.items()}
    assert {k: v[0] for k, v in big.items()} == {k: v[0] for k, v in small.items()}
    assert big["all"][1] == 13 and small["all"][1] == 1


@pytest.mark.postgres
def test_the_list_reads_through_its_indexes(listed):
    """PostgreSQL: the open list and one status come from the (status, added_at) index, oldest
    first, without sorting the table."""
    from finance.selectors import invoice_list_for_finance

    listed()
    with connection.cursor() as cursor:
        # A few test rows: a sequential scan would win; forbid it to see which index fits.
        cursor.execute("SET LOCAL enable_seqscan = off")
    for status in ("open", "pending", "issued"):
        plan = invoice_list_for_finance(status=status)[:50].explain()
        assert re.search(r"(Index Scan|Index Only Scan|Bitmap Index Scan) (using|on) invoice_list_idx\b", plan), plan
