"""Order files exported from the channels: reading, column mapping and row checks.

`import_file_read(path, channel=...)` reads a CSV or XLSX file and returns every row as an
`ImportRow` (the arguments of the intake service) and every problem as a `RowError` (row
number, column, reason): all of them, not only the first. It touches no database; the
`import_orders` command checks the rows against the hub and imports them.

Files
-----
- CSV: UTF-8 with or without BOM; otherwise GBK (read as GB18030, its superset, so anything
  GBK decodes the same). Comma- or tab-separated (Amazon's reports are tab-separated): the
  header line decides.
- XLSX (and XLSM): the first sheet, streamed (openpyxl read-only, values only). The old
  binary .xls is not read: save it as .xlsx or CSV.
- Row 1 is the header. Row numbers in reports are the file's rows as a spreadsheet shows
  them (the header is row 1). Blank rows are skipped. Columns the channel does not use are
  ignored. One row per order: an order id that appears twice is reported, unless the file
  has line columns (below).
- Lines: with line columns (a quantity and a sku or item name; unit price, discount, line id,
  gift line), each row is one line and the rows of one order share its order id; the order's
  columns are read from its first row, and the rows after it leave them blank or repeat them
  (anything else is reported). Or all lines in one items column: "TEA-01*2@88.00;
  CUP-02*1@30.00" (SKU*quantity@unit price). The lines after their discounts, plus the
  shipping fee and the tax on top, must add up to the amount, or the order's row is reported.
- Headers match whatever their case, spacing, "-" or "_" ("Amazon-Order-ID" =
  "amazon order id").

Columns per channel (first name listed wins when several are present). Every channel also
takes the generic names of the `manual` channel. * = required.

amazon (the order report; one row per order)
    * amazon-order-id | order-id          order id
    * order-total | total                 amount
      currency                            (default USD)
    * purchase-date                       order time
      buyer-email, buyer-phone-number
      recipient-name, ship-phone-number
      ship-address-1 (+ ship-address-2, ship-address-3), ship-city, ship-state,
      ship-postal-code
      order-status                        Pending → not paid; Unshipped, PartiallyShipped,
                                          Shipped, Shipping → paid; Canceled/Cancelled →
                                          cancelled

walmart (Seller Center order export; one row per order)
    * PO# | purchase order id | Order#    order id (the purchase order: what Walmart's
                                          seller API acts on)
    * order total | total                 amount
      currency                            (default USD)
    * order date                          order time (also 01/28/2026 and 01/28/2026 14:05)
      customer email
      customer name | ship to name, customer phone number | ship to phone
      ship to address 1 | address 1 (+ ship to address 2 | address 2), city | ship to city,
      state | ship to state, zip | ship to zip | postal code
      status | order status               Created, Acknowledged, Shipped, Delivered → paid;
                                          Cancelled → cancelled

taobao (淘宝/天猫 千牛 "订单导出")
    * 订单编号 | 订单号                    order id (="123…" and '123… wrappers are removed)
    * 买家实付 | 买家实付金额 | 买家实际支付金额 | 实付金额   amount
      币种                                (default CNY)
    * 订单创建时间 | 创建时间              order time (Asia/Shanghai unless it has an offset)
      订单付款时间 | 付款时间              filled in → paid
      收货人姓名 | 收货人                  recipient
      联系手机 | 手机 (else 联系电话)      recipient phone
      收货地址                            "浙江省 杭州市 余杭区 文一西路 1888 号(311100)": split on
                                          spaces into province, city, district, address;
                                          a trailing (postcode) is taken out
      省, 市, 区, 详细地址, 邮编          instead of 收货地址, when the export has them
      订单状态                            等待买家付款 → not paid; 买家已付款/等待卖家发货/卖家已
                                          发货/交易成功 → paid; 交易关闭 (any closing) → cancelled
      订单关闭原因 | 关闭原因              into the cancellation note
      买家留言                            buyer remark
      邮费 | 运费                         shipping fee
      子订单编号, 商家编码 | 商品编码, 宝贝标题 | 商品标题, 购买数量 | 宝贝数量,
      价格 | 单价, 优惠金额 | 优惠         one line per row (the 宝贝 export joined to the order)

jd (京东商家后台 订单导出)
    * 订单号                              order id
    * 应付金额 | 订单金额                  amount (CNY)
    * 下单时间                            order time
      付款确认时间 | 付款时间              filled in → paid
      客户姓名, 联系电话                  recipient, recipient phone
      客户地址                            split as taobao's 收货地址
      订单状态                            等待付款 → not paid; 等待出库/待发货/已发货/完成 → paid;
                                          已取消 → cancelled (the same words for pdd and douyin)
      订单备注, 运费金额                  buyer remark, shipping fee
      商品ID, 商品名称, 订购数量, 京东价   one line per row

pdd (拼多多商家后台 订单导出)
    * 订单号                              order id
    * 用户实付金额(元) | 用户实付金额      amount (CNY)
    * 订单成交时间                        order time
      支付时间                            filled in → paid
      收货人, 手机                        recipient, recipient phone
      省, 市, 区, 详细地址 | 街道          the address in its parts
      订单状态, 买家留言
      商家编码-SKU维度 | 商家编码, 商品, 商品数量(件) | 商品数量     one line per row

douyin (抖店 订单导出; one row per 子订单, grouped by 主订单编号)
    * 主订单编号                          order id
    * 订单应付金额                        amount (CNY)
    * 订单提交时间                        order time
      支付完成时间                        filled in → paid
      收件人, 收件人手机号                recipient, recipient phone
      省, 市, 区, 详细地址                the address in its parts
      订单状态, 买家留言, 运费
      子订单编号, 商家编码, 选购商品, 商品数量, 商品单价    one line per row

shopify (the admin's order export; Id is the same id the webhooks carry)
    * Id                                  order id (not Name, "#1001")
    * Total                               amount
      Currency
    * Created at                          order time ("2026-01-28 14:05:00 +0800" too)
      Email, Phone
      Shipping Name, Shipping Phone, Shipping Address1, Shipping Address2 (→ district),
      Shipping City, Shipping Province, Shipping Zip
      Financial Status                    "paid" → paid
      Cancelled at                        filled in → cancelled
      Notes, Shipping                     buyer remark, shipping fee
      Lineitem sku, Lineitem name, Lineitem quantity, Lineitem price, Lineitem discount
                                          one line per row, as Shopify exports them

manual (OrderHub's own template; English or Chinese headers)
    * external_id | 外部订单号              order id
    * amount | 金额
      currency | 币种                     (default: ORDERHUB_CURRENCY)
      ordered_at | 下单时间               (default: now)
      buyer_email | 买家邮箱, buyer_phone | 买家电话
      recipient_name | 收货人, recipient_phone | 收货人电话
      ship_province | 省, ship_city | 市, ship_district | 区, ship_address | 详细地址,
      ship_postcode | 邮编
      paid | 已付款                       yes/no, true/false, 1/0, 是/否 (blank: not paid)
      cancelled | 已取消                  the same (blank: not cancelled)
      cancel_reason | 取消原因
      shipping_fee | 运费, tax_amount | 税费, buyer_remark | 买家留言
      line_id | 子订单编号, sku | 商品编码, item_name | 商品名称, quantity | 数量,
      unit_price | 单价, discount | 优惠, gift_line | 赠品 (yes/no)     one line per row
      items | 商品明细                     all lines in one cell: TEA-01*2@88.00;CUP-02*1@30.00

Times without a UTC offset are read in the hub's time zone (TIME_ZONE, Asia/Shanghai).
Amounts may carry a currency sign (¥, $) and thousands separators ("1,299.00").
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from orders.import_columns import IMPORT_COLUMNS_GENERIC, IMPORT_LINE_COLUMNS, import_column_names
from orders.services.intake import intake_fields_clean
from orders.services.lines import order_lines_clean, order_totals_mismatch
from orders.states import Channel

# -- what a file gives ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # 1 is the header
    column: str  # as the file names it; "" for the whole row
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ImportRow:
    row: int
    external_id: str
    fields: dict
    paid: bool | None
    cancelled: bool
    cancel_reason: str = ""
    # The order's lines (orders.services.lines.LINE_FIELDS, as read) and the row each came from.
    lines: list[dict] = field(default_factory=list)
    line_rows: list[int] = field(default_factory=list)


@dataclass
class ImportFile:
    channel: str
    encoding: str  # "utf-8", "utf-8-sig", "gb18030" or "xlsx"
    columns: dict[str, str]  # field -> the file's header
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def column_of(self, name: str) -> str:
        return self.columns.get(name, "")


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, encoding, missing columns)."""


