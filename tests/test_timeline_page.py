"""The order timeline page: the whole record of an order in one chronological list, its
shipments and notifications, notes with photos and files, and the downloads behind them."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from orders.events import ATTACHMENTS_ADDED
from orders.exceptions import ActionNotPermitted, AttachmentRejected, InvalidActionData, StaleOrderError
from orders.models import Attachment, Order, OrderEvent, OutboxMessage
from orders.outbox.services import outbox_deliver
from orders.services.attachments import order_attachment_add
from orders.services.orders import order_update_details
from orders.services.transition import order_transition
from orders.states import Priority

HistoricalOrder = Order.history.model


def png_bytes(width: int = 8, height: int = 6, rgb: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A real, decodable PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def timeline_url(order) -> str:
    return reverse("orders:timeline", args=[order.number])


def add_url(order) -> str:
    return reverse("orders:attachment_add", args=[order.number])


def download_url(order, attachment) -> str:
    return reverse("orders:attachment_download", args=[order.number, attachment.pk])


def entries(html: str) -> list[str]:
    """The timeline's entries, each as its own piece of HTML, in page order."""
    section = html.split('class="tl-list"', 1)[1].split("</ol>", 1)[0]
    return section.split('<li class="tl-entry')[1:]


def entry_for(html: str, event) -> str:
    return html.split(f'id="event-{event.pk}"', 1)[1].split('<li class="tl-entry', 1)[0]


def record_counts(order) -> dict:
    order.refresh_from_db()
    return {
        "events": OrderEvent.objects.filter(order=order).count(),
        "attachments": Attachment.objects.filter(event__order=order).count(),
        "outbox": OutboxMessage.objects.filter(event__order=order).count(),
        "history": order.history.count(),
        "version": order.version,
        "state": order.state,
        "updated_at": order.updated_at,
    }


def deliver_notifications(order) -> None:
    for message in OutboxMessage.objects.filter(event__order=order, kind="notify", status="pending"):
        outbox_deliver(message.pk)


@pytest.fixture
def shipped(make_order, users):
    """A shipped order owned by cs2 with a full record: state changes by the system, cs2 and
    wh1, a tracking number, a details edit by cs1, cs2's notification (wh1 packed) and a
    note with a photo and a PDF from cs1."""
    order = make_order("shipped", cs_owner="cs2")
    order_update_details(order_id=order.pk, actor=users["cs1"], expected_version=order.version, priority=Priority.HIGH)
    deliver_notifications(order)
    order_attachment_add(
        order_id=order.pk,
        actor=users["cs1"],
        note="买家发来包装照片\nsecond line",
        files=[upload("box.png", png_bytes()), upload("invoice.pdf", PDF)],
    )
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def no_role_user(db):
    return get_user_model().objects.create_user("visitor", password="x", is_staff=True)


# ---------------------------------------------------------------------------------------------
# What the page shows


@pytest.mark.django_db
def test_header_shows_the_orders_essentials(client, users, shipped):
    client.force_login(users["ops1"])
    html = client.get(timeline_url(shipped)).content.decode()
    shipment = shipped.shipments.get()
    for text in [
        shipped.number,
        "Shipped",  # main status
        "Shipped, awaiting pickup",  # fine state
        "Paid",  # payment
        "Awaiting pickup",  # warehouse stage
        "Shopify",
        "199.00 CNY",
        "李娜",  # CS owner
        shipped.warehouse.name,
        shipment.tracking_number,
        'class="tl-badge tl-badge-priority"',
        reverse("admin:orders_order_change", args=[shipped.pk]),
    ]:
        assert text in html, text


@pytest.mark.django_db
def test_gift_and_main_order_link_to_each_other(client, users, make_order):
    main = make_order("paid")
    gift = make_order("paid", amount="0.00", main_order=main)
    client.force_login(users["cs1"])
    assert timeline_url(main) in client.get(timeline_url(gift)).content.decode()
    assert timeline_url(gift) in client.get(timeline_url(main)).content.decode()


