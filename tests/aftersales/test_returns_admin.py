"""Returns in the admin: customer service requests from the order page (reason, items, photo),
after-sales reviews on the return's page or in bulk, operations edit the rule; the warehouse
and finance only read. Every click is a service call; refusals are messages and change nothing."""

from __future__ import annotations

import itertools
import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from aftersales.models import ReturnRequest
from aftersales.services.returns import return_request_create, return_review
from orders.models import Attachment, Order, OrderEvent, OutboxMessage
from rules.defaults import REPEAT_RETURN_NAME
from rules.models import Rule
from tests.rules.forms import rule_post_data

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:aftersales_returnrequest_changelist")
ADD = reverse("admin:aftersales_returnrequest_add")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_emails = itertools.count(1)


def review_url(case) -> str:
    return reverse("admin:aftersales_returnrequest_review", args=[case.pk])


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def login(users):
    def make(username) -> Client:
        client = Client()
        client.force_login(users[username])
        return client

    return make


@pytest.fixture
def delivered(make_order):
    def make(**fields):
        fields.setdefault("buyer_email", f"admin{next(_emails)}@example.com")
        return make_order("delivered", **fields)

    return make


@pytest.fixture
def requested(delivered, users):
    def make():
        order = delivered()
        return return_request_create(order_id=order.pk, actor=users["cs1"], reason="杯盖破损")

    return make


def snapshot() -> dict:
    return {
        "orders": sorted(Order.objects.values_list("pk", "state", "version")),
        "returns": sorted(ReturnRequest.objects.values_list("pk", "status", "version")),
        "events": OrderEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "attachments": Attachment.objects.count(),
    }


# ---------------------------------------------------------------------------------------------
# Customer service: from the order page to the request form


def test_the_order_page_links_to_the_request_form_instead_of_a_bare_button(login, delivered):
    order = delivered()
    html = login("cs1").get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    link = f"{ADD}?order={order.number}"
    assert f'data-action="request_return" href="{link}"' in html
    assert 'action="' + reverse("admin:orders_order_transition", args=[order.pk, "request_return"]) not in html


def test_customer_service_requests_a_return_with_items_and_a_photo(login, delivered, users):
    order = delivered()
    cs = login("cs1")
    page = cs.get(ADD, {"order": order.number})
    assert page.status_code == 200 and order.number in page.content.decode()
    response = cs.post(
        ADD,
        {
            "order": order.number.lower(),
            "reason": "买家反馈杯盖破损",
            "items": "CUP-01 | 保温杯 | 1\n\n | 杯盖 | 2",
            "photos": [SimpleUploadedFile("damage.png", PNG, content_type="image/png")],
            "expected_version": order.version,
        },
    )
    case = ReturnRequest.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == review_url(case)
    assert case.items == [
        {"sku": "CUP-01", "name": "保温杯", "quantity": 1},
        {"sku": "", "name": "杯盖", "quantity": 2},
    ]
    assert case.requested_by == users["cs1"]
    assert [a.original_name for a in case.request_event.attachments.all()] == ["damage.png"]
    assert any("waits for after-sales review" in m for m in flash(response))

    # The review page shows the photo and the items; customer service may review it.
    html = cs.get(review_url(case)).content.decode()
    assert reverse("orders:attachment_download", args=[order.number, case.request_event.attachments.get().pk]) in html
    assert "杯盖" in html and 'value="approve"' in html and 'value="reject"' in html


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"items": "CUP-01, 保温杯, 1"}, "SKU | name | quantity"),
        ({"items": "CUP-01 | 保温杯 | one"}, "whole number"),
        ({"reason": ""}, "required"),
        ({"order": "OH19990101-99999"}, "There is no order"),
        ({"expected_version": 1}, "changed by"),
        ({"photos": [SimpleUploadedFile("x.png", b"not a picture", content_type="image/png")]}, "x.png"),
    ],
)
def test_a_refused_request_form_shows_why_and_changes_nothing(login, delivered, data, text):
    order = delivered()
    before = snapshot()
    post = {"order": order.number, "reason": "破损", "items": "", "expected_version": order.version, **data}
    response = login("cs1").post(ADD, post)
    assert response.status_code == 200
    assert text in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("who", ["wh1", "fin1", "tech1", "ops1"])