# -- the channels' columns -----------------------------------------------------------------------

# Logical columns: the intake fields, plus those that are read into them.
GENERIC: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id", "外部订单号"),
    "amount": ("amount", "金额"),
    "currency": ("currency", "币种"),
    "ordered_at": ("ordered_at", "下单时间"),
    "buyer_email": ("buyer_email", "买家邮箱"),
    "buyer_phone": ("buyer_phone", "买家电话"),
    "recipient_name": ("recipient_name", "收货人"),
    "recipient_phone": ("recipient_phone", "收货人电话"),
    "ship_province": ("ship_province", "省"),
    "ship_city": ("ship_city", "市"),
    "ship_district": ("ship_district", "区"),
    "ship_address": ("ship_address", "详细地址"),
    "ship_postcode": ("ship_postcode", "邮编"),
    "paid": ("paid", "已付款"),
    "cancelled": ("cancelled", "已取消"),
    "cancel_reason": ("cancel_reason", "取消原因"),
    "shipping_fee": ("shipping_fee", "运费"),
    "tax_amount": ("tax_amount", "税费"),
    "buyer_remark": ("buyer_remark", "买家留言"),
    "line_id": ("line_id", "子订单编号"),
    "sku": ("sku", "商品编码"),
    "item_name": ("item_name", "商品名称"),
    "quantity": ("quantity", "数量"),
    "unit_price": ("unit_price", "单价"),
    "discount": ("discount", "优惠"),
    "gift_line": ("gift_line", "赠品"),
    "items": ("items", "商品明细"),
}