@pytest.mark.django_db
def test_every_event_in_order_with_person_role_states_notes_and_attachments(client, users, shipped):
    client.force_login(users["ops1"])
    html = client.get(timeline_url(shipped)).content.decode()
    rows = entries(html)
    events = list(shipped.events.order_by("occurred_at", "id"))
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        assert f'id="event-{event.pk}"' in row
        assert str(event.verb) in row
    assert [e.action for e in events] == [
        "created",
        "pay",
        "approve",
        "allocate",
        "pack",
        "ship",
        "details_updated",
        ATTACHMENTS_ADDED,
    ]
    pack = entry_for(html, events[4])
    assert "<strong>王强</strong>" in pack and "Warehouse" in pack
    assert "Allocated to warehouse" in pack and "Packed" in pack and "→" in pack
    pay = entry_for(html, events[1])
    assert "System" in pay and "<strong>" not in pay.split("tl-what")[0]  # the system has no name
    ship = entry_for(html, events[5])
    assert shipped.shipments.get().tracking_number in ship
    note = entry_for(html, events[7])
    assert "买家发来包装照片<br>second line" in note
    assert "<strong>张明</strong>" in note and "Customer service" in note
    photo, pdf = events[7].attachments.order_by("id")
    assert f'<img src="{download_url(shipped, photo)}"' in note and 'loading="lazy"' in note
    assert f'href="{download_url(shipped, pdf)}"' in note and "invoice.pdf" in note
    assert "<img" not in note.split("invoice.pdf")[0].split(download_url(shipped, pdf))[1]
    # The times are Shanghai's.
    local = timezone.localtime(events[7].occurred_at).strftime("%Y-%m-%d %H:%M")
    assert local in note


@pytest.mark.django_db
def test_field_changes_from_the_history_are_shown_once_inside_their_event(client, users, shipped):
    client.force_login(users["ops1"])
    html = client.get(timeline_url(shipped)).content.decode()
    details = entry_for(html, shipped.events.get(action="details_updated"))
    assert "Priority" in details and "Normal" in details and "High (priority lane)" in details
    timeline = html.split('class="tl-list"', 1)[1].split("</ol>", 1)[0]
    assert timeline.count("High (priority lane)") == 1  # not again from the event's data
    allocate = entry_for(html, shipped.events.get(action="allocate"))
    assert "Warehouse" in allocate and shipped.warehouse.name in allocate
    # Bookkeeping and state are not listed as field changes.
    for label in ("Version", "Last updated at", "Last updated by", "Fine state:", "State changed at"):
        assert label not in timeline


@pytest.mark.django_db
def test_a_change_no_event_accounts_for_is_an_entry_of_its_own(client, users, shipped):
    last = shipped.history.order_by("-history_date", "-history_id").first()
    fields = {f.attname: getattr(last, f.attname) for f in HistoricalOrder.tracked_fields}
    HistoricalOrder.objects.create(
        **{**fields, "recipient_name": "杨洋改", "cs_owner_id": users["cs1"].pk},
        history_date=timezone.now() + timedelta(seconds=1),
        history_type="~",
        history_user=users["ops1"],
    )
    client.force_login(users["ops1"])
    html = client.get(timeline_url(shipped)).content.decode()
    edit = entries(html)[-1]
    assert "tl-entry-edit" in edit.split(">")[0]
    assert "<strong>刘洋</strong>" in edit and "Operations" in edit
    assert "Recipient" in edit and "杨洋改" in edit and last.recipient_name in edit
    assert "Customer-service owner" in edit and "李娜" in edit and "张明" in edit


