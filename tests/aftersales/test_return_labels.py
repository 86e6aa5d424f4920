"""The return label: an approved return gets its waybill from the carrier of the order's warehouse
(the local SF gateway here, signature checked), the case and the timeline say so; no carrier,
a carrier without return labels or a refusal is a clear failure that alerts the tech lead."""

from __future__ import annotations

import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from aftersales.models import LabelStatus, ReturnRequest
from aftersales.services.return_labels import return_label_issue
from aftersales.services.returns import return_request_create, return_review
from integrations.carriers.base import Credentials, WaybillRequest
from integrations.carriers.sf import SFExpress
from integrations.models import CarrierAccount
from notifications.models import Notification
from orders.models import OrderEvent, OutboxMessage, OutboxStatus
from orders.outbox.services import outbox_deliver
from tests.fakes.sf import FakeSF

pytestmark = pytest.mark.django_db

PARTNER, CHECK_WORD, MONTHLY_CARD = "sf-returns-partner", "sf-returns-checkword", "7551234567"
LABEL = "return_label_issue"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_emails = itertools.count(1)


@pytest.fixture
def sf():
    with FakeSF(partner_id=PARTNER, check_word=CHECK_WORD) as fake:
        yield fake


def sf_account(fake, warehouses, *, check_word=CHECK_WORD, priority=10, **extra):
    account = CarrierAccount.objects.create(
        name="顺丰（退货）",
        carrier="sf",
        endpoint=fake.url,
        app_key=PARTNER,
        app_secret=check_word,
        extra={"monthly_card": MONTHLY_CARD, **extra},
        priority=priority,
    )
    account.warehouses.set(warehouses)
    return account


@pytest.fixture
def approved(make_order, users):
    """(order, return) requested by customer service with a photo and approved by `reviewer`:
    the label is the next thing to happen."""

    def make(*, prepaid=False, reviewer="ops1"):
        order = make_order("delivered", buyer_email=f"label{next(_emails)}@example.com")
        case = return_request_create(
            order_id=order.pk,
            actor=users["cs1"],
            reason="商品破损",
            items=[{"sku": "CUP-01", "name": "保温杯", "quantity": 1}],
            attachments=[SimpleUploadedFile("damage.png", PNG, content_type="image/png")],
        )
        case = return_review(return_id=case.pk, actor=users[reviewer], approve=True, prepaid_label=prepaid)
        return order, case

    return make


def label_message(case) -> OutboxMessage:
    return OutboxMessage.objects.get(kind=LABEL, params__return_id=case.pk)


def make_due(message):
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


@pytest.mark.parametrize("reviewer", ["cs2", "ops1"])
def test_the_label_is_issued_by_sf_with_the_buyer_as_sender(sf, warehouses, approved, users, client, reviewer):
    sf_account(sf, warehouses)
    order, case = approved(reviewer=reviewer)
    assert outbox_deliver(label_message(case).pk) == OutboxStatus.DONE

    (received,) = sf.requests
    assert received.form["serviceCode"] == "EXP_RECE_CREATE_ORDER" and received.form["partnerID"] == PARTNER
    payload = received.payload
    assert payload["orderId"] == f"{order.number}-R{case.pk}"
    sender, receiver = payload["contactInfoList"]
    assert (sender["contactType"], sender["address"]) == (1, order.ship_address)
    assert sender["contact"] == order.recipient_name
    assert (receiver["contactType"], receiver["address"]) == (2, order.warehouse.address)
    assert payload["isDocall"] == 1 and payload["remark"] == "退货"
    # Not prepaid: the buyer pays the courier, our monthly card is not offered.
    assert payload["payMethod"] == 1 and "monthlyCard" not in payload
    assert payload["cargoDetails"][0]["name"] == "保温杯×1"

    case.refresh_from_db()
    number = sf.orders[payload["orderId"]].waybill_no
    assert (case.label_status, case.label_carrier, case.label_tracking_number) == (LabelStatus.ISSUED, "sf", number)
    assert case.label_error == ""
    actions = list(OrderEvent.objects.filter(order=order).order_by("id").values_list("action", "actor__username"))
    assert actions[-3:] == [("request_return", "cs1"), ("approve_return", reviewer), ("return_label_issued", None)]
    issued = OrderEvent.objects.get(order=order, action="return_label_issued")
    assert issued.note == f"SF Express return waybill {number}, postage paid by the buyer."
    assert issued.data == {"return_id": case.pk, "carrier": "sf", "tracking_number": number, "prepaid": False}
    assert issued.actor_role == "system" and str(issued.verb) == "issued the return label"

    # The timeline page tells the whole story, the buyer's photo included.
    client.force_login(users["wh1"])
    html = client.get(reverse("orders:timeline", args=[order.number])).content.decode()
    steps = ["requested a return", "商品破损", "damage.png", "approved the return", "issued the return label", number]
    positions = [html.index(step) for step in steps]
    assert positions == sorted(positions), positions


def test_a_prepaid_label_is_billed_to_our_monthly_card(sf, warehouses, approved):
    sf_account(sf, warehouses)
    order, case = approved(prepaid=True)
    assert outbox_deliver(label_message(case).pk) == OutboxStatus.DONE
    payload = sf.requests[-1].payload
    assert payload["payMethod"] == 2 and payload["monthlyCard"] == MONTHLY_CARD
    assert "postage prepaid by us" in OrderEvent.objects.get(order=order, action="return_label_issued").note