@dataclass(frozen=True)
class ChannelColumns:
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...] = ("external_id", "amount", "ordered_at")
    currency: str | None = None  # default when the file has no currency column or value
    # (paid, cancelled) from the channel's own status text; None = not a status it knows.
    status: Callable[[str], tuple[bool | None, bool] | None] | None = None
    time_formats: tuple[str, ...] = ()


# A file holds a handful of distinct statuses in 100,000 rows: each is read once.
@functools.lru_cache(maxsize=256)
def _amazon_status(text: str):
    value = text.strip().lower().replace(" ", "")
    if value in ("canceled", "cancelled"):
        return (None, True)
    if value in ("pending", "pendingavailability"):
        return (False, False)
    if value in ("unshipped", "partiallyshipped", "shipped", "shipping", "invoiceunconfirmed"):
        return (True, False)
    return None


@functools.lru_cache(maxsize=256)
def _walmart_status(text: str):
    value = text.strip().lower()
    if value in ("cancelled", "canceled"):
        return (None, True)
    if value in ("created", "acknowledged", "shipped", "delivered"):
        return (True, False)
    return None


@functools.lru_cache(maxsize=256)
def _taobao_status(text: str):
    value = text.strip()
    if "关闭" in value:
        return (None, True)
    if "等待买家付款" in value or "未付款" in value:
        return (False, False)
    if any(word in value for word in ("已付款", "等待卖家发货", "已发货", "确认收货", "交易成功")):
        return (True, False)
    return None


@functools.lru_cache(maxsize=256)
def _marketplace_status(text: str):
    # JD, Pinduoduo and Douyin Shop word their statuses alike: 待付款 / 待发货 / 已发货 / 已取消 …
    value = text.strip()
    if "取消" in value or "关闭" in value:
        return (None, True)
    if "待付款" in value or "未付款" in value or "等待付款" in value:
        return (False, False)
    if any(word in value for word in ("待发货", "已发货", "待收货", "已收货", "已完成", "完成", "出库")):
        return (True, False)
    return None


@functools.lru_cache(maxsize=256)
def _shopify_status(text: str):
    # "Financial Status": pending, authorized, paid, partially_paid, refunded, voided, …
    value = text.strip().lower()
    return (value == "paid", False) if value else None