@pytest.mark.django_db
def test_shipments_show_carrier_number_sequence_reason_and_who(client, users, shipped):
    order_transition(
        shipped.pk, "reship", actor=users["cs2"], note="包裹丢失，补发", carrier="sf", tracking_number="SF1234567890"
    )
    client.force_login(users["wh1"])
    html = client.get(timeline_url(shipped)).content.decode()
    section = html.split('class="tl-section tl-shipments"', 1)[1].split("</section>", 1)[0]
    first, _second = shipped.shipments.order_by("sequence")
    assert section.index(first.tracking_number) < section.index("SF1234567890")
    assert "#1" in section and "#2" in section and "SF Express" in section
    assert "包裹丢失，补发" in section and "李娜 (Customer service)" in section and "王强 (Warehouse)" in section
    # The header shows the current tracking number.
    header = html.split('class="tl-order"', 1)[1].split("</header>", 1)[0]
    assert "SF1234567890" in header and first.tracking_number not in header


@pytest.mark.django_db
def test_notifications_are_shown_to_who_may_see_them(client, users, shipped):
    notification = Notification.objects.get(order=shipped)
    assert notification.recipient == users["cs2"]
    notification.read_at = timezone.now()
    notification.save()

    client.force_login(users["ops1"])  # notifications.view_notification
    html = client.get(timeline_url(shipped)).content.decode()
    section = html.split('class="tl-section tl-notifications"', 1)[1].split("</section>", 1)[0]
    assert "李娜" in section and "Customer service" in section and notification.text in section
    assert timezone.localtime(notification.read_at).strftime("%m-%d %H:%M") in section

    client.force_login(users["cs2"])  # the recipient sees their own
    assert notification.text in client.get(timeline_url(shipped)).content.decode()

    for username in ("cs1", "wh1"):  # neither the permission nor a notification of their own
        client.force_login(users[username])
        html = client.get(timeline_url(shipped)).content.decode()
        assert "tl-notifications" not in html and notification.text not in html


@pytest.mark.django_db
def test_the_language_follows_the_users_choice(client, users, shipped):
    client.force_login(users["cs1"])
    client.post(reverse("set_language"), {"language": "zh-hans", "next": timeline_url(shipped)})
    html = client.get(timeline_url(shipped)).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "已发货待揽收" in html and "Shipped, awaiting pickup" not in html


@pytest.mark.django_db
def test_admin_change_page_links_to_the_timeline(client, users, shipped):
    client.force_login(users["cs1"])
    html = client.get(reverse("admin:orders_order_change", args=[shipped.pk])).content.decode()
    assert f'href="{timeline_url(shipped)}"' in html


# ---------------------------------------------------------------------------------------------
# Who may open it


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_login(client, shipped):
    response = client.get(timeline_url(shipped))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.get(download_url(shipped, Attachment.objects.filter(event__order=shipped).first())).status_code == 302
    assert client.post(add_url(shipped), {"note": "x"}).status_code == 302
    assert OrderEvent.objects.filter(order=shipped, action=ATTACHMENTS_ADDED).count() == 1


@pytest.mark.django_db
def test_a_user_without_a_role_gets_403(client, no_role_user, shipped):
    client.force_login(no_role_user)
    assert client.get(timeline_url(shipped)).status_code == 403
    assert client.get(timeline_url(Order(number="OH20000101-99999"))).status_code == 403  # existence not told
    attachment = Attachment.objects.filter(event__order=shipped).first()
    assert client.get(download_url(shipped, attachment)).status_code == 403


@pytest.mark.django_db
def test_unknown_number_is_404_and_the_number_is_not_case_sensitive(client, users, shipped):
    client.force_login(users["wh1"])
    assert client.get(reverse("orders:timeline", args=["OH20000101-99999"])).status_code == 404
    response = client.get(reverse("orders:timeline", args=[shipped.number.lower()]))
    assert response.status_code == 200 and shipped.number in response.content.decode()