def test_only_customer_service_opens_the_request_form(login, delivered, who):
    order = delivered()
    before = snapshot()
    client = login(who)
    assert client.get(ADD, {"order": order.number}).status_code == 403
    response = client.post(ADD, {"order": order.number, "reason": "破损", "items": ""})
    assert response.status_code == 403
    assert snapshot() == before


# ---------------------------------------------------------------------------------------------
# After-sales review


def test_the_order_page_sends_reviewers_to_the_return(login, requested):
    case = requested()
    html = login("ops1").get(reverse("admin:orders_order_change", args=[case.order_id])).content.decode()
    assert f'data-action="approve_return" href="{review_url(case)}"' in html
    assert f'data-action="reject_return" href="{review_url(case)}"' in html
    # A bare transition posted anyway is sent to the return's page, and nothing moves.
    before = snapshot()
    response = login("ops1").post(
        reverse("admin:orders_order_transition", args=[case.order_id, "approve_return"]),
        {"approve_return-expected_version": case.order.version},
    )
    assert response.status_code == 302 and any("its own page" in m for m in flash(response))
    assert snapshot() == before


def test_approve_on_the_review_page(login, requested, users):
    case = requested()
    ops = login("ops1")
    response = ops.post(
        review_url(case),
        {
            "decision": "approve",
            "note": "照片确认破损",
            "prepaid_label": "on",
            "expected_version": case.version,
            "expected_order_version": Order.objects.get(pk=case.order_id).version,
        },
    )
    assert response.status_code == 302
    assert any("the return label is being issued" in m for m in flash(response))
    case.refresh_from_db()
    assert (case.status, case.decided_by, case.label_prepaid, case.label_status) == (
        "approved",
        users["ops1"],
        True,
        "pending",
    )
    html = ops.get(review_url(case)).content.decode()
    assert 'value="approve"' not in html and "照片确认破损" in html


def test_a_stale_review_page_is_refused_with_who_changed_it(login, requested, users):
    case = requested()
    seen_return, seen_order = case.version, Order.objects.get(pk=case.order_id).version
    return_review(return_id=case.pk, actor=users["cs2"], approve=False, note="超过退货期限")
    before = snapshot()
    response = login("ops1").post(
        review_url(case),
        {"decision": "approve", "note": "", "expected_version": seen_return, "expected_order_version": seen_order},
    )
    assert any("李娜" in m and "Nothing was saved" in m for m in flash(response))
    assert snapshot() == before


def test_reject_on_the_review_page_needs_a_reason(login, requested):
    case = requested()
    versions = {"expected_version": case.version, "expected_order_version": Order.objects.get(pk=case.order_id).version}
    cs = login("cs2")
    before = snapshot()
    response = cs.post(review_url(case), {"decision": "reject", "note": "", **versions})
    assert any("needs a reason" in m for m in flash(response))
    assert snapshot() == before
    cs.post(review_url(case), {"decision": "reject", "note": "超过退货期限", **versions})
    case.refresh_from_db()
    assert case.status == "rejected" and Order.objects.get(pk=case.order_id).state == "delivered"


@pytest.mark.parametrize("who", ["wh1", "fin1", "tech1"])
def test_warehouse_finance_and_tech_lead_only_read(login, requested, who):
    case = requested()
    client = login(who)
    listing = client.get(CHANGELIST)
    assert listing.status_code == 200 and case.order.number in listing.content.decode()
    assert 'name="action"' not in listing.content.decode()  # no approve/reject actions
    page = client.get(review_url(case))
    assert page.status_code == 200 and 'value="approve"' not in page.content.decode()
    before = snapshot()
    versions = {"expected_version": case.version, "expected_order_version": case.order.version}
    assert client.post(review_url(case), {"decision": "approve", **versions}).status_code == 403
    response = client.post(
        CHANGELIST, {"action": "approve_selected", "_selected_action": [case.pk], "note": "", "index": 0}
    )
    assert response.status_code in (200, 302, 403)
    assert snapshot() == before


