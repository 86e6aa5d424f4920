"""`manage.py import_orders`: every row checked first, all or nothing, idempotent."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from integrations.channels.csv_import import CHANNEL_COLUMNS, import_file_read
from orders.exceptions import InvalidActionData
from orders.models import Order, OrderEvent, OutboxMessage
from orders.services.intake import IntakeItem, order_intake, order_intake_batch_in_transaction

TAOBAO_HEADER = (
    "订单编号,买家会员名,买家实付,订单状态,收货人姓名,收货地址,联系电话,联系手机,订单创建时间,订单付款时间,宝贝标题"
)


def database_state():
    return {
        "orders": sorted(Order.objects.values_list("channel", "external_id", "state", "version")),
        "events": OrderEvent.objects.count(),
        "history": Order.history.count(),
        "outbox": OutboxMessage.objects.count(),
    }


EMPTY = {"orders": [], "events": 0, "history": 0, "outbox": 0}


def write(path, text: str, *, encoding="utf-8"):
    """A CSV file from its text: one line per row, as a spreadsheet program saves it."""
    path.write_bytes(text.strip("\n").replace("\n", "\r\n").encode(encoding) + b"\r\n")
    return path


def run(path, channel, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_orders", str(path), "--channel", channel, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(path, channel, *args):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_orders", str(path), "--channel", channel, *args, stdout=out, stderr=err)
    return str(exc.value), err.getvalue()


MANUAL_CSV = """
external_id,amount,currency,ordered_at,buyer_email,recipient_name,recipient_phone,ship_province,ship_city,ship_district,ship_address,ship_postcode,paid,cancelled
M-1,199.00,,2026-01-28 14:05:00,a@example.com,刘芳,13912345678,浙江省,杭州市,余杭区,文一西路 1888 号,311100,yes,
M-2,"¥1,299.00",cny,2026-01-28T15:00:00+08:00,,陈晨,13900000000,上海市,上海市,浦东新区,张江路 88 弄,,no,no
M-3,88,USD,2026/01/28 16:00,,Ada Lovelace,,,,,1 Main St,,是,是
"""


@pytest.mark.django_db
def test_a_good_csv_is_imported(tmp_path):
    out, err = run(write(tmp_path / "orders.csv", MANUAL_CSV), "manual")
    assert "3 created, 0 updated, 0 unchanged" in out and err == ""
    one, two, three = (Order.objects.get(external_id=f"M-{i}") for i in (1, 2, 3))
    assert (one.state, one.amount, one.currency, one.buyer_email) == ("paid", Decimal("199.00"), "CNY", "a@example.com")
    assert (one.recipient_name, one.ship_province, one.ship_district) == ("刘芳", "浙江省", "余杭区")
    assert (one.ship_address, one.ship_postcode, one.recipient_phone) == ("文一西路 1888 号", "311100", "13912345678")
    assert one.ordered_at.isoformat() == "2026-01-28T06:05:00+00:00"  # naive times are Shanghai time
    assert (two.state, two.amount, two.priority) == ("submitted", Decimal("1299.00"), 1)
    assert (three.state, three.currency, three.version) == ("cancelled", "USD", 3)
    timeline = list(three.events.order_by("id").values_list("action", "actor_role", "order_version"))
    assert timeline == [("created", "system", 1), ("pay", "system", 2), ("cancel", "system", 3)]
    cancel = three.events.get(action="cancel")
    assert cancel.note == "Imported from orders.csv, row 4 · 渠道已取消 / cancelled on the channel"
    assert not OrderEvent.objects.exclude(actor=None).exists()
    history = one.history.order_by("history_id").values_list("history_type", "state", "version")
    assert list(history) == [("+", "submitted", 1), ("~", "paid", 2)]
    assert len(set(Order.objects.values_list("number", flat=True))) == 3


@pytest.mark.django_db
def test_a_gbk_csv_with_chinese_headers(tmp_path):
    text = f"""
{TAOBAO_HEADER}
3012345678901234567,tb_buyer1,199.00,买家已付款，等待卖家发货,刘芳,浙江省 杭州市 余杭区 仓前街道文一西路1888号(311100),,13912345678,2026-01-28 14:05:00,2026-01-28 14:06:10,保温杯
="3012345678901234568",tb_buyer2,59.90,等待买家付款,陈晨,上海 上海市 浦东新区 张江路 88 弄 6 号,021-55550000,,2026-01-28 15:00:00,,茶叶
3012345678901234569,tb_buyer3,88.00,交易关闭,杨洋,北京 北京市 朝阳区 望京街 1 号,,13900000001,2026-01-28 16:00:00,,杯垫
"""  # noqa: E501
    out, _err = run(write(tmp_path / "淘宝订单.csv", text, encoding="gbk"), "taobao")
    assert "gb18030" in out and "3 created" in out
    paid = Order.objects.get(external_id="3012345678901234567")
    assert (paid.channel, paid.state, paid.amount, paid.currency) == ("taobao", "paid", Decimal("199.00"), "CNY")
    assert (paid.recipient_name, paid.ship_province, paid.ship_city, paid.ship_district) == (
        "刘芳",
        "浙江省",
        "杭州市",
        "余杭区",
    )
    assert (paid.ship_address, paid.ship_postcode, paid.recipient_phone) == (
        "仓前街道文一西路1888号",
        "311100",
        "13912345678",
    )
    unpaid = Order.objects.get(external_id="3012345678901234568")  # the ="…" wrapper is gone
    assert (unpaid.state, unpaid.recipient_phone, unpaid.ship_address) == (
        "submitted",
        "021-55550000",
        "张江路 88 弄 6 号",
    )
    closed = Order.objects.get(external_id="3012345678901234569")
    assert closed.state == "cancelled"
    assert list(closed.events.values_list("action", flat=True)) == ["created", "cancel"]


@pytest.mark.django_db
def test_a_utf8_bom_shopify_export(tmp_path):
    text = """
