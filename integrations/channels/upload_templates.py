"""The bulk-shipping upload files (批量发货) of the channels the hub has no API for: which
columns each platform's template has, how it spells each carrier, and the file it takes.
Plain data and file writing, no database.

Assumed from the platforms' seller back offices as operators describe them (no public
specification; check against a template downloaded from the shop's own back office before the
first upload, and change the table here if a platform renamed a column or a company):

| platform | back office page | file | columns |
|---|---|---|---|
| Taobao/Tmall | 千牛卖家中心 → 交易 → 批量发货 | xlsx | 订单编号, 物流公司, 运单号 |
| JD.com | 京东商家后台 → 订单管理 → 批量出库 | xlsx | 订单号, 物流公司, 运单号 |
| Pinduoduo | 拼多多商家后台 → 发货管理 → 批量发货 | csv (UTF-8 with BOM) | 订单号, 快递公司, 快递单号 |
| Douyin Shop | 抖店 → 订单 → 批量发货 | xlsx | 订单号, 物流公司, 运单号 |

Carriers are written with the company name each platform's list shows (the platforms match
the name, not a code). Cainiao's own delivery network is "菜鸟速递" where a platform lists it;
JD and Pinduoduo list no such company, so a Cainiao shipment there is written as the
platform's "other" company and the operator picks the real one on upload.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Font

from orders.states import Carrier, Channel

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv"


@dataclass(frozen=True)
class UploadTemplate:
    channel: str
    file_format: str  # "xlsx" or "csv"
    columns: tuple[str, str, str]  # order id, logistics company, tracking number
    carrier_names: dict[str, str]
    sheet_name: str = "Sheet1"

    @property
    def content_type(self) -> str:
        return XLSX_TYPE if self.file_format == "xlsx" else CSV_TYPE

    def carrier_name(self, carrier: str) -> str:
        return self.carrier_names.get(carrier) or self.carrier_names[Carrier.OTHER]


UPLOAD_TEMPLATES: dict[str, UploadTemplate] = {
    Channel.TAOBAO: UploadTemplate(
        channel=Channel.TAOBAO,
        file_format="xlsx",
        columns=("订单编号", "物流公司", "运单号"),
        carrier_names={
            Carrier.SF: "顺丰速运",
            Carrier.ZTO: "中通快递",
            Carrier.CAINIAO: "菜鸟速递",
            Carrier.OTHER: "其他",
        },
    ),
    Channel.JD: UploadTemplate(
        channel=Channel.JD,
        file_format="xlsx",
        columns=("订单号", "物流公司", "运单号"),
        carrier_names={
            Carrier.SF: "顺丰快递",
            Carrier.ZTO: "中通速递",
            Carrier.OTHER: "其他",
        },
    ),
    Channel.PINDUODUO: UploadTemplate(
        channel=Channel.PINDUODUO,
        file_format="csv",
        columns=("订单号", "快递公司", "快递单号"),
        carrier_names={
            Carrier.SF: "顺丰快递",
            Carrier.ZTO: "中通快递",
            Carrier.OTHER: "其他",
        },
    ),
    Channel.DOUYIN: UploadTemplate(
        channel=Channel.DOUYIN,
        file_format="xlsx",
        columns=("订单号", "物流公司", "运单号"),
        carrier_names={
            Carrier.SF: "顺丰速运",
            Carrier.ZTO: "中通快递",
            Carrier.CAINIAO: "菜鸟速递",
            Carrier.OTHER: "其他",
        },
    ),
}


def upload_template_for(channel: str) -> UploadTemplate | None:
    return UPLOAD_TEMPLATES.get(channel)


def upload_file_render(template: UploadTemplate, rows: list[tuple[str, str, str]]) -> bytes:
    """The file's bytes: a header row, then (channel order id, company name, tracking number)
    per shipment. Order ids and tracking numbers are written as text, so a spreadsheet never
    turns an 18-digit order id into 1.23E+17."""
    if template.file_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(template.columns)
        writer.writerows(rows)
        # The BOM makes the platform (and Excel, for a look first) read it as UTF-8, not GBK.
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = template.sheet_name
    sheet.append(list(template.columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            cell.number_format = "@"
    for column, width in zip("ABC", (26, 14, 24), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
