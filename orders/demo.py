"""Demo data of the order app, also used by the tests and benchmarks: users for every role,
brands, warehouses, and how to bring a new order to any state through the real transition
service (so its timeline is real). The whole demo hub, after-sales included, is seeded by the
`demo` app (demo/seed.py), which may import every app; this one imports none."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from .models import Brand, Order, Shop, Warehouse
from .services.transition import order_transition
from .states import Carrier, Channel, Role, State

DEFAULT_PASSWORD = "orderhub-demo"

# username, family name, given name, role (None = superuser)
DEMO_USERS = [
    ("cs1", "张", "明", Role.CUSTOMER_SERVICE),
    ("cs2", "李", "娜", Role.CUSTOMER_SERVICE),
    ("wh1", "王", "强", Role.WAREHOUSE),
    ("fin1", "陈", "静", Role.FINANCE),
    ("ops1", "刘", "洋", Role.OPERATIONS),
    ("tech1", "赵", "磊", Role.TECH_LEAD),
    ("admin", "周", "敏", None),
]

# The agency's brands: code, name, customer service working it, shops (channel, code, name,
# shop id on the channel). cs1 and cs2 each see their own brand and the one they share.
DEMO_BRANDS = [
    (
        "xiaoman",
        "小满茶饮",
        ["cs1"],
        [
            (Channel.SHOPIFY, "xiaoman-shopify", "小满茶饮 Shopify", "xiaoman-tea.myshopify.com"),
            (Channel.TAOBAO, "xiaoman-tmall", "小满茶饮天猫旗舰店", ""),
        ],
    ),
    (
        "qingshan",
        "青山户外",
        ["cs2"],
        [
            (Channel.AMAZON, "qingshan-amazon", "Qingshan Outdoor (Amazon)", ""),
            (Channel.WALMART, "qingshan-walmart", "Qingshan Outdoor (Walmart)", ""),
            (Channel.SHOPIFY, "qingshan-shopify", "青山户外 Shopify", "qingshan-outdoor.myshopify.com"),
        ],
    ),
    (
        "mumu",
        "木木家居",
        ["cs1", "cs2"],
        [
            (Channel.TAOBAO, "mumu-taobao", "木木家居淘宝店", ""),
            (Channel.MANUAL, "mumu-manual", "木木家居线下", ""),
        ],
    ),
]

DEMO_BRAND_STAFF = {code: staff for code, _name, staff, _shops in DEMO_BRANDS}

# code, name, contact, phone, province, city, district, address
DEMO_WAREHOUSES = [
    ("hz-own", "杭州自营仓", "王强", "0571-88880001", "浙江省", "杭州市", "余杭区", "仓前街道文一西路 1888 号 3 号库"),
    ("gz-south", "华南外包仓（广州）", "陈伟", "020-66660002", "广东省", "广州市", "白云区", "太和镇物流园 B 区 12 栋"),
    ("tj-north", "华北外包仓（天津）", "孙丽", "022-55550003", "天津市", "天津市", "武清区", "京津物流园 7 号库"),
]
_STREETS = [
    ("上海市", "上海市", "浦东新区", "张江路 {n} 弄 {m} 号"),
    ("北京市", "北京市", "朝阳区", "望京街 {n} 号院 {m} 号楼"),
    ("广东省", "深圳市", "南山区", "科技园南路 {n} 号 {m} 室"),
    ("四川省", "成都市", "武侯区", "天府大道 {n} 号 {m} 栋"),
    ("江苏省", "南京市", "鼓楼区", "中山北路 {n} 号 {m} 室"),
]
_RECIPIENTS = ["刘芳", "陈晨", "杨洋", "黄磊", "赵敏", "周杰", "吴婷", "徐明"]

# The moves that take a new order to each state: (action, who acts). "cs" is the order's
# customer-service owner, None the system.
PATHS: dict[str, list[tuple[str, str | None]]] = {
    State.SUBMITTED: [],
    State.PAYMENT_FAILED: [("fail_payment", None)],
    State.PAID: [("pay", None)],
    State.RISK_HOLD: [("pay", None), ("flag_risk", None)],
    State.REVIEWED: [("pay", None), ("approve", "cs")],
    State.CANCELLED: [("pay", None), ("cancel", "cs")],
}
PATHS[State.ALLOCATED] = [*PATHS[State.REVIEWED], ("allocate", "wh1")]
PATHS[State.PACKED] = [*PATHS[State.ALLOCATED], ("pack", "wh1")]
PATHS[State.SHIPPED] = [*PATHS[State.PACKED], ("ship", "wh1")]
PATHS[State.PICKED_UP] = [*PATHS[State.SHIPPED], ("pick_up", None)]
PATHS[State.DELIVERED] = [*PATHS[State.PICKED_UP], ("deliver", None)]
PATHS[State.INVOICE_REQUESTED] = [*PATHS[State.DELIVERED], ("request_invoice", "fin1")]
PATHS[State.RETURN_REQUESTED] = [*PATHS[State.DELIVERED], ("request_return", "cs")]
PATHS[State.RETURN_APPROVED] = [*PATHS[State.RETURN_REQUESTED], ("approve_return", "cs")]
PATHS[State.REFUNDED] = [*PATHS[State.RETURN_APPROVED], ("refund", None)]
PATHS[State.ARCHIVED] = [*PATHS[State.DELIVERED], ("archive", "ops1")]
PATHS[State.INTERCEPT_REQUESTED] = [*PATHS[State.PACKED], ("request_intercept", "cs")]
PATHS[State.INTERCEPTED] = [*PATHS[State.INTERCEPT_REQUESTED], ("confirm_intercept", "wh1")]
PATHS[State.INTERCEPT_FAILED] = [*PATHS[State.SHIPPED], ("request_intercept", "cs"), ("fail_intercept", None)]
# Merged orders are made by the merge service (orders/services/split_merge.py), not a path.
assert set(PATHS) == set(State) - {State.MERGED}, "every state needs a demo path"

NOTES = {
    "flag_risk": "收货地址与支付地区不一致，需人工核实",
    "request_return": "买家反馈商品破损，申请退货",
    "cancel": "买家申请取消订单",
    "reship": "包裹丢失，补发",
    "reject_return": "超过退货期限",
    "request_intercept": "买家申请取消，包裹尚未发出，请拦截",
    "fail_intercept": "快递已派送，无法拦截",
    "resume_after_intercept": "地址已改为新地址，重新发货",
}


def demo_users_ensure(password: str | None = None) -> dict:
    """Create the demo users once (roles' groups must exist: run setup_roles first). The
    password is set when a user is created, or on every user when one is given."""
    User = get_user_model()
    users = {}
    for username, family, given, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": given, "last_name": family, "email": f"{username}@example.com"},
        )
        if created or password:
            user.set_password(password or DEFAULT_PASSWORD)
        user.is_staff = True
        user.is_superuser = role is None
        user.save()
        if role is not None:
            user.groups.set([Group.objects.get(name=role.value)])
        users[username] = user
    return users


def demo_brands_ensure(users: dict) -> list[Shop]:
    """The demo brands, their shops and who works them (once); every demo shop returned. Kept
    apart from demo_users_ensure: the tests' demo users work no brand unless a test says so."""
    shops = []
    for code, name, staff, brand_shops in DEMO_BRANDS:
        brand, _created = Brand.objects.get_or_create(code=code, defaults={"name": name})
        brand.staff.add(*(users[username] for username in staff))
        for channel, shop_code, shop_name, external_shop_id in brand_shops:
            shop, _created = Shop.objects.get_or_create(
                code=shop_code,
                defaults={
                    "brand": brand,
                    "channel": channel,
                    "name": shop_name,
                    "external_shop_id": external_shop_id,
                },
            )
            shops.append(shop)
    return shops


def demo_brand_names(username: str) -> list[str]:
    return [name for _code, name, staff, _shops in DEMO_BRANDS if username in staff]


def demo_warehouses_ensure() -> list[Warehouse]:
    fields = ("name", "contact_name", "contact_phone", "province", "city", "district", "address")
    return [
        Warehouse.objects.get_or_create(code=row[0], defaults=dict(zip(fields, row[1:], strict=True)))[0]
        for row in DEMO_WAREHOUSES
    ]


def demo_address(rng: random.Random) -> dict:
    province, city, district, street = rng.choice(_STREETS)
    return {
        "recipient_name": rng.choice(_RECIPIENTS),
        "recipient_phone": f"139{rng.randrange(10**7, 10**8)}",
        "ship_province": province,
        "ship_city": city,
        "ship_district": district,
        "ship_address": street.format(n=rng.randrange(1, 999), m=rng.randrange(1, 40)),
    }


def tracking_number_for(carrier: str, order: Order, rng: random.Random) -> str:
    return f"{carrier.upper()}{order.pk:06d}{rng.randrange(10**5, 10**6)}"


def order_move_to(
    order: Order,
    target: str,
    *,
    users: dict,
    warehouses: list,
    rng: random.Random,
    steps: Mapping[str, Callable[..., None]] | None = None,
) -> Order:
    """Take a new (submitted) order along PATHS[target], each step by its role's demo user.
    `steps`: actions taken some other way than a bare transition, `steps[action](order, actor=,
    users=)`; the demo seed (demo/seed.py) passes the after-sales ones, which this app may not
    name (returns and refunds through the after-sales services, as people would do them)."""
    for action, who in PATHS[target]:
        actor = order.cs_owner if who == "cs" else users[who] if who else None
        if steps and action in steps:
            steps[action](order, actor=actor, users=users)
            continue
        data = {}
        if action == "allocate":
            data["warehouse"] = rng.choice(warehouses)
        if action == "ship":
            carrier = rng.choice([Carrier.SF, Carrier.ZTO, Carrier.CAINIAO])
            data = {"carrier": carrier, "tracking_number": tracking_number_for(carrier, order, rng)}
        order_transition(order.pk, action, actor=actor, note=NOTES.get(action, ""), **data)
    return Order.objects.get(pk=order.pk)
