"""Bulk-shipping upload files (批量发货) for the channels without an API here: made per shop,
each shipment in one file only, kept and downloadable again from the admin."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from integrations.models import ShipmentUploadFile, ShipmentUploadLine, UploadScope
from integrations.services.upload_files import UploadFileRefused, shipment_upload_file_create
from orders.models import Shipment
from orders.services.transition import order_transition
from tests.factories import ShipmentFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
_numbers = itertools.count(1)


def shipped(make_order, users, *, channel="taobao", carrier="sf", external_id=None, at=None):
    n = next(_numbers)
    order = make_order(
        "packed", channel=channel, external_id=f"{channel.upper()}{n:08d}" if external_id is None else external_id
    )
    tracking = f"{carrier.upper()}77{n:010d}"
    shipment = ShipmentFactory(order=order, carrier=carrier, tracking_number=tracking, actor=users["wh1"], at=at)
    return order, shipment


def xlsx_rows(upload_file) -> list[tuple]:
    with upload_file.file.open("rb") as f:
        sheet = load_workbook(io.BytesIO(f.read())).active
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


@pytest.mark.django_db
def test_a_taobao_file_lists_the_shops_new_shipments_once(make_order, users):
    first, first_shipment = shipped(make_order, users, carrier="sf")
    second, second_shipment = shipped(make_order, users, carrier="zto")
    result = shipment_upload_file_create(shop_id=first.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    made = result.upload_file
    assert made.line_count == 2 and made.file_name.endswith(".xlsx") and made.created_by == users["wh1"]
    assert xlsx_rows(made) == [
        ("订单编号", "物流公司", "运单号"),
        (first.external_id, "顺丰速运", first_shipment.tracking_number),
        (second.external_id, "中通快递", second_shipment.tracking_number),
    ]
    assert set(ShipmentUploadLine.objects.values_list("shipment_id", flat=True)) == {
        first_shipment.pk,
        second_shipment.pk,
    }
    # Nothing new: refused, and no empty file is kept.
    with pytest.raises(UploadFileRefused, match="Nothing new to export"):
        shipment_upload_file_create(shop_id=first.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    assert ShipmentUploadFile.objects.count() == 1


@pytest.mark.django_db
def test_a_reshipment_goes_in_the_next_file(make_order, users):
    order, _shipment = shipped(make_order, users)
    shipment_upload_file_create(shop_id=order.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    event = order_transition(
        order.pk, "reship", actor=users["wh1"], carrier="zto", tracking_number="ZTO7700000099", note="破损重发"
    )
    made = shipment_upload_file_create(shop_id=order.shop_id, scope=UploadScope.SINCE_LAST, actor=users["ops1"])
    assert xlsx_rows(made.upload_file)[1:] == [(order.external_id, "中通快递", "ZTO7700000099")]
    assert Shipment.objects.get(event=event).upload_lines.get().upload_file == made.upload_file


@pytest.mark.django_db
def test_for_a_day_takes_that_shanghai_days_shipments(make_order, users):
    # 23:30 in Shanghai on the 27th is 15:30 UTC; 00:30 on the 28th is 16:30 UTC the day before.
    late = dt.datetime(2026, 1, 27, 23, 30, tzinfo=SHANGHAI)
    early = dt.datetime(2026, 1, 28, 0, 30, tzinfo=SHANGHAI)
    order, on_27th = shipped(make_order, users, at=late)
    _other, on_28th = shipped(make_order, users, at=early)
    result = shipment_upload_file_create(
        shop_id=order.shop_id, scope=UploadScope.DAY, day=dt.date(2026, 1, 28), actor=users["wh1"]
    )
    assert [row[2] for row in xlsx_rows(result.upload_file)[1:]] == [on_28th.tracking_number]
    assert not ShipmentUploadLine.objects.filter(shipment=on_27th).exists()
    with pytest.raises(UploadFileRefused, match="on 2026-01-28"):
        shipment_upload_file_create(
            shop_id=order.shop_id, scope=UploadScope.DAY, day=dt.date(2026, 1, 28), actor=users["wh1"]
        )
    with pytest.raises(UploadFileRefused, match="Choose the day"):
        shipment_upload_file_create(shop_id=order.shop_id, scope=UploadScope.DAY, actor=users["wh1"])


@pytest.mark.django_db
def test_pinduoduo_takes_a_utf8_csv(make_order, users):
    order, shipment = shipped(make_order, users, channel="pdd", carrier="cainiao")
    made = shipment_upload_file_create(shop_id=order.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    with made.upload_file.file.open("rb") as f:
        content = f.read()
    assert content.startswith("\ufeff".encode())
    lines = content.decode("utf-8-sig").splitlines()
    # Pinduoduo lists no Cainiao company: "other", the operator picks it on upload.
    assert lines == ["订单号,快递公司,快递单号", f"{order.external_id},其他,{shipment.tracking_number}"]
    assert made.upload_file.content_type == "text/csv"


@pytest.mark.django_db
def test_jd_and_douyin_spell_the_carriers_their_way(make_order, users):
    jd, _ = shipped(make_order, users, channel="jd", carrier="zto")
    douyin, _ = shipped(make_order, users, channel="douyin", carrier="sf")
    jd_file = shipment_upload_file_create(shop_id=jd.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    douyin_file = shipment_upload_file_create(shop_id=douyin.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    assert xlsx_rows(jd_file.upload_file)[0] == ("订单号", "物流公司", "运单号")
    assert xlsx_rows(jd_file.upload_file)[1][1] == "中通速递"
    assert xlsx_rows(douyin_file.upload_file)[1][1] == "顺丰速运"


@pytest.mark.django_db
def test_a_shopify_shop_is_refused_and_nothing_changes(make_order, users):
    order, _ = shipped(make_order, users, channel="shopify", external_id="820982911946154599")
    with pytest.raises(UploadFileRefused, match="Shopify's API"):
        shipment_upload_file_create(shop_id=order.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    manual, _ = shipped(make_order, users, channel="manual")
    with pytest.raises(UploadFileRefused, match="no bulk-shipping template"):
        shipment_upload_file_create(shop_id=manual.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    with pytest.raises(UploadFileRefused, match="no active shop"):
        shipment_upload_file_create(shop_id=99999, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    assert not ShipmentUploadFile.objects.exists() and not ShipmentUploadLine.objects.exists()


@pytest.mark.django_db
def test_orders_without_a_channel_order_id_are_left_out_and_named(make_order, users):
    kept, kept_shipment = shipped(make_order, users)
    nameless, nameless_shipment = shipped(make_order, users, external_id="")
    result = shipment_upload_file_create(shop_id=kept.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    assert result.skipped == [nameless.number]
    assert [row[2] for row in xlsx_rows(result.upload_file)[1:]] == [kept_shipment.tracking_number]
    assert not ShipmentUploadLine.objects.filter(shipment=nameless_shipment).exists()
    with pytest.raises(UploadFileRefused, match=nameless.number):
        shipment_upload_file_create(shop_id=kept.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])


@pytest.mark.django_db
def test_the_warehouse_makes_and_downloads_a_file_from_the_admin(client, make_order, users):
    order, shipment = shipped(make_order, users)
    client.force_login(users["wh1"])
    changelist = client.get(reverse("admin:integrations_shipmentuploadfile_changelist"))
    assert changelist.status_code == 200
    make_url = reverse("admin:integrations_shipmentuploadfile_make")
    assert make_url in changelist.content.decode()
    assert client.get(make_url).status_code == 200
    response = client.post(make_url, {"shop": order.shop_id, "scope": "since_last"})
    made = ShipmentUploadFile.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{made.pk}/change/")
    page = client.get(response["Location"]).content.decode()
    assert shipment.tracking_number in page
    download = client.get(reverse("admin:integrations_shipmentuploadfile_download", args=[made.pk]))
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    with made.file.open("rb") as f:
        assert body == f.read()
    # Again: nothing new, a clear message, no second file.
    again = client.post(make_url, {"shop": order.shop_id, "scope": "since_last"}, follow=True)
    assert "Nothing new to export" in again.content.decode()
    assert ShipmentUploadFile.objects.count() == 1


@pytest.mark.django_db
def test_customer_service_may_not_make_files(client, make_order, users):
    order, _ = shipped(make_order, users)
    client.force_login(users["cs1"])
    make_url = reverse("admin:integrations_shipmentuploadfile_make")
    assert client.post(make_url, {"shop": order.shop_id, "scope": "since_last"}).status_code == 403
    assert not ShipmentUploadFile.objects.exists()
    client.force_login(users["ops1"])
    assert client.post(make_url, {"shop": order.shop_id, "scope": "since_last"}).status_code == 302


LINES = [
    {"platform_line_id": "L1", "sku": "TEA-1", "name": "龙井 250g", "quantity": 2, "unit_price": "40.00"},
    {"platform_line_id": "L2", "sku": "CUP-2", "name": "茶杯", "quantity": 1, "unit_price": "34.00"},
]


def to_packed(order, users, warehouses):
    order_transition(order.pk, "approve", actor=users["cs1"])
    order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouses[0])
    order_transition(order.pk, "pack", actor=users["wh1"])


@pytest.mark.django_db
def test_a_part_split_off_is_written_under_its_originals_platform_order(users, warehouses):
    from orders.services.split_merge import order_split
    from tests.factories import channel_order

    order = channel_order("TB-SPLIT-1", channel="taobao", lines=LINES, amount="114.00")
    _tea, cup = order.lines.order_by("position")
    part = order_split(order_id=order.pk, actor=users["cs1"], lines={cup.pk: 1})
    to_packed(part, users, warehouses)
    order_transition(part.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF7700000900")
    made = shipment_upload_file_create(shop_id=order.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    assert xlsx_rows(made.upload_file)[1:] == [("TB-SPLIT-1", "顺丰速运", "SF7700000900")]
    assert made.skipped == []


@pytest.mark.django_db
def test_a_merged_parcel_is_written_for_each_platform_order_it_carries(users, warehouses):
    from orders.services.split_merge import order_merge
    from tests.factories import channel_order

    buyer = {"buyer_email": "merge@example.com", "channel": "taobao"}
    first = channel_order("TB-MERGE-1", lines=LINES[:1], amount="80.00", **buyer)
    second = channel_order("TB-MERGE-2", lines=LINES[1:], amount="34.00", **buyer)
    kept = order_merge(order_ids=[first.pk, second.pk], actor=users["cs1"])
    to_packed(kept, users, warehouses)
    event = order_transition(kept.pk, "ship", actor=users["wh1"], carrier="zto", tracking_number="ZTO7700000901")
    made = shipment_upload_file_create(shop_id=kept.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])
    assert xlsx_rows(made.upload_file)[1:] == [
        ("TB-MERGE-1", "中通快递", "ZTO7700000901"),
        ("TB-MERGE-2", "中通快递", "ZTO7700000901"),
    ]
    assert made.upload_file.line_count == 1
    assert Shipment.objects.get(event=event).upload_lines.count() == 2
    with pytest.raises(UploadFileRefused, match="Nothing new"):
        shipment_upload_file_create(shop_id=kept.shop_id, scope=UploadScope.SINCE_LAST, actor=users["wh1"])


@pytest.mark.django_db
def test_the_command_makes_the_file_and_refuses_clearly(make_order, users, tmp_path):
    from django.core.management import CommandError, call_command

    order, shipment = shipped(make_order, users, channel="douyin")
    call_command("shipment_upload_file", "--shop", order.shop.code, "--out", str(tmp_path))
    made = ShipmentUploadFile.objects.get()
    assert made.created_by is None and (tmp_path / made.file_name).exists()
    assert ShipmentUploadLine.objects.get().shipment == shipment
    with pytest.raises(CommandError, match="Nothing new"):
        call_command("shipment_upload_file", "--shop", order.shop.code)
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("shipment_upload_file", "--shop", order.shop.code, "--day", "28/01/2026")
    with pytest.raises(CommandError, match="no shop"):
        call_command("shipment_upload_file", "--shop", "nope")
