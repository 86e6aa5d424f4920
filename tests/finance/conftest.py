"""Finance fixtures: orders put on the to-invoice list the way production does it (packed, then
the outbox delivers the `invoice_list_add` reaction)."""

from __future__ import annotations

import pytest


@pytest.fixture
def listed(make_order):
    """listed(amount="88.00", ...) -> the InvoiceRequest of a new packed order."""
    from finance.models import InvoiceRequest
    from orders.models import OutboxMessage
    from orders.outbox.services import outbox_deliver

    def make(state="packed", **fields):
        order = make_order(state, **fields)
        message = OutboxMessage.objects.get(event__order=order, kind="invoice_list_add")
        outbox_deliver(message.pk)
        return InvoiceRequest.objects.select_related("order").get(order=order)

    return make


@pytest.fixture
def login(client, users):
    def as_user(username):
        client.force_login(users[username])
        return client

    return as_user


def snapshot(*invoices) -> dict:
    """Everything a refused change must leave as it was: the rows and the orders' timelines."""
    from finance.models import InvoiceRequest
    from orders.models import OrderEvent, OutboxMessage

    rows = InvoiceRequest.objects.filter(pk__in=[i.pk for i in invoices]).order_by("pk")
    return {
        "rows": [
            (r.pk, r.status, r.version, r.invoice_number, r.buyer_title, r.buyer_tax_id, r.note, r.updated_at)
            for r in rows
        ],
        "events": OrderEvent.objects.filter(order_id__in=[i.order_id for i in invoices]).count(),
        "outbox": OutboxMessage.objects.count(),
    }