# ---------------------------------------------------------------------------------------------
# A constant number of queries


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_record(client, users, make_order, django_assert_max_num_queries):
    def with_record(order, *, notes: int, edits: int, notifications: int):
        for i in range(edits):
            order.refresh_from_db()
            order_update_details(
                order_id=order.pk,
                actor=users["cs1"],
                expected_version=order.version,
                priority=Priority.HIGH if i % 2 == 0 else Priority.NORMAL,
                buyer_phone=f"1380000{i:04d}",
            )
        for i in range(notes):
            order_attachment_add(
                order_id=order.pk,
                actor=users["wh1"],
                note=f"note {i}",
                files=[upload(f"p{i}.png", png_bytes()), upload(f"d{i}.pdf", PDF)],
            )
        event = order.events.last()
        for i in range(notifications):
            Notification.objects.create(
                recipient=users["cs2" if i % 2 else "ops1"],
                recipient_role="customer_service",
                order=order,
                event=event,
                text=f"n{i}",
                event_at=event.occurred_at,
            )
        # One edit around the services, so standalone changes are part of both pages.
        last = order.history.order_by("-history_date", "-history_id").first()
        fields = {f.attname: getattr(last, f.attname) for f in HistoricalOrder.tracked_fields}
        HistoricalOrder.objects.create(
            **{**fields, "recipient_name": "改名"},
            history_date=timezone.now(),
            history_type="~",
            history_user=users["ops1"],
        )
        return order

    few = with_record(make_order("shipped"), notes=1, edits=1, notifications=1)
    many = with_record(make_order("shipped"), notes=12, edits=8, notifications=15)
    order_transition(many.pk, "reship", actor=users["wh1"], note="lost", carrier="zto", tracking_number="ZTO99999999")

    client.force_login(users["ops1"])
    client.get(timeline_url(few))  # warm the session and permission caches alike for both
    with CaptureQueriesContext(connection) as few_queries:
        assert client.get(timeline_url(few)).status_code == 200
    with django_assert_max_num_queries(len(few_queries)):
        html = client.get(timeline_url(many)).content.decode()
    assert len(entries(html)) == 6 + 8 + 12 + 1 + 1  # path, edits, notes, reship, the edit around the services
    assert html.count("<img ") == 12


# ---------------------------------------------------------------------------------------------
# Adding a note with photos and files


@pytest.mark.django_db
def test_adding_a_note_with_a_photo_and_a_pdf(client, users, make_order, django_capture_on_commit_callbacks):
    order = make_order("packed", cs_owner="cs2")
    from tests.factories import reaction_rule

    rule = reaction_rule(name="Note added: tell the CS owner", trigger=ATTACHMENTS_ADDED, cs_owner=True)
    before = record_counts(order)
    client.force_login(users["wh1"])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            add_url(order),
            {"note": "  外箱破损，已拍照  ", "files": [upload("破损.png", png_bytes()), upload("单据.pdf", PDF)]},
        )
    event = OrderEvent.objects.get(order=order, action=ATTACHMENTS_ADDED)
    assert response.status_code == 302
    assert response["Location"] == f"{timeline_url(order)}#event-{event.pk}"
    assert len(callbacks) == 1  # the outbox dispatch, after the commit

    after = record_counts(order)
    assert after["events"] == before["events"] + 1
    assert after["attachments"] == before["attachments"] + 2
    assert after["outbox"] == before["outbox"] + 1
    # A note is not a change to the order: same version, state, history and update time.
    for key in ("version", "state", "history", "updated_at"):
        assert after[key] == before[key], key
    assert event.order_version == order.version
    assert (event.from_state, event.to_state) == (order.state, order.state)
    assert event.actor == users["wh1"] and event.note == "外箱破损，已拍照"
    photo, pdf = event.attachments.order_by("id")
    assert (photo.original_name, photo.content_type, photo.size) == ("破损.png", "image/png", len(png_bytes()))
    assert (pdf.original_name, pdf.content_type) == ("单据.pdf", "application/pdf")

    message = OutboxMessage.objects.get(event=event)
    assert message.rule_id == rule.pk
    outbox_deliver(message.pk)
    assert Notification.objects.get(event=event).recipient == users["cs2"]

    html = client.get(response["Location"]).content.decode()
    assert "Added to the timeline with 2 attachments." in html
    entry = entry_for(html, event)
    assert f'<img src="{download_url(order, photo)}"' in entry
    assert f'href="{download_url(order, pdf)}"' in entry and "单据.pdf" in entry


