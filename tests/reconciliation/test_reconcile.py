"""`manage.py reconcile`: every difference kind, GBK and XLSX input, bad files, --fix and its
refusals, the report, the JSON counts and the recorded run."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zoneinfo

import pytest
from django.core.management import CommandError, call_command

from orders.models import Order, OrderEvent
from reconciliation.models import ReconciliationRun, SourceMapping
from reconciliation.services import mapping_problems

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ORDERED = dt.datetime(2026, 1, 28, 10, 0, tzinfo=SHANGHAI)


def write_csv(path, header, rows, encoding="utf-8"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def run(*args):
    out = io.StringIO()
    call_command("reconcile", *[str(a) for a in args], stdout=out, stderr=io.StringIO())
    return out.getvalue()


def tracking_of(order):
    return order.shipments.order_by("-sequence").first().tracking_number


def states(*orders):
    return [Order.objects.get(pk=o.pk).state for o in orders]


@pytest.fixture
def carrier_hub(make_order):
    return {
        "shipped": make_order("shipped"),
        "picked_up": make_order("picked_up"),
        "delivered": make_order("delivered"),
        "not_in_file": make_order("picked_up"),
    }


def carrier_file(tmp_path, hub, name="sf.csv"):
    return write_csv(
        tmp_path / name,
        ["运单号", "状态", "备注"],
        [
            [tracking_of(hub["shipped"]), "已签收", ""],  # delivered: the hub is behind → fixable
            [tracking_of(hub["picked_up"]), "运输中", ""],  # matches
            [tracking_of(hub["delivered"]), "运输中", ""],  # the hub is ahead → not fixable
            ["SF99999999999", "已签收", ""],  # not in the hub
        ],
    )


def test_carrier_without_fix_reports_and_changes_nothing(tmp_path, carrier_hub):
    path = carrier_file(tmp_path, carrier_hub)
    before = states(*carrier_hub.values())
    events = OrderEvent.objects.count()
    report = tmp_path / "out.csv"

    out = run(path, "--source", "carrier", "--report", report)

    assert states(*carrier_hub.values()) == before
    assert OrderEvent.objects.count() == events
    assert "Nothing was changed" in out
    recorded = ReconciliationRun.objects.get()
    assert recorded.source == "carrier" and recorded.file_name == "sf.csv" and len(recorded.file_sha256) == 64
    assert recorded.run_by is None and recorded.error == "" and recorded.finished_at
    assert recorded.rows_read == 4 and recorded.orders_compared == 3
    assert recorded.status_compared == 3 and recorded.status_matched == 1
    assert recorded.differences["missing_in_hub"] == 1
    assert recorded.differences["status_mismatch"] == 2
    assert recorded.differences["missing_in_source"] == 1  # the picked-up order the carrier did not list
    rows = list(csv.DictReader(report.read_text(encoding="utf-8-sig").splitlines()))
    kinds = {(r["kind"], r["order"]) for r in rows}
    assert ("status_mismatch", carrier_hub["shipped"].number) in kinds
    assert ("missing_in_source", carrier_hub["not_in_file"].number) in kinds
    mismatch = next(r for r in rows if r["order"] == carrier_hub["delivered"].number)
    assert (mismatch["source_value"], mismatch["hub_value"], mismatch["row"]) == ("运输中", "delivered", "4")


def test_carrier_fix_delivers_as_the_system_and_lists_refusals(tmp_path, carrier_hub, users):
    path = carrier_file(tmp_path, carrier_hub)

    report = tmp_path / "out.csv"
    out = run(path, "--source", "carrier", "--fix", "--user", "ops1", "--report", report)

    recorded = ReconciliationRun.objects.get()
    assert recorded.run_by == users["ops1"] and recorded.fix
    assert recorded.fixed == 1 and recorded.not_fixed == 1
    shipped = Order.objects.get(pk=carrier_hub["shipped"].pk)
    assert shipped.state == "delivered"
    event = shipped.events.latest("id")
    assert event.action == "deliver" and event.actor is None and event.actor_role == "system"
    assert event.note.startswith("reconcile sf.csv row 2")
    assert event.data == {
        "reconciliation_run": recorded.pk,
        "source": "carrier",
        "file": "sf.csv",
        "row": 2,
        "applied_by": "ops1",
    }
    assert Order.objects.get(pk=carrier_hub["delivered"].pk).state == "delivered"
    assert "Fixed 1" in out and "Not fixed 1" in out
    assert f"row 4: {carrier_hub['delivered'].number}: no safe correction" in out
    rows = list(csv.DictReader(report.read_text(encoding="utf-8-sig").splitlines()))
    assert {(r["kind"], r["row"], r["order"]) for r in rows if r["kind"] in ("fixed", "not_fixed")} == {
        ("fixed", "2", carrier_hub["shipped"].number),
        ("not_fixed", "4", carrier_hub["delivered"].number),
    }


def test_unknown_user_is_refused_before_anything(tmp_path, carrier_hub):
    path = carrier_file(tmp_path, carrier_hub)
    with pytest.raises(CommandError, match="--user nobody: no such user"):
        run(path, "--source", "carrier", "--fix", "--user", "nobody")
    assert not ReconciliationRun.objects.exists()


def test_fix_refused_when_the_state_machine_does_not_allow_it(tmp_path, make_order):
    # The platform says closed, but the hub has shipped it already: cancel is not allowed.
    shipped = make_order("shipped", channel="taobao", external_id="38001", ordered_at=ORDERED)
    path = write_csv(
        tmp_path / "tb.csv",
        ["订单编号", "订单状态", "买家实际支付金额", "物流单号", "订单创建时间"],
        [["38001", "交易关闭", "199.00", tracking_of(shipped), "2026-01-28 10:00:00"]],
    )
    out = run(path, "--source", "platform", "--fix")
    assert Order.objects.get(pk=shipped.pk).state == "shipped"
    assert "state machine does not allow" in out
    assert ReconciliationRun.objects.get().not_fixed == 1


def test_platform_gbk_every_kind_and_cancel_fix(tmp_path, make_order):
    paid = make_order("paid", channel="taobao", external_id="38101", ordered_at=ORDERED)
    wrong_amount = make_order("reviewed", channel="taobao", external_id="38102", ordered_at=ORDERED, amount="88.00")
    shipped = make_order("shipped", channel="taobao", external_id="38103", ordered_at=ORDERED)
    forgotten = make_order("paid", channel="taobao", external_id="38104", ordered_at=ORDERED)
    make_order("paid", channel="taobao", external_id="38105", ordered_at=ORDERED - dt.timedelta(days=30))
    path = write_csv(
        tmp_path / "淘宝订单.csv",
        ["订单编号", "订单状态", "买家实际支付金额", "物流单号", "订单创建时间", "收货人姓名"],
        [
            ["38101", "交易关闭", "199.00", "", "2026-01-28 10:00:00", "张明"],
            ["38102", "买家已付款,等待卖家发货", "￥98.00", "", "2026-01-28 10:00:00", "李雷"],
            ["38103", "卖家已发货", "199.00", "ZT0000000001", "2026-01-28 10:00:00", "王芳"],
            ["38199", "等待买家付款", "10.00", "", "2026-01-28 11:00:00", "赵四"],
        ],
        encoding="gbk",
    )

    data = json.loads(run(path, "--source", "platform", "--json", "--fix"))

    assert data["encoding"] == "gb18030"
    assert data["rows_read"] == 4 and data["orders_compared"] == 3
    assert data["differences"] == {
        "missing_in_hub": 1,
        # 38104 is in the window; 38105 was ordered a month before the file's first order.
        "missing_in_source": 1,
        "status_mismatch": 1,
        "amount_mismatch": 1,
        "payment_mismatch": 0,
        "tracking_mismatch": 1,
        "unreadable_value": 0,
    }
    assert data["status_compared"] == 3 and data["status_matched"] == 2
    assert data["fixed"] == 1 and data["not_fixed"] == 2  # the amount and the tracking number
    assert Order.objects.get(pk=paid.pk).state == "cancelled"
    assert states(wrong_amount, shipped, forgotten) == ["reviewed", "shipped", "paid"]
    assert Order.objects.get(pk=wrong_amount.pk).amount == wrong_amount.amount
    assert tracking_of(shipped) != "ZT0000000001"


def test_finance_payment_mismatch_pay_fix_and_refusal(tmp_path, make_order):
    unpaid = make_order("submitted")
    paid = make_order("paid")
    path = write_csv(
        tmp_path / "ledger.csv",
        ["订单号", "金额", "收款状态"],
        [[unpaid.number, "199.00", "已收款"], [paid.number, "199", "已退款"]],
    )
    out = run(path, "--source", "finance", "--fix")
    recorded = ReconciliationRun.objects.get()
    assert recorded.differences["payment_mismatch"] == 2
    assert recorded.differences["amount_mismatch"] == 0
    assert states(unpaid, paid) == ["paid", "paid"]
    assert recorded.fixed == 1 and recorded.not_fixed == 1
    assert "no safe correction" in out


def test_wms_xlsx(tmp_path, make_order):
    openpyxl = pytest.importorskip("openpyxl")
    packed = make_order("packed")
    shipped = make_order("shipped")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["订单号", "出库状态", "运单号"])
    sheet.append([packed.number, "待打包", None])
    sheet.append([shipped.number, "已出库", tracking_of(shipped)])
    sheet.append([None, None, None])
    path = tmp_path / "wms.xlsx"
    workbook.save(path)

    data = json.loads(run(path, "--source", "wms", "--json"))

    assert data["encoding"] == "xlsx"
    assert data["rows_read"] == 2 and data["status_matched"] == 2
    assert sum(data["differences"].values()) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("订单号,状态\nOH1,已出库\n".encode(), "the header has no column 出库状态 (status)"),
        (b"\xff\xfe\xff\x00\x81", "neither UTF-8 nor GBK"),
        (b"PK\x03\x04 this is not a workbook", "cannot read the workbook"),
        (b"", "the file is empty"),
    ],
)
def test_bad_files_name_the_problem_and_change_nothing(tmp_path, make_order, content, message):
    order = make_order("shipped")
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    events = OrderEvent.objects.count()
    with pytest.raises(CommandError) as raised:
        run(path, "--source", "wms", "--fix")
    assert message in str(raised.value) and "Nothing in the hub was changed" in str(raised.value)
    assert OrderEvent.objects.count() == events and states(order) == ["shipped"]
    recorded = ReconciliationRun.objects.get()
    assert message in recorded.error and recorded.fixed == 0


def test_undecodable_bytes_after_the_first_chunk_change_nothing(tmp_path, make_order):
    # Every fix is applied only once the whole file has been read.
    order = make_order("shipped")
    good = f"运单号,状态\n{tracking_of(order)},已签收\n".encode()
    filler = b"".join(b"SF%011d,\xe8\xbf\x90\xe8\xbe\x93\xe4\xb8\xad\n" % i for i in range(60_000))
    path = tmp_path / "late.csv"
    path.write_bytes(good + filler + b"SF1,\xff\xff\n")
    with pytest.raises(CommandError, match=r"line 60003: bytes that are not valid utf-8 text"):
        run(path, "--source", "carrier", "--fix")
    assert states(order) == ["shipped"]


def test_mapping_validation():
    assert mapping_problems(columns={"number": "订单号"}, statuses={"已出库": "shipped"}, payment_statuses={}) == {}
    problems = mapping_problems(
        columns={"colour": "颜色"}, statuses={"已出库": "gone"}, payment_statuses={"已收款": ["paid", "x"]}
    )
    assert set(problems) == {"columns", "statuses", "payment_statuses"}
    assert "colour" in problems["columns"]
    assert "order by" in mapping_problems(columns={"status": "状态"}, statuses={}, payment_statuses={})["columns"]


@pytest.mark.django_db
def test_default_mappings_installed():
    assert set(SourceMapping.objects.filter(is_default=True).values_list("source", flat=True)) == {
        "platform",
        "wms",
        "finance",
        "carrier",
    }
    for mapping in SourceMapping.objects.all():
        assert (
            mapping_problems(
                columns=mapping.columns, statuses=mapping.statuses, payment_statuses=mapping.payment_statuses
            )
            == {}
        )