CHANNEL_COLUMNS: dict[str, ChannelColumns] = {
    Channel.AMAZON: ChannelColumns(
        columns={
            "external_id": ("amazon-order-id", "order-id"),
            "amount": ("order-total", "total"),
            "currency": ("currency",),
            "ordered_at": ("purchase-date",),
            "buyer_email": ("buyer-email",),
            "buyer_phone": ("buyer-phone-number",),
            "recipient_name": ("recipient-name",),
            "recipient_phone": ("ship-phone-number",),
            "ship_address": ("ship-address-1",),
            "ship_address_2": ("ship-address-2",),
            "ship_address_3": ("ship-address-3",),
            "ship_city": ("ship-city",),
            "ship_province": ("ship-state",),
            "ship_postcode": ("ship-postal-code",),
            "status": ("order-status",),
        },
        currency="USD",
        status=_amazon_status,
    ),
    Channel.WALMART: ChannelColumns(
        columns={
            "external_id": ("PO#", "purchase order id", "Order#"),
            "amount": ("order total", "total"),
            "currency": ("currency",),
            "ordered_at": ("order date",),
            "buyer_email": ("customer email",),
            "recipient_name": ("customer name", "ship to name"),
            "recipient_phone": ("customer phone number", "ship to phone"),
            "ship_address": ("ship to address 1", "address 1"),
            "ship_address_2": ("ship to address 2", "address 2"),
            "ship_city": ("city", "ship to city"),
            "ship_province": ("state", "ship to state"),
            "ship_postcode": ("zip", "ship to zip", "postal code"),
            "status": ("status", "order status"),
        },
        currency="USD",
        status=_walmart_status,
        time_formats=("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y"),
    ),
    Channel.TAOBAO: ChannelColumns(
        columns={
            "external_id": ("订单编号", "订单号"),
            "amount": ("买家实付", "买家实付金额", "买家实际支付金额", "实付金额"),
            "ordered_at": ("订单创建时间", "创建时间"),
            "paid_at": ("订单付款时间", "付款时间"),
            "recipient_name": ("收货人姓名",),
            "recipient_phone": ("联系手机", "手机"),
            "recipient_phone_alt": ("联系电话",),
            "full_address": ("收货地址",),
            "status": ("订单状态",),
            "cancel_reason": ("订单关闭原因", "关闭原因"),
            "buyer_remark": ("买家留言",),
            "shipping_fee": ("邮费", "运费"),
            "line_id": ("子订单编号",),
            "sku": ("商家编码", "商品编码"),
            "item_name": ("宝贝标题", "商品标题"),
            "quantity": ("购买数量", "宝贝数量"),
            "unit_price": ("价格", "单价"),
            "discount": ("优惠金额", "优惠"),
        },
        currency="CNY",
        status=_taobao_status,
    ),
    # 京东商家后台 order export.
    Channel.JD: ChannelColumns(
        columns={
            "external_id": ("订单号",),
            "amount": ("应付金额", "订单金额"),
            "ordered_at": ("下单时间",),
            "paid_at": ("付款确认时间", "付款时间"),
            "recipient_name": ("客户姓名",),
            "recipient_phone": ("联系电话",),
            "full_address": ("客户地址",),
            "status": ("订单状态",),
            "buyer_remark": ("订单备注",),
            "shipping_fee": ("运费金额",),
            "sku": ("商品ID",),
            "item_name": ("商品名称",),
            "quantity": ("订购数量",),
            "unit_price": ("京东价",),
        },
        currency="CNY",
        status=_marketplace_status,
    ),
    # 拼多多商家后台 order export (the address in its parts).
    Channel.PINDUODUO: ChannelColumns(
        columns={
            "external_id": ("订单号",),
            "amount": ("用户实付金额(元)", "用户实付金额"),
            "ordered_at": ("订单成交时间",),
            "paid_at": ("支付时间",),
            "recipient_name": ("收货人",),
            "recipient_phone": ("手机",),
            "ship_province": ("省",),
            "ship_city": ("市",),
            "ship_district": ("区",),
            "ship_address": ("详细地址", "街道"),
            "status": ("订单状态",),
            "buyer_remark": ("买家留言",),
            "sku": ("商家编码-SKU维度", "商家编码"),
            "item_name": ("商品",),
            "quantity": ("商品数量(件)", "商品数量"),
        },
        currency="CNY",
        status=_marketplace_status,
    ),
    # 抖店 order export: one row per sub-order (子订单编号), grouped by 主订单编号.
    Channel.DOUYIN: ChannelColumns(
        columns={
            "external_id": ("主订单编号",),
            "amount": ("订单应付金额",),
            "ordered_at": ("订单提交时间",),
            "paid_at": ("支付完成时间",),
            "recipient_name": ("收件人",),
            "recipient_phone": ("收件人手机号",),
            "ship_province": ("省",),
            "ship_city": ("市",),
            "ship_district": ("区",),
            "ship_address": ("详细地址",),
            "status": ("订单状态",),
            "buyer_remark": ("买家留言",),
            "shipping_fee": ("运费",),
            "line_id": ("子订单编号",),
            "sku": ("商家编码",),
            "item_name": ("选购商品",),
            "quantity": ("商品数量",),
            "unit_price": ("商品单价",),
        },
        currency="CNY",
        status=_marketplace_status,
    ),
    Channel.SHOPIFY: ChannelColumns(
        columns={
            "external_id": ("Id",),
            "amount": ("Total",),
            "currency": ("Currency",),
            "ordered_at": ("Created at",),
            "buyer_email": ("Email",),
            "buyer_phone": ("Phone",),
            "recipient_name": ("Shipping Name",),
            "recipient_phone": ("Shipping Phone",),
            "ship_address": ("Shipping Address1",),
            "ship_district": ("Shipping Address2",),
            "ship_city": ("Shipping City",),
            "ship_province": ("Shipping Province", "Shipping Province Name"),
            "ship_postcode": ("Shipping Zip",),
            "status": ("Financial Status",),
            "cancelled_at": ("Cancelled at",),
            "buyer_remark": ("Notes",),
            "shipping_fee": ("Shipping",),
            "sku": ("Lineitem sku",),
            "item_name": ("Lineitem name",),
            "quantity": ("Lineitem quantity",),
            "unit_price": ("Lineitem price",),
            "discount": ("Lineitem discount",),
        },
        status=_shopify_status,
    ),
    Channel.MANUAL: ChannelColumns(columns={}, required=("external_id", "amount")),
}
assert set(CHANNEL_COLUMNS) == set(Channel.values), "every channel needs its columns"
# The logical columns are the hub's (orders/import_columns.py, which a shop's import mapping is
# checked against): this reader knows the headers of exactly those.
assert set(GENERIC) == set(IMPORT_COLUMNS_GENERIC), "the generic columns are the hub's"
assert all(
    {*GENERIC, *spec.columns} == set(import_column_names(channel)) for channel, spec in CHANNEL_COLUMNS.items()
), "each channel's columns are the hub's (orders.import_columns)"

