"""The default export mapping of each source (installed by a data migration; the README lists
them). Operations edit them, or add others, in the admin.

A status word maps to one main status or to a list of them: the hub's finer statuses that all
mean the same to that system (a platform's "paid, waiting for the seller to ship" is the hub's
pending review, reviewed or awaiting shipment). The first is what the word means when a fix is
considered."""

from __future__ import annotations

DEFAULT_MAPPINGS = {
    # 淘宝/天猫 千牛 订单导出: matched by the channel order id (订单编号).
    "platform": {
        "name": "淘宝/天猫 订单导出",
        "columns": {
            "external_id": "订单编号",
            "status": "订单状态",
            "amount": "买家实际支付金额",
            "tracking_number": "物流单号",
            "ordered_at": "订单创建时间",
        },
        "statuses": {
            "等待买家付款": ["pending_review"],
            "买家已付款,等待卖家发货": ["awaiting_shipment", "pending_review", "reviewed"],
            "买家已付款，等待卖家发货": ["awaiting_shipment", "pending_review", "reviewed"],
            "等待卖家发货": ["awaiting_shipment", "pending_review", "reviewed"],
            "卖家已发货": ["shipped"],
            "卖家已发货,等待买家确认": ["shipped"],
            "交易成功": ["delivered", "closed"],
            "交易关闭": ["closed"],
        },
        "payment_statuses": {},
    },
    # The warehouse system's outbound list: matched by the hub's order number.
    "wms": {
        "name": "WMS 出库单",
        "columns": {"number": "订单号", "status": "出库状态", "tracking_number": "运单号"},
        "statuses": {
            "待拣货": ["awaiting_shipment"],
            "待打包": ["awaiting_shipment"],
            "已打包": ["awaiting_shipment"],
            "已出库": ["shipped"],
            "已签收": ["delivered", "closed"],
            "已取消": ["closed"],
        },
        "payment_statuses": {},
    },
    # The finance ledger: matched by the hub's order number.
    "finance": {
        "name": "财务收款台账",
        "columns": {"number": "订单号", "amount": "金额", "payment": "收款状态"},
        "statuses": {},
        "payment_statuses": {
            "已收款": ["paid"],
            "未收款": ["pending", "failed"],
            "支付失败": ["failed"],
            "已退款": ["refunded"],
        },
    },
    # SF / ZTO / Cainiao tracking exports: matched by the tracking number (运单号).
    "carrier": {
        "name": "快递轨迹导出",
        "columns": {"tracking_number": "运单号", "status": "状态"},
        "statuses": {
            "已揽收": ["shipped"],
            "运输中": ["shipped"],
            "派送中": ["shipped"],
            "已签收": ["delivered", "closed"],
        },
        "payment_statuses": {},
    },
}


# Quantity columns: read from any export that has one, whatever its mapping (a mapping that names
# "quantity" or "sku" itself makes that column required instead). Matched like the mapping's
# columns (case, spacing, "-" and "_" aside); the first name the header has wins. With a
# quantity and no SKU column, the rows of an order give its total units; with both, each row is
# one line (SKU × quantity) and the rows of an order follow one another.
QUANTITY_COLUMNS = {
    "quantity": (
        "数量",
        "商品数量",
        "购买数量",
        "宝贝数量",
        "货品数量",
        "出库数量",
        "quantity",
        "qty",
        "units",
        "宝贝总数量",
        "商品总数量",
        "总数量",
        "total quantity",
    ),
    "sku": ("商家编码", "商品编码", "货品编码", "SKU编码", "SKU", "seller sku", "sku code"),
}


def default_mappings_install(SourceMapping) -> None:
    """Create the default mapping of each source that has none (idempotent)."""
    for source, spec in DEFAULT_MAPPINGS.items():
        if SourceMapping.objects.filter(source=source, is_default=True).exists():
            continue
        SourceMapping.objects.update_or_create(
            source=source,
            name=spec["name"],
            defaults={
                "is_default": True,
                "columns": spec["columns"],
                "statuses": spec["statuses"],
                "payment_statuses": spec["payment_statuses"],
            },
        )