@pytest.mark.django_db
def test_a_note_alone_and_files_alone_are_both_fine(client, users, make_order):
    order = make_order("paid")
    client.force_login(users["cs1"])
    client.post(add_url(order), {"note": "买家来电确认地址"})
    client.post(add_url(order), {"note": "", "files": [upload("a.jpg", b"\xff\xd8\xff\xe0" + b"0" * 64)]})
    notes = OrderEvent.objects.filter(order=order, action=ATTACHMENTS_ADDED).order_by("id")
    assert [(e.note, e.attachments.count()) for e in notes] == [("买家来电确认地址", 0), ("", 1)]


@pytest.mark.django_db
def test_a_note_does_not_make_the_next_action_stale(users, make_order):
    """The warehouse opened the order at version v; someone adds a note; the tap still works,
    and a real conflict names who changed the order, not who added the note."""
    order = make_order("allocated")
    seen = order.version
    order_attachment_add(order_id=order.pk, actor=users["cs1"], note="请加急")
    order_transition(order.pk, "pack", actor=users["wh1"], expected_version=seen)
    order_attachment_add(order_id=order.pk, actor=users["cs2"], note="已通知买家")
    with pytest.raises(StaleOrderError) as refused:
        order_transition(
            order.pk, "ship", actor=users["wh1"], expected_version=seen, carrier="sf", tracking_number="SF0000000001"
        )
    assert "王强" in refused.value.message and "李娜" not in refused.value.message


@pytest.mark.django_db
def test_the_system_may_add_a_note(make_order):
    order = make_order("paid")
    event = order_attachment_add(order_id=order.pk, actor=None, note="carrier says: address unclear")
    assert event.actor_role == "system" and event.order_version == order.version


REFUSALS = [
    pytest.param({"note": "   "}, "Write a note or choose at least one file.", id="nothing"),
    pytest.param(
        {"note": "see file", "files": [upload("virus.png", b"MZ\x90\x00 not an image")]},
        "is not a JPEG, PNG or WebP photo or a PDF document",
        id="wrong-type",
    ),
    pytest.param(
        {"note": "gif", "files": [upload("ok.png", png_bytes()), upload("anim.gif", b"GIF89a" + b"0" * 40)]},
        "“anim.gif” is not a JPEG, PNG or WebP photo or a PDF document",
        id="one-bad-file-refuses-all",
    ),
    pytest.param(
        {"note": "big", "files": [upload("big.png", png_bytes(200, 200) + b"\x00" * 4096)]},
        "“big.png” is larger than",
        id="too-large",
    ),
    pytest.param({"note": "x" * 4001}, "The note is too long", id="note-too-long"),
    pytest.param(
        {"note": "many", "files": [upload(f"{i}.png", png_bytes()) for i in range(11)]},
        "At most 10 attachments",
        id="too-many",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "error"), REFUSALS)
def test_refusals_change_nothing_and_say_why(client, users, make_order, settings, data, error):
    settings.ORDERHUB_ATTACHMENT_MAX_BYTES = 2048
    order = make_order("packed")
    before = record_counts(order)
    client.force_login(users["wh1"])
    response = client.post(add_url(order), data, follow=True)
    assert response.redirect_chain[-1][0] == f"{timeline_url(order)}#add-note"
    html = response.content.decode()
    assert error in html and "oh-message-error" in html
    assert record_counts(order) == before
    if data["note"].strip() and len(data["note"]) < 100:
        assert f">{data['note']}</textarea>" in html  # the typed note is kept
    # Shown once: a reload does not repeat the message or the note.
    again = client.get(timeline_url(order)).content.decode()
    assert error not in again