_LABELS = {"external_id": "order id", "amount": "amount", "ordered_at": "order time"}


def _header_key(text) -> str:
    text = str(text or "").replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s_\-]+", " ", text).strip()


def import_columns(channel: str, header: list, *, mapping: dict[str, str] | None = None) -> dict[str, tuple[int, str]]:
    """{logical column: (index, the file's header)}; raises ImportFileError naming the missing
    required columns. `mapping` (a shop's import mapping): {logical column: the shop's header},
    tried before the channel's own names."""
    spec = CHANNEL_COLUMNS[channel]
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _header_key(name)
        if key and key not in positions:
            positions[key] = index
    found = {}
    names = {**GENERIC}
    for logical, aliases in spec.columns.items():
        names[logical] = (*aliases, *GENERIC.get(logical, ()))
    for logical, renamed in (mapping or {}).items():
        names[logical] = (renamed, *names.get(logical, ()))
    for logical, aliases in names.items():
        for alias in aliases:
            index = positions.get(_header_key(alias))
            if index is not None:
                found[logical] = (index, str(header[index]).replace("\ufeff", "").strip())
                break
    missing = []
    for logical in spec.required:
        if logical not in found:
            missing.append(f"{_LABELS.get(logical, logical)} ({' | '.join(names[logical])})")
    if missing:
        raise ImportFileError(
            f"row 1: the header has no column for: {'; '.join(missing)}. "
            f"Found: {', '.join(str(h) for h in header if str(h or '').strip()) or 'nothing'}."
        )
    return found


# -- reading files -------------------------------------------------------------------------------


def import_file_read(
    path: Path | str,
    *,
    channel: str,
    progress: Callable[[int], None] | None = None,
    mapping: dict[str, str] | None = None,
) -> ImportFile:
    """Every row checked; all problems collected (none written anywhere). `mapping`: the shop's
    renamed columns (Shop.import_mapping)."""
    if channel not in CHANNEL_COLUMNS:
        raise ImportFileError(f"unknown channel {channel!r}")
    path = Path(path)
    encoding, rows = _open_rows(path)
    try:
        first = next(rows, None)
        if first is None:
            raise ImportFileError("the file is empty")
        _number, header = first
        columns = import_columns(channel, list(header), mapping=mapping)
        result = ImportFile(channel=channel, encoding=encoding, columns={k: v[1] for k, v in columns.items()})
        reader = RowReader(channel, columns)
        seen: dict[str, int] = {}
        # With line columns, the rows of one order share its id: the first row's values and
        # what became of it (None: refused), to read the rows that follow as more lines.
        firsts: dict[str, tuple[list, ImportRow | None]] = {}
        refused: set[str] = set()
        count = 0
        for number, values in rows:
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if reader.line_per_row:
                key = reader.key(values)
                if key in firsts:
                    first_values, first = firsts[key]
                    errors = reader.read_more_lines(number, values, first_values, first)
                    if errors:
                        result.errors.extend(errors)
                        refused.add(key)  # its lines are not all read: nothing more to say of it
                    count += 1
                    continue
            row, errors = reader.read(number, values)
            if reader.line_per_row and row is not None:
                firsts[row.external_id] = (values, None if errors else row)
            if row is not None:
                earlier = seen.setdefault(row.external_id, number)
                if earlier != number:
                    errors.append(
                        RowError(
                            number,
                            result.column_of("external_id"),
                            f"order id {row.external_id} is also on row {earlier}: one row per order",
                        )
                    )
            if errors:
                result.errors.extend(errors)
            elif row is not None:
                result.rows.append(row)
            count += 1
            if progress is not None and count % 1000 == 0:
                progress(count)
        if progress is not None:
            progress(count)
        if reader.reads_lines:
            result.rows = [row for row in result.rows if row.external_id not in refused]
            _lines_check(result)
        return result
    finally:
        rows.close()


