"""Returns: requested by customer service (with photos) or the system, reviewed by after-sales,
approved at once for repeat customers by the operations' rule; every refusal changes nothing."""

from __future__ import annotations

import itertools
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftersales.models import LabelStatus, ReturnRequest, ReturnSource, ReturnStatus
from aftersales.services.returns import (
    RULE_APPROVAL_TEXT,
    ReturnAlreadyDecided,
    ReturnAlreadyOpen,
    ReturnNotFound,
    StaleReturnError,
    return_repeat_customer_count,
    return_request_create,
    return_review,
)
from orders.exceptions import (
    ActionNotPermitted,
    AttachmentRejected,
    IllegalTransition,
    InvalidActionData,
    StaleOrderError,
)
from orders.models import Attachment, Order, OrderEvent, OutboxMessage
from orders.services.transition import order_transition
from rules.defaults import REPEAT_RETURN_NAME
from rules.models import Rule

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_emails = itertools.count(1)

# An approved return is followed by exactly one reaction written by the approval itself.
LABEL = "return_label_issue"


def photo(name="damage.png", content=PNG):
    return SimpleUploadedFile(name, content, content_type="image/png")


def unique_email() -> str:
    return f"buyer{next(_emails)}@example.com"


@pytest.fixture
def delivered(make_order):
    """A delivered order of a buyer of its own (so the repeat-customer rule stays out of it)."""

    def make(state="delivered", **fields):
        fields.setdefault("buyer_email", unique_email())
        return make_order(state, **fields)

    return make


def snapshot(order) -> dict:
    """Everything a return action could write, to show that a refusal wrote nothing."""
    order = Order.objects.get(pk=order.pk)
    return {
        "order": (order.state, order.version, order.updated_at),
        "returns": sorted(ReturnRequest.objects.values_list("pk", "status", "version", "label_status")),
        "events": OrderEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "attachments": Attachment.objects.count(),
        "rules_history": Rule.history.count(),
    }


def request(order, user, **kwargs):
    kwargs.setdefault("reason", "买家反馈杯盖破损")
    return return_request_create(order_id=order.pk, actor=user, **kwargs)


# ---------------------------------------------------------------------------------------------
# Request → review, per role


def test_customer_service_requests_with_photo_items_and_the_timeline_shows_it(delivered, users):
    order = delivered()
    case = request(
        order,
        users["cs1"],
        items=[{"sku": " CUP-01 ", "name": "保温杯", "quantity": 1}, {"sku": "LID-02", "name": "", "quantity": "2"}],
        attachments=[photo()],
    )
    assert case.status == ReturnStatus.REQUESTED and case.source == ReturnSource.HUB
    assert case.items == [
        {"sku": "CUP-01", "name": "保温杯", "quantity": 1},
        {"sku": "LID-02", "name": "", "quantity": 2},
    ]
    assert case.requested_by == users["cs1"] and case.version == 1
    assert case.label_status == LabelStatus.NONE and case.decided_by_rule == ""
    order.refresh_from_db()
    assert order.state == "return_requested"
    event = case.request_event
    assert (event.action, event.actor, event.note) == ("request_return", users["cs1"], "买家反馈杯盖破损")
    assert [a.content_type for a in event.attachments.all()] == ["image/png"]
    # Nothing asks for a label before an approval.
    assert not OutboxMessage.objects.filter(kind=LABEL).exists()


@pytest.mark.parametrize("reviewer", ["cs1", "cs2", "ops1"])
def test_customer_service_and_operations_approve(delivered, users, reviewer):
    order = delivered()
    case = request(order, users["cs1"])
    case = return_review(return_id=case.pk, actor=users[reviewer], approve=True, expected_version=case.version)
    assert case.status == ReturnStatus.APPROVED and case.version == 2
    assert case.decided_by == users[reviewer] and case.decided_at is not None and case.decided_by_rule == ""
    assert case.label_status == LabelStatus.PENDING and case.label_prepaid is False
    approve = OrderEvent.objects.get(order=order, action="approve_return")
    assert approve.actor == users[reviewer]
    assert OutboxMessage.objects.get(event=approve, kind=LABEL).params == {"return_id": case.pk}
    assert Order.objects.get(pk=order.pk).state == "return_approved"


def test_a_reviewer_may_give_a_prepaid_label(delivered, users):
    case = request(delivered(), users["cs1"])
    case = return_review(return_id=case.pk, actor=users["ops1"], approve=True, prepaid_label=True)
    assert case.label_prepaid is True


@pytest.mark.parametrize("reviewer", ["cs2", "ops1"])
def test_reject_with_reason_takes_the_order_back_to_delivered(delivered, users, reviewer):
    order = delivered()
    case = request(order, users["cs1"])
    case = return_review(return_id=case.pk, actor=users[reviewer], approve=False, note="超过退货期限")
    assert (case.status, case.decision_note) == (ReturnStatus.REJECTED, "超过退货期限")
    assert case.decided_by == users[reviewer]
    assert case.label_status == LabelStatus.NONE
    order.refresh_from_db()
    assert order.state == "delivered"
    reject = OrderEvent.objects.get(order=order, action="reject_return")
    assert (reject.actor, reject.note) == (users[reviewer], "超过退货期限")
    assert not OutboxMessage.objects.filter(kind=LABEL).exists()
    # Closed: a new request may follow.
    again = request(order, users["cs1"], reason="买家补充了照片")
    assert again.pk != case.pk and again.status == ReturnStatus.REQUESTED