def test_bulk_approve_and_reject(login, requested, users):
    first, second = requested(), requested()
    cs = login("cs2")
    response = cs.post(
        CHANGELIST,
        {"action": "reject_selected", "_selected_action": [first.pk, second.pk], "note": "", "index": 0},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert sum("needs a reason" in m for m in messages) == 2
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == {"requested"}

    cs.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [first.pk], "note": "", "index": 0})
    response = cs.post(
        CHANGELIST,
        {"action": "approve_selected", "_selected_action": [first.pk, second.pk], "note": "", "index": 0},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert "Approved 1 return." in messages
    assert any(f"#{first.pk}" in m and "already approved" in m for m in messages)
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == {"approved"}
    assert OutboxMessage.objects.filter(kind="return_label_issue").count() == 2


def _listed(html: str) -> list[str]:
    return re.findall(r'class="orderhub-timeline-link">([A-Z0-9-]+)</a>', html)


def test_filters_and_search(login, requested, make_order, users):
    manual = requested()
    for _ in range(3):
        make_order("delivered", buyer_email="loyal@example.com")
    loyal = make_order("delivered", buyer_email="loyal@example.com")
    by_rule = return_request_create(order_id=loyal.pk, actor=users["cs1"], reason="尺码不合适")
    channel = requested()
    ReturnRequest.objects.filter(pk=channel.pk).update(source="channel", channel_reference="777")

    cs = login("cs1")
    everyone = {manual.order.number, loyal.number, channel.order.number}
    assert set(_listed(cs.get(CHANGELIST).content.decode())) == everyone
    assert _listed(cs.get(CHANGELIST, {"by_rule": "yes"}).content.decode()) == [by_rule.order.number]
    assert _listed(cs.get(CHANGELIST, {"status__exact": "approved"}).content.decode()) == [loyal.number]
    assert _listed(cs.get(CHANGELIST, {"source__exact": "channel"}).content.decode()) == [channel.order.number]
    assert _listed(cs.get(CHANGELIST, {"q": manual.order.number}).content.decode()) == [manual.order.number]
    assert _listed(cs.get(CHANGELIST, {"q": "777"}).content.decode()) == [channel.order.number]
    assert "回头客退货" in cs.get(CHANGELIST).content.decode()  # the rule that decided


# ---------------------------------------------------------------------------------------------
# The rule, edited by operations


def _repeat_rule():
    return Rule.objects.get(name=REPEAT_RETURN_NAME)


def test_operations_change_the_threshold_and_it_takes_effect(login, make_order, users):
    # The repeat-customer rule is an operations rule now: edited with the other rules.
    for _ in range(2):
        make_order("delivered", buyer_email="twice@example.com")
    ops = login("ops1")
    rule = _repeat_rule()
    url = reverse("admin:rules_rule_change", args=[rule.pk])
    response = ops.post(url, rule_post_data(rule, previous_delivered_min=2))
    assert response.status_code == 302

    order = make_order("delivered", buyer_email="twice@example.com")
    case = return_request_create(order_id=order.pk, actor=users["cs1"], reason="不想要了")
    assert case.status == "approved" and case.decided_by_rule == REPEAT_RETURN_NAME
    approve = OrderEvent.objects.get(order=order, action="approve_return")
    assert REPEAT_RETURN_NAME in approve.note

    record = rule.history.order_by("-history_id").first()
    assert (record.previous_delivered_min, record.history_user, record.history_type) == (2, users["ops1"], "~")
    assert ops.get(reverse("admin:rules_rule_history", args=[rule.pk])).status_code == 200


def test_operations_switch_the_rule_off(login, make_order, users):
    for _ in range(3):
        make_order("delivered", buyer_email="thrice@example.com")
    rule = _repeat_rule()
    login("ops1").post(reverse("admin:rules_rule_change", args=[rule.pk]), rule_post_data(rule, enabled=False))
    order = make_order("delivered", buyer_email="thrice@example.com")
    assert return_request_create(order_id=order.pk, actor=users["cs1"], reason="不想要了").status == "requested"


@pytest.mark.parametrize("who", ["cs1", "wh1", "fin1", "tech1"])
def test_only_operations_edit_the_rules(login, who):
    rule = _repeat_rule()
    before = Rule.history.count()
    response = login(who).post(
        reverse("admin:rules_rule_change", args=[rule.pk]), rule_post_data(rule, previous_delivered_min=1)
    )
    assert response.status_code == 403
    assert _repeat_rule().previous_delivered_min == 3
    assert Rule.history.count() == before