Name,Email,Financial Status,Currency,Total,Created at,Id,Cancelled at,Shipping Name,Shipping Address1,Shipping Address2,Shipping City,Shipping Province,Shipping Zip,Shipping Phone,Phone
#1001,a@example.com,paid,CNY,199.00,2026-01-28 14:05:00 +0800,820982911946154508,,张伟,张江路 88 弄,浦东新区,上海市,上海市,201203,13900139000,
#1002,b@example.com,pending,USD,20.00,2026-01-28 15:05:00 -0500,820982911946154509,,Ada Lovelace,1 Main St,,Boston,MA,02110,,+16175550100
"""  # noqa: E501
    out, _err = run(write(tmp_path / "orders_export.csv", text, encoding="utf-8-sig"), "shopify")
    assert "utf-8-sig" in out and "2 created" in out
    order = Order.objects.get(external_id="820982911946154508")
    assert (order.state, order.recipient_name, order.ship_district) == ("paid", "张伟", "浦东新区")
    assert order.ordered_at.isoformat() == "2026-01-28T06:05:00+00:00"
    other = Order.objects.get(external_id="820982911946154509")
    assert (other.state, other.currency, other.buyer_phone, other.ship_postcode) == (
        "submitted",
        "USD",
        "+16175550100",
        "02110",
    )


@pytest.mark.django_db
def test_an_xlsx_file(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Amazon-Order-ID", "Purchase-Date", "Order-Status", "Order-Total", "Currency", "Buyer-Email"])
    sheet.append(["114-3941689-8772232", datetime(2026, 1, 28, 14, 5), "Shipped", 25.5, "USD", "x@example.com"])
    sheet.append(["114-3941689-8772233", "2026-01-28T09:00:00Z", "Pending", 12, None, None])
    sheet.append([None, None, None, None, None, None])  # blank rows are skipped
    sheet.append(["114-3941689-8772234", "2026-01-28T10:00:00-08:00", "Canceled", "0.00", "USD", ""])
    path = tmp_path / "amazon.xlsx"
    workbook.save(path)
    out, _err = run(path, "amazon")
    assert "xlsx" in out and "3 created" in out
    shipped = Order.objects.get(external_id="114-3941689-8772232")
    assert (shipped.state, shipped.amount, shipped.currency) == ("paid", Decimal("25.50"), "USD")
    pending = Order.objects.get(external_id="114-3941689-8772233")
    assert (pending.state, pending.amount, pending.currency) == ("submitted", Decimal("12.00"), "USD")
    assert Order.objects.get(external_id="114-3941689-8772234").state == "cancelled"


@pytest.mark.django_db
def test_a_tab_separated_amazon_report(tmp_path):
    text = """