@pytest.mark.parametrize("who", ["wh1", "fin1", "tech1"])
def test_warehouse_finance_and_tech_lead_can_neither_request_nor_review(delivered, users, who):
    order = delivered()
    before = snapshot(order)
    with pytest.raises(ActionNotPermitted):
        request(order, users[who], attachments=[photo()])
    assert snapshot(order) == before

    case = request(order, users["cs1"])
    before = snapshot(order)
    with pytest.raises(ActionNotPermitted):
        return_review(return_id=case.pk, actor=users[who], approve=True)
    with pytest.raises(ActionNotPermitted):
        return_review(return_id=case.pk, actor=users[who], approve=False, note="不行")
    assert snapshot(order) == before


def test_operations_review_but_do_not_request(delivered, users):
    # The transition table: request_return is customer service's (and the system's).
    order = delivered()
    before = snapshot(order)
    with pytest.raises(ActionNotPermitted):
        request(order, users["ops1"])
    assert snapshot(order) == before


def test_the_system_requests_for_the_channel(delivered):
    order = delivered()
    case = request(order, None, source="channel", channel_reference="246")
    assert (case.source, case.channel_reference, case.requested_by) == ("channel", "246", None)
    assert case.request_event.actor_role == "system"


def test_the_same_channel_return_is_one_case(delivered, users):
    order = delivered()
    first = request(order, None, source="channel", channel_reference="246")
    before = snapshot(order)
    again = request(order, None, source="channel", channel_reference="246", reason="重复推送")
    assert again.pk == first.pk
    assert snapshot(order) == before


# ---------------------------------------------------------------------------------------------
# Every refusal changes nothing


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"reason": "  "}, InvalidActionData, "needs a reason"),
        ({"items": [{"sku": "A", "name": "x", "quantity": 0}]}, InvalidActionData, "quantity"),
        ({"items": [{"sku": "", "name": "", "quantity": 1}]}, InvalidActionData, "SKU or a name"),
        ({"items": [{"sku": "A", "quantity": True}]}, InvalidActionData, "quantity"),
        ({"items": {"sku": "A", "quantity": 1}}, InvalidActionData, "list"),
        ({"items": ["CUP-01"]}, InvalidActionData, "Item 1"),
        ({"attachments": [photo("note.txt", b"just text")]}, AttachmentRejected, "note.txt"),
        ({"source": "fax"}, InvalidActionData, "fax"),
        ({"channel_reference": "x" * 65}, InvalidActionData, "64"),
        ({"expected_version": 1}, StaleOrderError, "changed by"),
    ],
)
def test_a_refused_request_changes_nothing(delivered, users, kwargs, error, text):
    order = delivered()
    before = snapshot(order)
    with pytest.raises(error) as refused:
        request(order, users["cs1"], **kwargs)
    assert text in refused.value.message
    assert snapshot(order) == before


def test_a_request_on_an_order_not_delivered_is_refused(make_order, users):
    order = make_order("shipped", buyer_email=unique_email())
    before = snapshot(order)
    with pytest.raises(IllegalTransition):
        request(order, users["cs1"], attachments=[photo()])
    assert snapshot(order) == before


def test_a_second_open_return_is_refused(delivered, users):
    order = delivered()
    first = request(order, users["cs1"])
    before = snapshot(order)
    with pytest.raises(ReturnAlreadyOpen) as refused:
        request(order, users["cs2"])
    assert f"#{first.pk}" in refused.value.message and order.number in refused.value.message
    with pytest.raises(ReturnAlreadyOpen):
        request(order, None, source="channel", channel_reference="999")
    assert snapshot(order) == before


def test_review_refusals_change_nothing(delivered, users):
    order = delivered()
    case = request(order, users["cs1"])
    before = snapshot(order)
    with pytest.raises(InvalidActionData, match="reason"):
        return_review(return_id=case.pk, actor=users["cs2"], approve=False, note=" ")
    with pytest.raises(StaleReturnError):
        return_review(return_id=case.pk, actor=users["cs2"], approve=True, expected_version=case.version + 1)
    with pytest.raises(StaleOrderError):
        return_review(return_id=case.pk, actor=users["cs2"], approve=True, expected_order_version=1)
    with pytest.raises(ReturnNotFound):
        return_review(return_id=case.pk + 1000, actor=users["cs2"], approve=True)
    assert snapshot(order) == before