def test_the_label_is_issued_once(sf, warehouses, approved):
    sf_account(sf, warehouses)
    _order, case = approved()
    message = label_message(case)
    outbox_deliver(message.pk)
    message.refresh_from_db()
    # A second run (a crash before the outbox row was marked done) asks nobody again.
    assert return_label_issue(message).startswith("already issued")
    assert len(sf.requests) == 1
    assert OrderEvent.objects.filter(action="return_label_issued").count() == 1


def test_an_earlier_attempt_that_got_through_is_read_back(sf, warehouses, approved):
    """The carrier has the return order already (our commit was lost after its answer): SF says
    8016, the adapter reads the order back and the number it gave is the label's."""
    sf_account(sf, warehouses)
    order, case = approved()
    carrier = SFExpress(Credentials(sf.url, PARTNER, CHECK_WORD))
    earlier = carrier.create_return_label(
        WaybillRequest(
            carrier_order_id=f"{order.number}-R{case.pk}",
            sender=_address(order),
            receiver=_address(order),
        ),
        prepaid=False,
    )
    assert outbox_deliver(label_message(case).pk) == OutboxStatus.DONE
    assert [r.form["serviceCode"] for r in sf.requests[1:]] == ["EXP_RECE_CREATE_ORDER", "EXP_RECE_SEARCH_ORDER_RESP"]
    case.refresh_from_db()
    assert case.label_tracking_number == earlier.tracking_number
    assert len(sf.orders) == 1


def _address(order):
    from integrations.carriers.base import Address

    return Address(order.recipient_name, order.recipient_phone, "浙江省", "杭州市", "余杭区", order.ship_address)


def test_a_busy_carrier_is_retried(sf, warehouses, approved):
    sf_account(sf, warehouses)
    _order, case = approved()
    message = label_message(case)
    sf.answers.append("busy")
    assert outbox_deliver(message.pk) == OutboxStatus.PENDING
    case.refresh_from_db()
    assert case.label_status == LabelStatus.PENDING
    make_due(message)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    case.refresh_from_db()
    assert case.label_status == LabelStatus.ISSUED


def test_a_wrong_check_word_fails_at_once_and_alerts_the_tech_lead(sf, warehouses, approved, users):
    sf_account(sf, warehouses, check_word="not-the-check-word")
    order, case = approved()
    assert outbox_deliver(label_message(case).pk) == OutboxStatus.FAILED
    case.refresh_from_db()
    assert case.label_status == LabelStatus.FAILED and "A1006" in case.label_error
    assert "not-the-check-word" not in case.label_error
    _failure_is_on_the_timeline_and_alerted(order, case)


def test_no_carrier_configured_is_a_clear_failure(sf, warehouses, approved, users):
    order, case = approved()
    assert outbox_deliver(label_message(case).pk) == OutboxStatus.FAILED
    case.refresh_from_db()
    assert case.label_status == LabelStatus.FAILED
    assert f"No carrier configured for warehouse {order.warehouse.name}" in case.label_error
    assert sf.requests == []
    failure = _failure_is_on_the_timeline_and_alerted(order, case)
    assert f"No carrier configured for warehouse {order.warehouse.name}" in failure.note


def test_a_warehouse_whose_carriers_issue_no_return_labels(sf, warehouses, approved):
    zto = CarrierAccount.objects.create(
        name="中通", carrier="zto", endpoint="http://127.0.0.1:9/zto", app_key="k", app_secret="s", priority=1
    )
    zto.warehouses.set(warehouses)
    _order, case = approved()
    assert outbox_deliver(label_message(case).pk) == OutboxStatus.FAILED
    case.refresh_from_db()
    assert "issues return labels (configured: ZTO Express)" in case.label_error
    # An SF account behind it (lower priority) is the one asked.
    sf_account(sf, warehouses, priority=20)
    message = label_message(case)
    OutboxMessage.objects.filter(pk=message.pk).update(status="pending", attempts=0, next_attempt_at=timezone.now())
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    case.refresh_from_db()
    assert (case.label_status, case.label_carrier, case.label_error) == (LabelStatus.ISSUED, "sf", "")


def test_an_order_without_a_warehouse_says_so(make_order, users, sf):
    order = make_order("delivered", buyer_email="nowarehouse@example.com")
    # Only here: an order delivered without a warehouse (imported history, say).
    type(order).objects.filter(pk=order.pk).update(warehouse=None)
    case = return_request_create(order_id=order.pk, actor=users["cs1"], reason="破损")
    return_review(return_id=case.pk, actor=users["cs2"], approve=True)
    assert outbox_deliver(label_message(case).pk) == OutboxStatus.FAILED
    case.refresh_from_db()
    assert "has no warehouse" in case.label_error


def _failure_is_on_the_timeline_and_alerted(order, case) -> OrderEvent:
    failure = OrderEvent.objects.get(order=order, action="reaction_failed")
    assert failure.data["reaction"] == LABEL and failure.data["integration"] is True
    assert failure.actor_role == "system"
    # The seed's rule: a reaction that failed for good tells the tech lead.
    notify = OutboxMessage.objects.get(event=failure, kind="notify")
    assert outbox_deliver(notify.pk) == OutboxStatus.DONE
    alert = Notification.objects.get(event=failure)
    assert (alert.recipient.username, alert.recipient_role) == ("tech1", "tech_lead")
    assert ReturnRequest.objects.get(pk=case.pk).status == "approved"
    return failure