amazon-order-id\tpurchase-date\torder-status\torder-total\tcurrency\tship-address-1\tship-address-2\tship-city\tship-state\tship-postal-code\trecipient-name
114-1\t2026-01-28T14:05:00+00:00\tUnshipped\t10.00\tUSD\t1 Main St\tApt 2\tBoston\tMA\t02110\tAda Lovelace
"""
    run(write(tmp_path / "report.txt", text), "amazon")
    order = Order.objects.get()
    assert (order.ship_address, order.ship_city, order.ship_province, order.ship_postcode, order.state) == (
        "1 Main St Apt 2",
        "Boston",
        "MA",
        "02110",
        "paid",
    )


@pytest.mark.django_db
def test_bad_rows_are_all_reported_and_nothing_is_imported(tmp_path, make_order):
    existing = make_order("paid", channel="taobao", external_id="TB-EXISTING")
    before = database_state()
    text = f"""
{TAOBAO_HEADER}
TB-GOOD-1,b,10.00,等待买家付款,刘芳,浙江省 杭州市 余杭区 文一西路 1 号,,139,2026-01-28 14:05:00,,
,b,10.00,等待买家付款,刘芳,,,,2026-01-28 14:05:00,,
TB-2,b,abc,等待买家付款,刘芳,,,,2026-01-28 14:05:00,,
TB-3,b,10.00,等待买家付款,刘芳,,,,2026-13-45 99:00,,
TB-4,b,-1.00,外星状态,刘芳,,,,2026-01-28 14:05:00,,
TB-GOOD-1,b,10.00,等待买家付款,刘芳,,,,2026-01-28 14:05:00,,
TB-5,b,10.00,等待买家付款,刘芳,浙江省 杭州市 余杭区 {"长" * 201},,,2026-01-28 14:05:00,,
TB-6,b,,等待买家付款,{"x" * 61},,,,,,
TB-GOOD-2,b,10.00,交易成功,刘芳,,,,2026-01-28 14:05:00,,
"""
    message, report = run_failing(write(tmp_path / "bad.csv", text), "taobao")
    assert report.splitlines() == [
        "bad.csv: these rows cannot be imported (10 problem(s)):",
        "  row 3, 订单编号: missing",
        "  row 4, 买家实付: “abc” is not an amount.",
        "  row 5, 订单创建时间: “2026-13-45 99:00” is not a date and time",
        "  row 6, 买家实付: The amount must be zero or more, with at most two decimals (got -1.00).",
        "  row 6, 订单状态: unknown status “外星状态”",
        "  row 7, 订单编号: order id TB-GOOD-1 is also on row 2: one row per order",
        "  row 8, 收货地址: At most 200 characters (got 201).",
        "  row 9, 买家实付: missing",
        "  row 9, 收货人姓名: At most 60 characters (got 61).",
        "  row 9, 订单创建时间: missing",
    ]
    assert "10 problem(s) in 7 of 9 rows" in message and "Nothing was imported" in message
    assert database_state() == before
    assert Order.objects.get(pk=existing.pk).version == existing.version


@pytest.mark.django_db
def test_rows_the_hub_would_refuse_are_reported_before_anything_is_written(tmp_path, make_order):
    make_order("shipped", channel="taobao", external_id="TB-SHIPPED")
    before = database_state()
    text = f"""
{TAOBAO_HEADER}
TB-NEW,b,10.00,等待买家付款,刘芳,,,,2026-01-28 14:05:00,,
TB-SHIPPED,b,10.00,交易关闭,刘芳,,,,2026-01-28 14:05:00,,
"""
    message, report = run_failing(write(tmp_path / "late.csv", text), "taobao")
    assert "row 3, 订单状态: Order" in report and "“Cancel order” is not possible" in report
    assert "Nothing was imported" in message
    assert database_state() == before


@pytest.mark.django_db
def test_a_missing_required_column_fails_the_file(tmp_path):
    path = write(tmp_path / "no_amount.csv", "订单编号,订单创建时间\n1,2026-01-28 14:05:00")
    message, _ = run_failing(path, "taobao")
    assert "no column for: amount (买家实付" in message and "Nothing was imported" in message
    assert database_state() == EMPTY


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", ".xls"),
        (b"PK\x03\x04not a zip", "cannot read the workbook"),
        (b"\xff\xfe\x00\xd8\x00\xdc\xff", "neither UTF-8 nor GBK"),
    ],
)
def test_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "file.csv"
    path.write_bytes(content)
    message, _ = run_failing(path, "manual")
    assert expected in message
    assert database_state() == EMPTY


@pytest.mark.django_db
def test_no_such_file(tmp_path):
    message, _ = run_failing(tmp_path / "nope.csv", "manual")
    assert "no such file" in message


@pytest.mark.django_db
def test_reimporting_creates_no_duplicates_and_brings_orders_forward(tmp_path):
    path = write(tmp_path / "orders.csv", MANUAL_CSV)
    run(path, "manual")
    before = database_state()
    out, _ = run(path, "manual")
    assert "0 created, 0 updated, 3 unchanged" in out
    assert database_state() == before
    # The next day's export: M-2 has been paid meanwhile, one order is new.
    text = MANUAL_CSV.replace(",no,no", ",yes,no") + "M-4,5.00,,2026-01-29 09:00:00,,,,,,,,,,\n"
    out, _ = run(write(tmp_path / "orders2.csv", text), "manual")
    assert "1 created, 1 updated, 2 unchanged" in out
    assert Order.objects.count() == 4
    assert Order.objects.get(external_id="M-2").state == "paid"


@pytest.mark.django_db
def test_dry_run_changes_nothing(tmp_path, make_order):
    make_order("submitted", channel="manual", external_id="M-2")
    before = database_state()
    out, _ = run(write(tmp_path / "orders.csv", MANUAL_CSV), "manual", "--dry-run")
    assert "Dry run: would create 2, update 0, leave 1 unchanged. Nothing was changed." in out
    assert database_state() == before
    text = MANUAL_CSV.replace(",no,no", ",yes,no")
    out, _ = run(write(tmp_path / "orders2.csv", text), "manual", "--dry-run")
    assert "would create 2, update 1 (1 to pay), leave 0 unchanged" in out
    assert database_state() == before


@pytest.mark.django_db
def test_an_imported_shopify_order_is_the_one_the_webhooks_update(tmp_path, client, settings):
    from tests.fakes.shopify import shopify_body, shopify_headers, shopify_order

    settings.SHOPIFY_WEBHOOK_SECRET = "s"
    text = (
        "Id,Total,Currency,Created at,Financial Status\n820982911946154508,199.00,CNY,2026-01-28 14:05:00 +0800,pending"
    )
    run(write(tmp_path / "shopify.csv", text), "shopify")
    body = shopify_body(shopify_order(financial_status="paid"))
    response = client.post(
        "/webhooks/shopify/orders", data=body, content_type="application/json", **shopify_headers(body, "s")
    )
    assert response.json()["outcome"] == "updated"
    assert Order.objects.get().state == "paid"


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.django_db
def test_a_progress_counter_on_a_terminal_only(tmp_path):
    path = write(tmp_path / "orders.csv", MANUAL_CSV)
    terminal = Terminal()
    call_command("import_orders", str(path), "--channel", "manual", "--batch-size", "2", stdout=terminal)
    assert "\rImporting: 2/3 (66%)" in terminal.getvalue() and "\rImporting: 3/3 (100%)" in terminal.getvalue()
    out, _ = run(path, "manual")
    assert "\r" not in out


def test_every_channel_documents_its_columns():
    import integrations.channels.csv_import as module

    for channel, spec in CHANNEL_COLUMNS.items():
        assert f"\n{channel} (" in module.__doc__
        for aliases in spec.columns.values():
            assert aliases[0] in module.__doc__, f"{channel}: {aliases[0]} is not documented"


def test_reading_reports_rows_by_spreadsheet_number(tmp_path, settings):
    path = write(tmp_path / "x.csv", "external_id,amount\n,\nA,1\n,2")
    parsed = import_file_read(path, channel="manual")
    assert [r.row for r in parsed.rows] == [3]
    assert [str(e) for e in parsed.errors] == ["row 4, external_id: missing"]


@pytest.mark.django_db
def test_the_bulk_path_leaves_what_the_service_leaves(django_capture_on_commit_callbacks, users):
    """Batch intake of new orders writes the same order rows, history, events and outbox rows as
    order_intake one by one."""
    from django.db import transaction

    from tests.factories import reaction_rule

    for event_type in ("created", "pay", "cancel"):
        reaction_rule(name=event_type, trigger=event_type, role="operations")
    cases = [(None, False), (False, False), (True, False), (None, True), (True, True)]
    fields = {
        "amount": "599.00",
        "currency": "cny",
        "buyer_email": " x@example.com ",
        "recipient_name": " 刘芳 ",
        "ship_city": "杭州市",
        "ordered_at": datetime.fromisoformat("2026-01-28T14:05:00+08:00"),
    }
    with django_capture_on_commit_callbacks() as one_by_one:
        for i, (paid, cancelled) in enumerate(cases):
            order_intake(
                channel="amazon",
                external_id=f"E{i}",
                fields=fields,
                paid=paid,
                cancelled=cancelled,
                source_note=f"note {i}",
                cancel_reason="customer",
            )
    items = [
        IntakeItem(f"E{i}", fields, paid, cancelled, f"note {i}", "customer")
        for i, (paid, cancelled) in enumerate(cases)
    ]
    with django_capture_on_commit_callbacks() as bulk, transaction.atomic():
        results = order_intake_batch_in_transaction(channel="walmart", items=items)
    assert [r.outcome for r in results] == ["created"] * 5

    def record(channel):
        out = []
        # A suspected duplicate names its twin: the same order of the file, a number of its channel.
        orders = Order.objects.filter(channel=channel)
        by_number = dict(orders.values_list("number", "external_id"))
        by_pk = dict(orders.values_list("pk", "external_id"))

        def twin(key, value):
            return by_pk.get(value, by_number.get(value, value)) if key.startswith("twin") else value

        for order in Order.objects.filter(channel=channel).order_by("external_id"):
            row = {
                f: getattr(order, f)
                for f in ("external_id", "state", "version", "amount", "currency", "priority", "buyer_email")
            }
            row |= {f: getattr(order, f) for f in ("recipient_name", "ship_city", "ordered_at", "updated_by_id")}
            row |= {f: getattr(order, f) for f in ("main_status", "payment_status", "cs_owner_id")}
            row["events"] = [
                (
                    e.action,
                    e.from_state,
                    e.to_state,
                    e.actor_id,
                    e.actor_name,
                    e.actor_role,
                    e.order_version,
                    " ".join(by_number.get(word, word) for word in e.note.split(" ")),
                    {k: twin(k, v) for k, v in e.data.items() if k != "channel"},
                    sorted(
                        (m.kind, m.rule_id, m.status, m.idempotency_key == f"event:{e.pk}:rule:{m.rule_id}")
                        for m in e.outbox_messages.all()
                    ),
                )
                for e in order.events.order_by("id")
            ]
            row["history"] = list(
                order.history.order_by("history_id").values_list("history_type", "state", "version", "history_user")
            )
            out.append(row)
        return out

    assert record("walmart") == record("amazon")
    assert OutboxMessage.objects.count() == 2 * (5 + 2 + 2)  # created ×5, pay ×2, cancel ×2
    assert len(one_by_one) == 5 + 2 + 2 and len(bulk) == 1  # one dispatch per event / per batch


@pytest.mark.django_db
def test_a_refusal_during_the_import_rolls_everything_back(tmp_path, make_order, monkeypatch):
    """The check against the hub passed, then someone shipped an order before the import got to
    it: the import's transaction refuses it and nothing of the file is kept."""
    from integrations.services import imports

    make_order("shipped", channel="manual", external_id="M-3")
    monkeypatch.setattr(imports, "_check_against_hub", lambda channel, rows, parsed, shop: ({}, []))
    before = database_state()
    message, _ = run_failing(write(tmp_path / "orders.csv", MANUAL_CSV), "manual", "--batch-size", "2")
    assert message.startswith("orders.csv: row 4: Order ") and "“Cancel order” is not possible" in message
    assert "nothing was imported" in message
    assert database_state() == before