def test_a_decided_return_cannot_be_decided_again(delivered, users):
    order = delivered()
    case = request(order, users["cs1"])
    seen = case.version
    return_review(return_id=case.pk, actor=users["cs2"], approve=True, expected_version=seen)
    before = snapshot(order)
    # The second reviewer's page showed the old version: told who changed it.
    with pytest.raises(StaleReturnError) as stale:
        return_review(return_id=case.pk, actor=users["ops1"], approve=False, note="不同意", expected_version=seen)
    assert "李娜" in stale.value.message
    # Without a version (a bulk action), the decision itself is the guard.
    with pytest.raises(ReturnAlreadyDecided) as decided:
        return_review(return_id=case.pk, actor=users["ops1"], approve=True)
    assert "李娜" in decided.value.message
    assert snapshot(order) == before


# ---------------------------------------------------------------------------------------------
# The repeat-customer rule


def repeat_buyer(make_order, delivered_orders: int, *, email="repeat@example.com", state="delivered"):
    for _ in range(delivered_orders):
        make_order(state, buyer_email=email)
    return make_order("delivered", buyer_email=email)


def test_repeat_customer_is_approved_by_the_rule_with_a_prepaid_label(make_order, users):
    order = repeat_buyer(make_order, 3)
    case = request(order, users["cs1"])
    assert case.status == ReturnStatus.APPROVED
    assert case.decided_by is None and case.decided_by_rule == REPEAT_RETURN_NAME
    assert (case.label_prepaid, case.label_status) == (True, LabelStatus.PENDING)
    order.refresh_from_db()
    assert order.state == "return_approved"
    request_event, approve = OrderEvent.objects.filter(order=order).order_by("-id")[:2][::-1]
    assert (request_event.action, request_event.actor) == ("request_return", users["cs1"])
    assert (approve.action, approve.actor, approve.actor_role) == ("approve_return", None, "system")
    # The rule that decided is named on the timeline (its name and id in the event's data too).
    assert approve.note == f"规则 / Rule “{REPEAT_RETURN_NAME}”: {RULE_APPROVAL_TEXT}"
    assert approve.data["rule_name"] == REPEAT_RETURN_NAME
    assert OutboxMessage.objects.filter(event=approve, kind=LABEL).count() == 1


def test_two_delivered_orders_are_not_enough(make_order, users):
    case = request(repeat_buyer(make_order, 2), users["cs1"])
    assert case.status == ReturnStatus.REQUESTED and case.decided_by_rule == ""


def test_the_rule_switched_off_leaves_the_review_to_a_person(make_order, users):
    Rule.objects.filter(name=REPEAT_RETURN_NAME).update(enabled=False)
    case = request(repeat_buyer(make_order, 5), users["cs1"])
    assert case.status == ReturnStatus.REQUESTED


def test_the_threshold_is_the_operations_number(make_order, users):
    Rule.objects.filter(name=REPEAT_RETURN_NAME).update(previous_delivered_min=1)
    case = request(repeat_buyer(make_order, 1), users["cs1"])
    assert case.decided_by_rule == REPEAT_RETURN_NAME


def test_who_counts_as_a_repeat_customer(make_order, users):
    email = "Mixed.Case@Example.COM"
    # Delivered or later counts, by email in another case or by phone…
    make_order("invoice_requested", buyer_email="mixed.case@example.com")
    make_order("refunded", buyer_email="other@example.com", buyer_phone="13800138000")
    make_order("archived", buyer_email=email)
    # …not before delivery, not an order archived after a cancellation, not a gift, not another buyer.
    make_order("shipped", buyer_email=email)
    cancelled = make_order("cancelled", buyer_email=email)
    order_transition(cancelled.pk, "archive", actor=users["ops1"])
    main = make_order("delivered", buyer_email="someone@example.com")
    make_order("delivered", buyer_email=email, main_order=main)
    make_order("delivered", buyer_email="stranger@example.com")

    order = make_order("delivered", buyer_email=email, buyer_phone="13800138000")
    assert return_repeat_customer_count(order=order) == 3
    assert request(order, users["cs1"]).status == ReturnStatus.APPROVED


def test_a_buyer_without_email_or_phone_is_nobody_s_repeat(make_order):
    order = make_order("delivered", buyer_email="")
    make_order("delivered", buyer_email="")
    assert return_repeat_customer_count(order=order) == 0


def test_the_count_is_one_query(make_order, django_assert_num_queries):
    order = repeat_buyer(make_order, 3)
    with django_assert_num_queries(1):
        assert return_repeat_customer_count(order=order) == 3


def _uses_index(plan: str, index: str) -> bool:
    return re.search(rf"(Index Scan|Index Only Scan|Bitmap Index Scan) (using|on) {index}\b", plan) is not None


@pytest.mark.postgres
def test_the_count_reaches_the_buyer_s_orders_through_their_indexes(make_order):
    order = repeat_buyer(make_order, 3)
    Order.objects.filter(pk=order.pk).update(buyer_phone="13800138000")
    order.refresh_from_db()
    with CaptureQueriesContext(connection) as queries:
        return_repeat_customer_count(order=order)
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        # A few test rows: a sequential scan would win; forbid it to see which indexes fit.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {query['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on orders_order" not in plan, plan
    assert _uses_index(plan, "order_buyer_email_idx"), plan
    assert _uses_index(plan, "order_buyer_phone_idx"), plan