@pytest.mark.django_db
def test_without_the_permission_the_form_is_hidden_and_posting_is_403(client, make_order):
    order = make_order("packed")
    viewer = get_user_model().objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order", content_type__app_label="orders"))
    client.force_login(viewer)
    html = client.get(timeline_url(order)).content.decode()
    assert order.number in html and add_url(order) not in html
    before = record_counts(order)
    response = client.post(add_url(order), {"note": "hi", "files": [upload("a.png", png_bytes())]})
    assert response.status_code == 403
    assert record_counts(order) == before
    with pytest.raises(ActionNotPermitted):
        order_attachment_add(order_id=order.pk, actor=viewer, note="hi")
    assert record_counts(order) == before


@pytest.mark.django_db
def test_service_refusals_raise_order_errors(users, make_order):
    order = make_order("paid")
    with pytest.raises(InvalidActionData):
        order_attachment_add(order_id=order.pk, actor=users["cs1"], note="", files=[])
    with pytest.raises(AttachmentRejected):
        order_attachment_add(order_id=order.pk, actor=users["cs1"], note="x", files=[upload("a.txt", b"hello")])
    assert not OrderEvent.objects.filter(order=order, action=ATTACHMENTS_ADDED).exists()


# ---------------------------------------------------------------------------------------------
# Downloads


@pytest.mark.django_db
def test_photos_open_inline_and_other_files_download(client, users, shipped):
    photo, pdf = Attachment.objects.filter(event__order=shipped).order_by("id")
    client.force_login(users["fin1"])

    response = client.get(download_url(shipped, photo))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == png_bytes()

    response = client.get(download_url(shipped, pdf))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == PDF


@pytest.mark.django_db
def test_an_attachment_is_only_served_under_its_own_order(client, users, shipped, make_order):
    other = make_order("paid")
    photo = Attachment.objects.filter(event__order=shipped).first()
    client.force_login(users["ops1"])
    assert client.get(download_url(other, photo)).status_code == 404
    assert client.get(reverse("orders:attachment_download", args=[shipped.number, 999_999])).status_code == 404
    assert client.get(reverse("orders:attachment_download", args=[shipped.number.lower(), photo.pk])).status_code == 200


LINES = [
    {"sku": "TEA-01", "name": "龙井 250g", "quantity": 2, "unit_price": "88.00", "discount": "6.00"},
    {"sku": "SAMPLE", "name": "试用装", "quantity": 1, "unit_price": "0"},
]


@pytest.mark.django_db
def test_the_page_shows_what_is_in_the_order_and_the_buyer_remark(client, users, make_order):
    order = make_order("paid", amount="180.00", shipping_fee="10.00", lines=LINES, buyer_remark="不要发韵达")
    client.force_login(users["cs1"])
    html = client.get(timeline_url(order)).content.decode()
    section = html[html.index('id="lines"') : html.index("</section>", html.index('id="lines"'))]
    assert "What is in the order: 3 items" in section
    assert "TEA-01" in section and "龙井 250g" in section and "−6.00" in section and "170.00" in section
    assert 'class="tl-line-gift"' in section and "180.00 CNY" in section and "10.00" in section
    assert "不要发韵达" in html and "tl-warning" not in section


@pytest.mark.django_db
def test_lines_that_did_not_add_up_are_said_on_the_page(client, users):
    from orders.services.intake import order_intake

    result = order_intake(
        channel="shopify",
        external_id="77",
        fields={"amount": "150.00", "currency": "CNY"},
        paid=True,
        cancelled=False,
        source_note="",
        lines=LINES,
        lines_must_add_up=False,
    )
    client.force_login(users["ops1"])
    html = client.get(timeline_url(result.order)).content.decode()
    assert 'class="tl-warning"' in html and "but the order&#x27;s amount is 150.00" in html


@pytest.mark.django_db
def test_an_order_without_lines_has_no_lines_section(client, users, shipped):
    client.force_login(users["cs1"])
    assert 'id="lines"' not in client.get(timeline_url(shipped)).content.decode()