def _lines_check(result: ImportFile) -> None:
    """Every order's lines checked as intake will check them, and their sum against the amount:
    a bad line is an error on its own row, a sum that does not add up one on the order's first
    row; either way the order is not imported."""
    kept = []
    for row in result.rows:
        if not row.lines:
            kept.append(row)
            continue
        clean, line_errors = order_lines_clean(row.lines, currency=row.fields["currency"])
        for index, fields in line_errors.items():
            for name, reason in fields.items():
                result.errors.append(
                    RowError(row.line_rows[index], result.column_of(_LINE_COLUMN.get(name, "")), reason)
                )
        if line_errors:
            continue
        mismatch = order_totals_mismatch(
            amount=row.fields["amount"],
            lines=clean,
            shipping_fee=row.fields.get("shipping_fee", 0),
            tax_amount=row.fields.get("tax_amount", 0),
        )
        if mismatch:
            result.errors.append(RowError(row.row, result.column_of("amount"), f"order {row.external_id}: {mismatch}"))
            continue
        kept.append(row)
    result.rows = kept


# The file's column behind each line field, to name it in an error.
_LINE_COLUMN = {
    "platform_line_id": "line_id",
    "sku": "sku",
    "name": "item_name",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "discount": "discount",
    "currency": "currency",
}


def _open_rows(path: Path) -> tuple[str, Iterator[tuple[int, list]]]:
    try:
        with path.open("rb") as f:
            magic = f.read(8)
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic.startswith(b"PK\x03\x04"):
        return "xlsx", _xlsx_rows(path)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("this is an old Excel .xls file: save it as .xlsx or CSV")
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8"
        return encoding, _csv_rows(text)
    raise ImportFileError("the file is neither UTF-8 nor GBK text, nor an XLSX workbook")


def _csv_rows(text: str) -> Iterator[tuple[int, list]]:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    yield from enumerate(reader, start=1)


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a damaged or foreign zip: say so, do not crash
        raise ImportFileError(f"cannot read the workbook: {exc}") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        workbook.close()


# -- reading one row -----------------------------------------------------------------------------

_ID_WRAPPER_RE = re.compile(r'^="?(.*?)"?$')
_ITEMS_SPLIT_RE = re.compile(r"[;；,，\n]+")
_ITEM_RE = re.compile(r"^(.+?)\s*[*×xX]\s*(-?\d+)\s*@\s*[¥￥$]?\s*(-?[\d.]+)$")
_THOUSANDS_RE = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_POSTCODE_RE = re.compile(r"\s*[(（]\s*(\d{6})\s*[)）]\s*$")
_TRUE = {"yes", "y", "true", "t", "1", "是", "已付款", "已取消", "paid", "cancelled", "canceled"}
_FALSE = {"no", "n", "false", "f", "0", "否", "未付款", "未取消", ""}
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%d %H:%M %z",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)
# Intake fields read straight from a column of the same name.
_DIRECT = (
    "currency",
    "buyer_email",
    "buyer_phone",
    "recipient_name",
    "recipient_phone",
    "ship_province",
    "ship_city",
    "ship_district",
    "ship_address",
    "ship_postcode",
    "buyer_remark",
)
# Order columns read as amounts besides the order's own.
_CHARGES = ("shipping_fee", "tax_amount")


