"""The packed reaction puts the order on finance's to-invoice list: once, whatever happens to
its delivery; never a gift order; a refunded order can be taken off again by a rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finance.models import InvoiceRequest
from orders.events import EVENT_TYPE_CHOICES
from orders.models import OrderEvent, OutboxMessage, OutboxStatus
from orders.outbox.kinds import reaction_kind, reaction_kind_choices
from orders.outbox.services import outbox_deliver
from orders.services.transition import order_transition
from rules.models import RuleAction
from tests.factories import reaction_rule

pytestmark = pytest.mark.django_db


def invoice_message(order) -> OutboxMessage:
    return OutboxMessage.objects.get(event__order=order, event__action="pack", kind="invoice_list_add")


def test_the_real_kind_is_registered_once():
    kind = reaction_kind("invoice_list_add")
    assert kind.run.__module__ == "finance.reactions"
    assert not kind.integration  # nothing outside is called: no tech-lead alert for it
    assert [code for code, _label in reaction_kind_choices()].count("invoice_list_add") == 1
    assert reaction_kind("invoice_list_cancel") is not None
    codes = [code for code, _label in EVENT_TYPE_CHOICES]
    for code in ("invoice_listed", "invoice_marked_requested", "invoice_issued", "invoice_cancelled"):
        assert codes.count(code) == 1


def test_packed_order_goes_on_the_list_once(make_order, users):
    order = make_order("allocated", amount="388.50", cs_owner="cs2")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    message = OutboxMessage.objects.get(event=event, kind="invoice_list_add")
    version = order.version + 1

    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    invoice = InvoiceRequest.objects.get(order=order)
    assert invoice.status == "pending"
    assert (invoice.amount, invoice.currency) == (Decimal("388.50"), "CNY")
    assert invoice.version == 1 and invoice.invoice_number == "" and invoice.requested_at is None
    message.refresh_from_db()
    assert f"added order {order.number}" in message.result

    listed = OrderEvent.objects.get(order=order, action="invoice_listed")
    assert listed.actor_role == "system" and listed.from_state == listed.to_state == "packed"
    assert listed.order_version == version  # a line on the timeline, not a change of the order
    assert listed.data["invoice_request"] == invoice.pk and listed.data["to"] == "pending"
    assert "added the order to the to-invoice list" in listed.timeline_text()

    # Delivered again (the row is done: nothing runs), and the reaction itself run again (a
    # crash between its effect and the commit): still one row, one event.
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert "already on the to-invoice list" in reaction_kind("invoice_list_add").run(message)
    assert InvoiceRequest.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, action="invoice_listed").count() == 1
    assert InvoiceRequest.objects.get(order=order).version == 1


def test_a_second_rule_asking_the_same_adds_nothing(make_order, users):
    reaction_rule(name="again", trigger="pack", reaction="invoice_list_add")
    order = make_order("allocated")
    event = order_transition(order.pk, "pack", actor=users["wh1"])
    messages = OutboxMessage.objects.filter(event=event, kind="invoice_list_add")
    assert messages.count() == 2
    for message in messages:
        assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert InvoiceRequest.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, action="invoice_listed").count() == 1


def test_gift_order_is_never_listed(make_order):
    main = make_order("allocated")
    gift = make_order("packed", main_order=main, amount="0.00")
    message = invoice_message(gift)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE  # an outcome, not a failure
    message.refresh_from_db()
    assert message.result == "gift orders are never invoiced" and message.last_error == ""
    assert not InvoiceRequest.objects.filter(order=gift).exists()
    assert not OrderEvent.objects.filter(order=gift, action__in=["invoice_listed", "reaction_failed"]).exists()


def test_refunded_before_the_reaction_ran_is_not_listed(make_order):
    order = make_order("refunded")
    message = invoice_message(order)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert "refunded: not invoiced" in OutboxMessage.objects.get(pk=message.pk).result
    assert not InvoiceRequest.objects.filter(order=order).exists()


def test_the_default_rule_on_the_refund_takes_the_order_off_the_list(listed, users):
    from finance.services import invoice_mark_issued, invoice_mark_requested

    assert RuleAction.objects.filter(
        rule__trigger="refund", reaction="invoice_list_cancel", rule__enabled=True
    ).exists()
    invoice = listed("delivered")
    issued = listed("delivered")
    invoice_mark_requested(invoice_id=issued.pk, actor=users["fin1"], expected_version=1)
    invoice_mark_issued(
        invoice_id=issued.pk, actor=users["fin1"], invoice_number="24310000000000000001", expected_version=2
    )

    results = {}
    for row in (invoice, issued):
        order = row.order
        order_transition(order.pk, "request_return", actor=users["cs1"], note="坏了")
        order_transition(order.pk, "approve_return", actor=users["cs1"])
        event = order_transition(order.pk, "refund", actor=None)
        message = OutboxMessage.objects.get(event=event, kind="invoice_list_cancel")
        assert outbox_deliver(message.pk) == OutboxStatus.DONE
        results[row.pk] = OutboxMessage.objects.get(pk=message.pk).result

    invoice.refresh_from_db()
    assert invoice.status == "cancelled" and invoice.cancelled_by is None and invoice.version == 2
    assert "refunded" in invoice.note
    cancelled = OrderEvent.objects.get(order=invoice.order, action="invoice_cancelled")
    assert cancelled.actor_role == "system" and cancelled.data["from"] == "pending"
    # An issued invoice is finance's to reverse: left as it is, and said so.
    issued.refresh_from_db()
    assert issued.status == "issued"
    assert "already issued" in results[issued.pk]