@pytest.mark.django_db
def test_order_intake_is_idempotent_and_never_moves_back(users):
    arguments = {
        "channel": "taobao",
        "external_id": "TB-1",
        "fields": {"amount": "10.00"},
        "cancelled": False,
        "source_note": "test",
    }
    first = order_intake(paid=True, **arguments)
    assert (first.outcome, first.actions, first.order.state) == ("created", ("pay",), "paid")
    before = database_state()
    again = order_intake(paid=True, **arguments)
    assert (again.outcome, again.actions, again.order.pk) == ("unchanged", (), first.order.pk)
    assert order_intake(paid=False, **arguments).outcome == "unchanged"  # "not paid" does not undo a payment
    assert database_state() == before


@pytest.mark.django_db
def test_order_intake_refuses_whole(make_order):
    from orders.exceptions import IllegalTransition

    make_order("delivered", channel="amazon", external_id="A-1")
    before = database_state()
    with pytest.raises(IllegalTransition, match="Cancel order"):
        order_intake(
            channel="amazon", external_id="A-1", fields={}, paid=True, cancelled=True, source_note="amazon report"
        )
    with pytest.raises(InvalidActionData, match="order id"):
        order_intake(
            channel="amazon", external_id=" ", fields={"amount": "1"}, paid=None, cancelled=False, source_note=""
        )
    with pytest.raises(InvalidActionData, match="amount"):
        order_intake(
            channel="amazon", external_id="A-2", fields={"amount": "x"}, paid=True, cancelled=False, source_note=""
        )
    assert database_state() == before