class RowReader:
    def __init__(self, channel: str, columns: dict[str, tuple[int, str]]):
        self.channel = channel
        self.spec = CHANNEL_COLUMNS[channel]
        self.index = {name: index for name, (index, _header) in columns.items()}
        self.header = {name: header for name, (_index, header) in columns.items()}
        if "recipient_phone_alt" in self.header:
            self.header.setdefault("recipient_phone", self.header["recipient_phone_alt"])
        self.tz = timezone.get_default_timezone()
        self.default_currency = self.spec.currency or settings.ORDERHUB_CURRENCY
        # One line per row (rows of an order share its id) when the file has a quantity and
        # what it is of (a SKU or an item name); or every line in one items column. A title
        # alone (the 订单报表's 宝贝标题 sums up the order) is not a line.
        self.line_per_row = "quantity" in self.index and ("sku" in self.index or "item_name" in self.index)
        self.reads_lines = self.line_per_row or "items" in self.index
        self.order_columns = [i for name, i in self.index.items() if name not in (*IMPORT_LINE_COLUMNS, "items")]

    def value(self, values: list, name: str):
        index = self.index.get(name)
        if index is None or index >= len(values):
            return None
        value = values[index]
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def text(self, values: list, name: str) -> str:
        value = self.value(values, name)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()

    def key(self, values: list) -> str:
        """The row's order id as read ("": none), to find the rows of one order."""
        return self._external_id(values, lambda name, reason: None)

    def read_more_lines(self, number: int, values: list, first_values: list, first: ImportRow | None) -> list[RowError]:
        """A further row of an order already read: one more line. Its order columns are blank or
        say what the order's first row says."""
        errors = []
        for index in self.order_columns:
            value = values[index] if index < len(values) else None
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            was = first_values[index] if index < len(first_values) else None
            if str(value).strip() != str(was if was is not None else "").strip():
                header = next(h for n, h in self.header.items() if self.index.get(n) == index)
                errors.append(
                    RowError(
                        number,
                        header,
                        f"“{value}” differs from the order's first row (row "
                        f"{first.row if first else '?'}): rows of one order repeat its values or leave them blank",
                    )
                )
        line = self._line(values)
        if first is not None and line is not None and not errors:
            first.lines.append(line)
            first.line_rows.append(number)
        return errors

    def _line(self, values: list) -> dict | None:
        """The row's line; None when its line columns are all blank (an order with no lines)."""
        if all(self.value(values, name) is None for name in IMPORT_LINE_COLUMNS):
            return None
        gift = self.value(values, "gift_line")
        return {
            "platform_line_id": self.text(values, "line_id"),
            "sku": self.text(values, "sku"),
            "name": self.text(values, "item_name"),
            "quantity": self.text(values, "quantity"),
            "unit_price": self._amount(self.value(values, "unit_price") or "0"),
            "discount": self._amount(self.value(values, "discount") or "0"),
            "is_gift": bool(_flag(gift)) if gift is not None else False,
        }

    def _items(self, number: int, text: str, bad) -> list[dict]:
        """The items column: "TEA-01*2@88.00; CUP-02*1@30.00" (SKU, quantity, unit price; also
        × or x for *, and ；，, or new lines between items)."""
        lines = []
        for entry in (e.strip() for e in _ITEMS_SPLIT_RE.split(text)):
            if not entry:
                continue
            match = _ITEM_RE.match(entry)
            if match is None:
                bad("items", f"“{entry}” is not SKU*quantity@unit price (e.g. TEA-01*2@88.00)")
                continue
            sku, quantity, price = match.groups()
            lines.append({"sku": sku.strip(), "quantity": quantity, "unit_price": price})
        return lines

    def read(self, number: int, values: list) -> tuple[ImportRow | None, list[RowError]]:
        errors: list[RowError] = []

        def bad(name: str, reason: str) -> None:
            errors.append(RowError(number, self.header.get(name, name), reason))

        external_id = self._external_id(values, bad)
        fields: dict = {name: self.text(values, name) for name in _DIRECT if name in self.index}
        fields["currency"] = fields.get("currency") or self.default_currency
        for name in _CHARGES:
            charge = self.value(values, name)
            if charge is not None:
                fields[name] = self._amount(charge)
        lines: list[dict] = []
        line = self._line(values) if self.line_per_row else None
        if line is not None:
            lines.append(line)
        if "items" in self.index:
            lines.extend(self._items(number, self.text(values, "items"), bad))

        amount = self.value(values, "amount")
        if amount is None:
            bad("amount", "missing")
        else:
            fields["amount"] = self._amount(amount)

        ordered_at = self.value(values, "ordered_at")
        if ordered_at is None:
            if "ordered_at" in self.spec.required:
                bad("ordered_at", "missing")
        else:
            parsed = self._time(ordered_at)
            if parsed is None:
                bad("ordered_at", f"“{ordered_at}” is not a date and time")
            else:
                fields["ordered_at"] = parsed

        extra_lines = [self.text(values, n) for n in ("ship_address_2", "ship_address_3")]
        if any(extra_lines) and "ship_address" in self.index:
            fields["ship_address"] = " ".join(p for p in (fields.get("ship_address", ""), *extra_lines) if p)
        if not fields.get("recipient_phone") and "recipient_phone_alt" in self.index:
            fields["recipient_phone"] = self.text(values, "recipient_phone_alt")
        if "full_address" in self.index and not fields.get("ship_address"):
            fields.update(_address_split(self.text(values, "full_address"), fields))

        paid, cancelled = self._status(values, bad)

        clean, field_errors = intake_fields_clean(fields)
        for name, reason in field_errors.items():
            source = name
            if name in ("ship_province", "ship_city", "ship_district", "ship_address", "ship_postcode"):
                source = name if name in self.index else "full_address"
            bad(source, reason)
        if errors:
            return None, errors
        return (
            ImportRow(
                row=number,
                external_id=external_id,
                fields=clean,
                paid=paid,
                cancelled=cancelled,
                cancel_reason=self.text(values, "cancel_reason"),
                lines=lines,
                line_rows=[number] * len(lines),
            ),
            [],
        )

    def _external_id(self, values: list, bad) -> str:
        value = self.value(values, "external_id")
        if value is None:
            bad("external_id", "missing")
            return ""
        if isinstance(value, float):
            if not value.is_integer() or abs(value) >= 2**53:
                bad(
                    "external_id",
                    f"“{value}” was stored as a number and has lost digits: format the column as text",
                )
                return ""
            value = int(value)
        text = str(value).strip().lstrip("'\t").strip()
        match = _ID_WRAPPER_RE.match(text)
        if match and text.startswith("="):
            text = match.group(1).strip()
        if not text:
            bad("external_id", "missing")
        elif len(text) > 64:
            bad("external_id", f"at most 64 characters (got {len(text)})")
        return text

    def _amount(self, value):
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            return Decimal(repr(value))
        text = str(value).strip().lstrip("¥￥$€£").strip()
        if text.upper().startswith(("CNY", "RMB", "USD")):
            text = text[3:].strip()
        if _THOUSANDS_RE.match(text):
            text = text.replace(",", "")
        return text

    def _time(self, value):
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        else:
            text = str(value).strip()
            parsed = None
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                for fmt in (*_TIME_FORMATS, *self.spec.time_formats):
                    try:
                        parsed = datetime.strptime(text, fmt)
                        break
                    except ValueError:
                        continue
            if parsed is None:
                return None
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, self.tz)
        return parsed

    def _status(self, values: list, bad) -> tuple[bool | None, bool]:
        paid: bool | None = None
        cancelled = False
        status = self.value(values, "status")
        if status is not None and self.spec.status is not None:
            said = self.spec.status(str(status))
            if said is None:
                bad("status", f"unknown status “{status}”")
            else:
                paid, cancelled = said
        for name in ("paid", "cancelled"):
            raw = self.value(values, name)
            if raw is None:
                continue
            flag = _flag(raw)
            if flag is None:
                bad(name, f"“{raw}” is not yes or no")
            elif name == "paid":
                paid = flag
            else:
                cancelled = flag
        if self.value(values, "paid_at") is not None:
            paid = True
        if self.value(values, "cancelled_at") is not None:
            cancelled = True
        return paid, cancelled


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _address_split(text: str, fields: dict) -> dict:
    """Taobao's 收货地址: "浙江省 杭州市 余杭区 仓前街道文一西路 1888 号(311100)"."""
    out = {}
    match = _POSTCODE_RE.search(text)
    if match:
        if not fields.get("ship_postcode"):
            out["ship_postcode"] = match.group(1)
        text = text[: match.start()]
    parts = text.split()
    if len(parts) >= 4:
        out["ship_province"], out["ship_city"], out["ship_district"] = parts[:3]
        out["ship_address"] = " ".join(parts[3:])
    else:
        out["ship_address"] = " ".join(parts)
    return {k: v for k, v in out.items() if not fields.get(k)}