def test_an_order_id_excel_stored_as_a_number_is_refused(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["订单编号", "买家实付", "订单创建时间"])
    workbook.active.append([3012345678901234567.0, 10, datetime(2026, 1, 28, 14, 5)])
    workbook.active.append([123456, 10, datetime(2026, 1, 28, 14, 5)])
    workbook.save(tmp_path / "tb.xlsx")
    parsed = import_file_read(tmp_path / "tb.xlsx", channel="taobao")
    (error,) = parsed.errors
    assert (error.row, error.column) == (2, "订单编号") and "stored as a number and has lost digits" in error.reason
    assert [(r.external_id, r.fields["amount"]) for r in parsed.rows] == [("123456", Decimal("10"))]


@pytest.mark.django_db
def test_order_intake_finds_an_order_created_between_its_look_up_and_its_insert(make_order, monkeypatch):
    """Another request commits the same new order just after intake looked for it: intake then
    takes that order instead of refusing ("already in the hub")."""
    import orders.services.intake as intake

    order = make_order("submitted", channel="shopify", external_id="777")
    real, calls = intake._locked, []

    def late_look_up(channel, external_id):
        calls.append(external_id)
        return None if len(calls) == 1 else real(channel, external_id)

    monkeypatch.setattr(intake, "_locked", late_look_up)
    result = order_intake(
        channel="shopify", external_id="777", fields={"amount": "1.00"}, paid=True, cancelled=False, source_note="x"
    )
    assert (result.outcome, result.actions, result.order.pk) == ("updated", ("pay",), order.pk)
    assert Order.objects.count() == 1 and len(calls) == 2


@pytest.mark.django_db
def test_a_bad_row_at_the_end_of_a_big_file_is_named_and_nothing_is_written(tmp_path, make_order):
    """Thousands of good rows, then one bad one: the import names that row and writes nothing,
    not even the batches before it (every row is checked before the one transaction)."""
    existing = make_order("submitted", channel="taobao", external_id="TB-BIG-0")
    before = database_state()
    rows = [
        TAOBAO_HEADER,
        "TB-BIG-0,b,10.00,买家已付款，等待卖家发货,刘芳,,,139,2026-01-28 14:05:00,2026-01-28 14:06:00,",
    ]
    address = "浙江省 杭州市 余杭区 文一西路 {n} 号"
    rows += [
        f"TB-BIG-{n},b,{10 + n % 90}.00,等待买家付款,刘芳,{address.format(n=n)},,139,2026-01-28 14:05:00,,"
        for n in range(1, 2500)
    ]
    rows.append("TB-BIG-LAST,b,12.3.4,等待买家付款,刘芳,,,139,2026-01-28 14:05:00,,")
    message, report = run_failing(write(tmp_path / "big.csv", "\n".join(rows)), "taobao", "--batch-size", "500")
    assert report.splitlines() == [
        "big.csv: these rows cannot be imported (1 problem(s)):",
        "  row 2502, 买家实付: “12.3.4” is not an amount.",
    ]
    assert "1 problem(s) in 1 of 2501 rows" in message and "Nothing was imported" in message
    assert database_state() == before
    assert Order.objects.get(pk=existing.pk).state == "submitted"
