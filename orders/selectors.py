"""Reads: boards, timelines, shipments, search. Constant query counts, no N+1.

Board querysets carry two annotations the templates and the admin read: `is_stale` (waiting
on someone past the threshold operations set) and, on the operations board, `is_conflicting`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import (
    SHIPPING_FIELDS,
    Attachment,
    Brand,
    HubSettings,
    Interception,
    InterceptionStatus,
    Order,
    OrderEvent,
    OrderException,
    OrderLine,
    Shipment,
    Shop,
)
from .permissions import role_of
from .states import (
    CS_BOARD_STATUSES,
    EXCEPTION_OWNERS,
    SERVICE_ACCOUNTS_GROUP,
    STALE_WATCHED_STATES,
    TERMINAL_STATES,
    TRANSITIONS_BY_ACTION,
    WAREHOUSE_BOARD_STAGES,
    ExceptionReason,
    Priority,
    Role,
    State,
)

# Boards are bounded pages, never "all rows": a board shows what to do next.
BOARD_PAGE_SIZE = 50


# ---------------------------------------------------------------------------------------------
# Brands: who sees which orders. The one rule, applied by every read path (boards, search, the
# timeline and its attachments, the admin, alerts, notifications, the live tokens).


def shop_ids_visible_to(user) -> frozenset[int] | None:
    """The shops whose orders `user` may see, or None for every shop.

    Customer-service staff see the orders of the brands they are assigned to (Brand.staff). One
    assigned to no brand sees the brands nobody is assigned to, so a hub with one brand (or
    brands not yet staffed) works without setting anything up, and nobody sees a brand that has
    its own staff. Everyone else (operations, the tech lead, warehouse, finance, admins and the
    system) sees every order. One query, remembered on the user object for the request; by
    shop id so that the boards filter `shop_id IN (…)` on the order row, without a join."""
    if user is None:
        return None
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    if role_of(user) != Role.CUSTOMER_SERVICE:
        return None
    cached = getattr(user, "_orderhub_shop_ids", None)
    if cached is not None:
        return cached
    assigned = Exists(Brand.staff.through.objects.filter(user_id=user.pk))
    rows = list(
        Shop.objects.annotate(
            mine=Count("brand__staff", filter=Q(brand__staff=user.pk)), staffed=Count("brand__staff"), assigned=assigned
        )
        .values_list("pk", "mine", "staffed", "assigned")
        .order_by()
    )
    if any(is_assigned for _pk, _mine, _staffed, is_assigned in rows):
        # Assigned to brands (even ones with no shop yet): those brands only.
        visible = frozenset(pk for pk, is_mine, _staffed, _assigned in rows if is_mine)
    else:
        visible = frozenset(pk for pk, _mine, staffed, _assigned in rows if not staffed)
    user._orderhub_shop_ids = visible
    return visible


def order_visibility_q(user, *, prefix: str = "") -> Q:
    """The condition "`user` may see this order" on Order (prefix "") or on a model that points
    at one (prefix "order__", "event__order__"); an empty Q for people who see everything."""
    shop_ids = shop_ids_visible_to(user)
    if shop_ids is None:
        return Q()
    return Q(**{f"{prefix}shop_id__in": sorted(shop_ids)})


def order_list_visible_to(*, user, queryset: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """`queryset` (all orders by default) narrowed to the orders `user` may see."""
    queryset = Order.objects.all() if queryset is None else queryset
    return queryset.filter(order_visibility_q(user))


def order_is_visible_to(*, order: Order, user) -> bool:
    shop_ids = shop_ids_visible_to(user)
    return shop_ids is None or order.shop_id in shop_ids


def user_list_seeing_order(*, users, order: Order) -> list:
    """Those of `users` who may see `order` (the rule of shop_ids_visible_to), in two queries
    whatever their number: for addressing notifications."""
    users = list(users)
    scoped = [user for user in users if role_of(user) == Role.CUSTOMER_SERVICE]
    if not scoped:
        return users
    Staff = Brand.staff.through
    of_the_brand = set(Staff.objects.filter(brand__shops=order.shop_id).values_list("user_id", flat=True))
    hidden = set()
    if of_the_brand:
        hidden = {user.pk for user in scoped if user.pk not in of_the_brand}
    else:
        # A brand nobody is assigned to: seen by customer service assigned to no brand.
        with_brands = set(
            Staff.objects.filter(user_id__in=[user.pk for user in scoped]).values_list("user_id", flat=True)
        )
        hidden = {user.pk for user in scoped if user.pk in with_brands}
    return [user for user in users if user.pk not in hidden]


def brand_list_for_user(*, user) -> QuerySet[Brand]:
    """The brands `user` may pick in a brand filter: those whose orders they see."""
    shop_ids = shop_ids_visible_to(user)
    brands = Brand.objects.order_by("name")
    if shop_ids is None:
        return brands
    return brands.filter(pk__in=Shop.objects.filter(pk__in=sorted(shop_ids)).values("brand_id"))


def shop_ids_of_brand(*, brand: Brand | None) -> list[int] | None:
    """The brand's shop ids (None for no brand: no filter), for filters on `shop_id IN (…)`."""
    if brand is None:
        return None
    return list(Shop.objects.filter(brand=brand).values_list("pk", flat=True))


def order_filter_brand(queryset: QuerySet[Order], *, brand: Brand | None, prefix: str = "") -> QuerySet[Order]:
    shop_ids = shop_ids_of_brand(brand=brand)
    if shop_ids is None:
        return queryset
    return queryset.filter(**{f"{prefix}shop_id__in": shop_ids})


def order_timeline(*, order_id: int) -> QuerySet[OrderEvent]:
    """The order's events, oldest first, with their attachments (two queries)."""
    return (
        OrderEvent.objects.filter(order_id=order_id)
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("occurred_at", "id")
    )


def order_shipments(*, order_id: int) -> QuerySet[Shipment]:
    return Shipment.objects.filter(order_id=order_id).select_related("event").order_by("sequence")


def order_list_for_admin(*, user=None) -> QuerySet[Order]:
    return order_list_visible_to(
        user=user, queryset=Order.objects.select_related("cs_owner", "warehouse").prefetch_related("shop__brand")
    )


def merge_window() -> timedelta:
    """How far apart in time a buyer's orders may be to be merged (ORDERHUB_MERGE_WINDOW_HOURS)."""
    return timedelta(hours=getattr(settings, "ORDERHUB_MERGE_WINDOW_HOURS", 48))


def order_merge_candidates(*, order: Order, user=None) -> list[Order]:
    """The buyer's other orders that could be merged with `order` (合单): same shop, buyer and
    address, not in the warehouse yet, ordered within the merge window of it; those `user`
    sees. Oldest first. The merge service checks all of it again under the locks."""
    merge = TRANSITIONS_BY_ACTION["merge"]
    if order.state not in merge.sources or order.main_order_id is not None:
        return []
    if not (order.buyer_email or order.buyer_phone):
        return []
    window = merge_window()
    candidates = order_list_visible_to(
        user=user,
        queryset=Order.objects.filter(
            shop_id=order.shop_id,
            currency=order.currency,
            state__in=merge.sources,
            main_order__isnull=True,
            buyer_email__iexact=order.buyer_email,
            buyer_phone=order.buyer_phone,
            ordered_at__gte=order.ordered_at - window,
            ordered_at__lte=order.ordered_at + window,
        ).exclude(pk=order.pk),
    )

    where = order_place_key(order)
    return [
        o
        for o in candidates.prefetch_related("lines").order_by("ordered_at", "pk")[:50]
        if order_place_key(o) == where and not o.gifts.exists()
    ]


def _text_key(value: str) -> str:
    return " ".join((value or "").split()).casefold()


def order_buyer_key(order: Order) -> tuple[str, str]:
    """Who bought it, as a merge compares buyers (spaces and case aside)."""
    return _text_key(order.buyer_email), _text_key(order.buyer_phone)


def order_place_key(order: Order) -> tuple[str, ...]:
    """Where it goes, as a merge compares addresses (spaces and case aside)."""
    return tuple(_text_key(getattr(order, name)) for name in SHIPPING_FIELDS)


# ---------------------------------------------------------------------------------------------
# Thresholds


def hub_settings_get() -> HubSettings:
    """The one settings row (created with its defaults the first time it is read)."""
    settings_row, _created = HubSettings.objects.get_or_create(pk=1)
    return settings_row


# (time.monotonic() read, the row): see hub_settings_cached.
_hub_settings_cache: list[tuple[float, HubSettings]] = []


def hub_settings_cached() -> HubSettings:
    """The settings row as this process read it at most ORDERHUB_RULES_CACHE_SECONDS ago, for
    the hot paths that read it on every order (intake's exception checks): operations change it
    a few times a year, and a save in the admin clears it (hub_settings_cache_clear)."""
    ttl = settings.ORDERHUB_RULES_CACHE_SECONDS
    now = time.monotonic()
    if ttl > 0 and _hub_settings_cache and now - _hub_settings_cache[0][0] < ttl:
        return _hub_settings_cache[0][1]
    row = hub_settings_get()
    _hub_settings_cache[:] = [(now, row)] if ttl > 0 else []
    return row


def hub_settings_cache_clear(**_kwargs) -> None:
    _hub_settings_cache.clear()


@dataclass(frozen=True)
class BoardClock:
    """What "stale" and "conflicting" mean for one page view: read once, used by every row.
    `stale_cutoffs` pairs each watched state with its own cutoff: operations may give a state a
    threshold of its own (alerts.StaleThreshold), the rest use the hub's default, so the boards
    and the stale-order alerts agree."""

    now: datetime
    stale_cutoff: datetime
    conflict_since: datetime
    conflict_role_count: int
    stale_after_minutes: int
    stale_cutoffs: tuple[tuple[str, datetime], ...] = ()

    @classmethod
    def read(cls, *, now: datetime | None = None) -> BoardClock:
        from django.apps import apps

        now = now or timezone.now()
        settings_row = hub_settings_get()
        default = settings_row.stale_after_minutes
        own = dict(
            apps.get_model("alerts", "StaleThreshold")
            .objects.filter(state__in=STALE_WATCHED_STATES)
            .values_list("state", "minutes")
        )
        return cls(
            now=now,
            stale_cutoff=now - timedelta(minutes=default),
            conflict_since=now - timedelta(hours=settings_row.conflict_window_hours),
            conflict_role_count=settings_row.conflict_role_count,
            stale_after_minutes=default,
            stale_cutoffs=tuple(
                (str(state), now - timedelta(minutes=own.get(state, default))) for state in STALE_WATCHED_STATES
            ),
        )


def _stale_q(clock: BoardClock) -> Q:
    """Watched states past their cutoff: one (state IN …, changed before …) per distinct
    cutoff, each served by the (state, state_changed_at) index."""
    if not clock.stale_cutoffs:
        return Q(state__in=STALE_WATCHED_STATES, state_changed_at__lt=clock.stale_cutoff)
    by_cutoff: dict[datetime, list[str]] = {}
    for state, cutoff in clock.stale_cutoffs:
        by_cutoff.setdefault(cutoff, []).append(state)
    condition = Q()
    for cutoff, states in by_cutoff.items():
        condition |= Q(state__in=states, state_changed_at__lt=cutoff)
    return condition


def order_annotate_stale(queryset: QuerySet[Order], *, clock: BoardClock) -> QuerySet[Order]:
    return queryset.annotate(
        is_stale=Case(When(_stale_q(clock), then=Value(True)), default=Value(False), output_field=BooleanField())
    )


def order_filter_stale(queryset: QuerySet[Order], *, clock: BoardClock, stale: bool) -> QuerySet[Order]:
    return queryset.filter(_stale_q(clock)) if stale else queryset.exclude(_stale_q(clock))


def order_filter_owner(queryset: QuerySet[Order], *, user, owner: str) -> QuerySet[Order]:
    """owner: "mine", "unassigned", or anything else for all owners."""
    if owner == "mine":
        return queryset.filter(cs_owner=user)
    if owner == "unassigned":
        return queryset.filter(cs_owner__isnull=True)
    return queryset


def order_search(queryset: QuerySet[Order], *, term: str) -> QuerySet[Order]:
    """One box for what a customer quotes: order number, channel order id, tracking number,
    email or phone. Exact matches only, each on an index, so it stays instant at millions of
    orders (a substring search would read every row).

    The tracking number is looked up first, in a query of its own: a subquery inside the OR
    would keep PostgreSQL from combining the order indexes, and it would read every order."""
    term = (term or "").strip()
    if not term:
        return queryset
    match = Q(number=term.upper()) | Q(external_id=term) | Q(buyer_phone=term)
    if "@" in term:
        match |= Q(buyer_email__in={term, term.lower()})
    # Tracking numbers are stored upper-case (the transition service normalises them).
    tracked = list(
        Shipment.objects.filter(tracking_number=term.upper()).values_list("order_id", flat=True)[:BOARD_PAGE_SIZE]
    )
    if tracked:
        match |= Q(pk__in=tracked)
    return queryset.filter(match)


# ---------------------------------------------------------------------------------------------
# Boards
#
# Each board prefetches the rows' shop and brand (two small queries) instead of joining them:
# joined, a shop table PostgreSQL had not analysed yet (a few rows, below autovacuum's
# threshold) made it repeat the board's scan once per brand (bench/boards.py: 470 ms). The
# boards read slice by slice (board_rows_by_slices) prefetch the owner and the warehouse too:
# joined into each of the UNION's branches they cost more to plan (8 ms at nine branches) than
# the two queries by primary key.


# The customer-service board's working order: the newest first.
CS_WORKING_ORDER = ("-ordered_at", "-id")


def order_list_for_cs_board(*, clock: BoardClock, user=None) -> QuerySet[Order]:
    """Orders to review or still waiting to ship, newest first (those `user` may see)."""
    queryset = (
        order_list_visible_to(user=user, queryset=Order.objects.filter(main_status__in=CS_BOARD_STATUSES))
        .select_related("cs_owner", "warehouse")
        .prefetch_related("shop__brand")
    )
    return order_annotate_stale(queryset, clock=clock).order_by(*CS_WORKING_ORDER)


def _stage_rank():
    return Case(
        *(When(warehouse_stage=stage, then=Value(rank)) for rank, stage in enumerate(WAREHOUSE_BOARD_STAGES)),
        default=Value(len(WAREHOUSE_BOARD_STAGES)),
    )


def order_list_for_warehouse_board(*, clock: BoardClock, user=None) -> QuerySet[Order]:
    """Everything in the warehouse, grouped by stage in working order, the priority lane first
    within each stage, then the oldest first (it has waited longest). The current shipment is
    prefetched for the awaiting-pickup rows, the lines for each card's packing list."""
    queryset = (
        order_list_visible_to(user=user, queryset=Order.objects.filter(warehouse_stage__in=WAREHOUSE_BOARD_STAGES))
        .prefetch_related("cs_owner", "warehouse", "shop__brand")
        .prefetch_related(Prefetch("shipments", queryset=Shipment.objects.order_by("-sequence")))
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("position")))
        # 截单: why the parcel is to be pulled, on the cards on top.
        .prefetch_related(
            Prefetch(
                "interceptions",
                queryset=Interception.objects.filter(status=InterceptionStatus.REQUESTED),
                to_attr="open_interceptions",
            )
        )
        .annotate(stage_rank=_stage_rank())
    )
    return order_annotate_stale(queryset, clock=clock).order_by("stage_rank", "-priority", "ordered_at", "id")


def warehouse_stage_counts(queryset: QuerySet[Order] | None = None) -> list[dict]:
    """[{"stage", "count", "priority"}] for the warehouse board's groups, in working order, from
    one aggregate query over `queryset` (the board's filtered rows, or all of it)."""
    if queryset is None:
        queryset = Order.objects.filter(warehouse_stage__in=WAREHOUSE_BOARD_STAGES)
    # Counting a column of the warehouse board's index (the stage), not the id: PostgreSQL
    # counts from the index alone (120 pages instead of 9,000 at 18,000 rows).
    aggregates = {}
    for stage in WAREHOUSE_BOARD_STAGES:
        in_stage = Q(warehouse_stage=stage)
        aggregates[f"{stage}_count"] = Count("warehouse_stage", filter=in_stage)
        aggregates[f"{stage}_priority"] = Count("warehouse_stage", filter=in_stage & Q(priority=Priority.HIGH))
    totals = queryset.order_by().aggregate(**aggregates)
    return [
        {"stage": stage, "count": totals[f"{stage}_count"], "priority": totals[f"{stage}_priority"]}
        for stage in WAREHOUSE_BOARD_STAGES
    ]


def order_contested_q(clock: BoardClock) -> Q:
    """Orders changed by `conflict_role_count` or more roles of people within the window, that
    still take changes (an archived order takes none: nothing for operations to untangle).
    Each save of a change keeps `contested_until` (orders/conflicts.py), so this is a lookup on
    a small index rather than an aggregate over the window's events."""
    return Q(contested_until__gte=clock.now) & ~Q(state__in=TERMINAL_STATES)


def order_list_for_ops_board(*, clock: BoardClock, user=None) -> QuerySet[Order]:
    """Stale orders, orders many roles are changing, and risk holds, the longest-waiting first.
    Each condition is an index lookup (state + state changed at, primary key), so PostgreSQL
    combines them instead of scanning every order."""
    conflicting = order_contested_q(clock)
    queryset = (
        order_list_visible_to(
            user=user, queryset=Order.objects.filter(_stale_q(clock) | conflicting | Q(state=State.RISK_HOLD))
        )
        .prefetch_related("cs_owner", "warehouse", "shop__brand")
        .annotate(
            is_conflicting=Case(When(conflicting, then=Value(True)), default=Value(False), output_field=BooleanField())
        )
    )
    return order_annotate_stale(queryset, clock=clock).order_by("state_changed_at", "id")


def order_filter_ops_kind(queryset: QuerySet[Order], *, clock: BoardClock, kind: str) -> QuerySet[Order]:
    if kind == "stale":
        return queryset.filter(_stale_q(clock))
    if kind == "conflicting":
        # The condition itself rather than the row's is_conflicting: its index serves it.
        return queryset.filter(order_contested_q(clock))
    if kind == "risk_hold":
        return queryset.filter(state=State.RISK_HOLD)
    return queryset


def board_rows(queryset: QuerySet[Order], *, limit: int = BOARD_PAGE_SIZE) -> tuple[list[Order], bool]:
    """The first `limit` rows and whether there are more, from one query."""
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit


def board_rows_by_slices(
    queryset: QuerySet[Order],
    *,
    slices: list[Q],
    order: tuple[str, ...],
    slice_order: tuple[str, ...] | None = None,
    limit: int = BOARD_PAGE_SIZE,
) -> tuple[list[Order], bool]:
    """The first `limit` rows of `queryset` in `order`, as the union of at most `limit` + 1 rows
    of each slice (the slices must cover the queryset), each read in `slice_order` along an
    index that serves it. Sorting the whole candidate set instead reads every order in it (tens
    of thousands on a busy day) to keep fifty. SQLite (the embedded mode, small) cannot limit
    inside a UNION: it sorts the lot."""
    if queryset.query.is_empty():  # .none() (an invalid filter): a union of nothing is not one
        return [], False
    if not connections[queryset.db].features.supports_slicing_ordering_in_compound:
        return board_rows(queryset.order_by(*order), limit=limit)
    parts = [queryset.filter(part).order_by(*(slice_order or order))[: limit + 1] for part in slices]
    combined = parts[0].union(*parts[1:], all=True).order_by(*order) if len(parts) > 1 else parts[0]
    rows = list(combined[: limit + 1])
    return rows[:limit], len(rows) > limit


def cs_board_rows(queryset: QuerySet[Order], *, limit: int = BOARD_PAGE_SIZE) -> tuple[list[Order], bool]:
    """The customer-service board's rows, the newest first: main status by main status along the
    (main status, order time) index. Both statuses at once, PostgreSQL ANDs that index with the
    shop's and fetches every matching row to keep fifty: on 5,000,000 orders 11,000 rows from
    27,000 pages, 250-500 ms (bench/growth.py)."""
    return board_rows_by_slices(
        queryset,
        slices=[Q(main_status=status) for status in CS_BOARD_STATUSES],
        order=CS_WORKING_ORDER,
        limit=limit,
    )


def warehouse_board_rows(queryset: QuerySet[Order], *, limit: int = BOARD_PAGE_SIZE) -> tuple[list[Order], bool]:
    """The warehouse board's rows: stage by stage, each along the board's (stage, priority,
    order time) index."""
    return board_rows_by_slices(
        queryset,
        slices=[Q(warehouse_stage=stage) for stage in WAREHOUSE_BOARD_STAGES],
        order=("stage_rank", "-priority", "ordered_at", "id"),
        slice_order=("-priority", "ordered_at", "id"),
        limit=limit,
    )


def ops_board_rows(
    queryset: QuerySet[Order], *, clock: BoardClock, limit: int = BOARD_PAGE_SIZE
) -> tuple[list[Order], bool]:
    """The operations board's rows, the longest-waiting first: state by state along the (state,
    state changed at) index, plus the few contested orders in any other state. Those are on
    the board only as contested, so their slice reads the contested index by the page's clock."""
    watched = [*STALE_WATCHED_STATES, State.RISK_HOLD]
    contested_elsewhere = ~Q(state__in=watched) & order_contested_q(clock)
    return board_rows_by_slices(
        queryset,
        slices=[Q(state=state) for state in dict.fromkeys(watched)] + [contested_elsewhere],
        order=("state_changed_at", "id"),
        limit=limit,
    )


def ops_board_count(*, clock: BoardClock, user=None) -> int:
    """The unfiltered operations board's size, as the sum of disjoint parts each counted along
    an index: stale orders in the watched states but risk hold, and every risk hold (each from
    the (state, state changed at) index alone; one query each, as their OR reads the rows),
    then the contested orders neither covers (the contested index; a few hundred). COUNT(*)
    over the board's OR condition reads every listed order's row instead (on the 1,000,000-
    order set 26 ms against 4)."""
    visible = order_list_visible_to(user=user, queryset=Order.objects.all())
    others = [state for state in dict.fromkeys(STALE_WATCHED_STATES) if state != State.RISK_HOLD]
    stale = order_filter_stale(visible.filter(state__in=others), clock=clock, stale=True)
    held = visible.filter(state=State.RISK_HOLD)
    contested_only = order_filter_stale(
        visible.filter(order_contested_q(clock)).exclude(state=State.RISK_HOLD), clock=clock, stale=False
    )
    return stale.count() + held.count() + contested_only.count()


def board_change_token(*, now: datetime | None = None, user=None) -> str:
    """A cheap fingerprint of "something changed": the newest event ids (one index-only read of
    the last 200), so a poll that finds the same token needs no board query at all. The ids'
    sum catches a transaction that committed after a newer one; the minute turns stale rows
    red even when nothing else happens. For brand-scoped people, the newest events of the
    orders they see: another brand's work neither refreshes their board nor shows through it."""
    events = OrderEvent.objects.filter(order_visibility_q(user, prefix="order__"))
    # Through a cursor (iterator), which PostgreSQL never plans in parallel: on 5,000,000 orders
    # it chose two workers for the brand-scoped read, whose start alone took 50-150 ms on two
    # busy cores, against 23 ms for one process walking the newest events (bench/growth.py).
    ids = list(events.order_by("-id").values_list("id", flat=True)[:200].iterator(chunk_size=200))
    minute = int((now or timezone.now()).timestamp() // 60)
    return f"{ids[0] if ids else 0}.{sum(ids) % 1_000_003}.{minute}"


# -- a buyer's delivered orders ----------------------------------------------------------------

# An order counts as delivered once it reached delivery: these states come only after it.
# Archived orders count only when they were delivered (an order can also be archived after a
# cancellation).
DELIVERED_OR_LATER = (
    State.DELIVERED,
    State.INVOICE_REQUESTED,
    State.RETURN_REQUESTED,
    State.RETURN_APPROVED,
    State.REFUNDED,
)


def _email_variants(email: str) -> set[str]:
    """The forms an email is stored in (as typed, lower case, domain in lower case): each an
    exact match on the email index, which a case-insensitive comparison could not use."""
    variants = {email, email.lower()}
    local, at, domain = email.rpartition("@")
    if at:
        variants.add(f"{local}@{domain.lower()}")
    return variants


def _delivered_orders() -> Q:
    delivered = OrderEvent.objects.filter(order_id=OuterRef("pk"), action="deliver")
    return Q(is_gift=False) & (Q(state__in=DELIVERED_OR_LATER) | Q(Q(state=State.ARCHIVED) & Exists(delivered)))


def buyer_delivered_orders_counts(orders: list[Order]) -> list[int]:
    """For each order, how many other delivered orders its buyer has (same email in any of its
    stored forms, or same phone; gift orders are not purchases and do not count): one query over
    the buyers' orders through the email and phone indexes, counted per order in Python. The
    repeat-customer return rule and the operations rules' condition both read it."""
    emails: set[str] = set()
    phones: set[str] = set()
    wanted = []
    for order in orders:
        email = (order.buyer_email or "").strip()
        phone = (order.buyer_phone or "").strip()
        variants = _email_variants(email) if email else set()
        emails |= variants
        if phone:
            phones.add(phone)
        wanted.append((variants, phone))
    match = Q()
    if emails:
        match |= Q(buyer_email__in=sorted(emails))
    if phones:
        match |= Q(buyer_phone__in=sorted(phones))
    if not match:
        return [0] * len(orders)
    by_email: dict[str, set[int]] = {}
    by_phone: dict[str, set[int]] = {}
    for pk, email, phone in (
        Order.objects.filter(match).filter(_delivered_orders()).values_list("pk", "buyer_email", "buyer_phone")
    ):
        by_email.setdefault(email, set()).add(pk)
        if phone:
            by_phone.setdefault(phone, set()).add(pk)
    counts = []
    for order, (variants, phone) in zip(orders, wanted, strict=True):
        found: set[int] = set()
        for variant in variants:
            found |= by_email.get(variant, set())
        if phone:
            found |= by_phone.get(phone, set())
        found.discard(order.pk)
        counts.append(len(found))
    return counts


def order_goods_revenue(order_ref: str = "pk") -> Subquery:
    """What the order's lines bring in (quantity × unit price less the discounts; a gift line
    none): a subquery to annotate rows with, NULL for an order without lines, 0 for one whose
    every line is a gift. `order_ref`: the outer query's reference to the order (e.g.
    "order_id" from an invoice request)."""
    money: DecimalField = DecimalField(max_digits=14, decimal_places=2)
    net = ExpressionWrapper(F("quantity") * F("unit_price") - F("discount"), output_field=money)
    revenue = Case(When(is_gift=True, then=Value(Decimal("0"))), default=net, output_field=money)
    lines = (
        OrderLine.objects.filter(order_id=OuterRef(order_ref))
        .order_by()
        .values("order_id")
        .annotate(goods=Sum(revenue))
        .values("goods")
    )
    return Subquery(lines, output_field=money)


def order_promise_start() -> Coalesce:
    """An expression: when the order's promise to ship started. Set by a split or a merge
    (Order.promise_from), else its latest "pay" event (the index on (order, occurred_at) finds
    an order's few events), else when it was ordered (paid at intake). Never before the order
    time, which the SLA sweep's first cut relies on."""
    pay = OrderEvent.objects.filter(order_id=OuterRef("pk"), action="pay").order_by("-occurred_at")
    return Coalesce(F("promise_from"), Subquery(pay.values("occurred_at")[:1]), F("ordered_at"))


def order_lines_as_bought(order_ids) -> dict[int, list[tuple[str, int]]]:
    """{order id: [(SKU, quantity)]}: the lines each order was bought with on its channel, where
    they are now (a split or a merge moves lines; each remembers its platform order), in
    position order. For reconciliation and write-back, which speak of the channel's orders."""
    ids = list(order_ids)
    found: dict[int, list[tuple[str, int]]] = {}
    if not ids:
        return found
    rows = (
        OrderLine.objects.filter(Q(order_id__in=ids, origin_order__isnull=True) | Q(origin_order_id__in=ids))
        .order_by("origin_order_id", "order_id", "position")
        .values_list("order_id", "origin_order_id", "sku", "quantity")
    )
    for order_id, origin_id, sku, quantity in rows.iterator(chunk_size=10000):
        found.setdefault(origin_id or order_id, []).append((sku, quantity))
    return found


def order_amounts_as_bought(orders: dict[int, Decimal]) -> dict[int, Decimal]:
    """{order id: amount} as the channel knows it, from {order id: amount in the hub}: a split
    moved part of the amount to the part split off, a merge moved a part's amount to the order
    kept; their events say how much, and this adds it back (or takes it off). Orders never split
    or merged keep their amount; one query for the few that were."""
    amounts = dict(orders)
    events = OrderEvent.objects.filter(
        order_id__in=list(orders), action__in=("split", "merge", "merged_in")
    ).values_list("order_id", "action", "data")
    for order_id, action, data in events.iterator(chunk_size=2000):
        if action in ("split", "merge"):  # the amount that left this order
            amounts[order_id] += Decimal(data.get("amount") or 0)
        else:  # merged_in: the parts' amounts that came in
            amounts[order_id] -= sum((Decimal(part.get("amount") or 0) for part in data.get("parts", [])), Decimal(0))
    return amounts


# -- the exception queues (异常订单) ---------------------------------------------------------------


def exception_roles_for(user) -> tuple[str, ...] | None:
    """The owner roles whose exception queue `user` works; None: every queue (operations,
    admins, and the system)."""
    if user is None:
        return None
    role = role_of(user)
    if role in (Role.OPERATIONS, Role.ADMIN):
        return None
    return (role,) if role else ()


def open_exceptions_for(user) -> QuerySet[OrderException]:
    """The open exceptions in `user`'s queues."""
    open_ones = OrderException.objects.filter(cleared_at__isnull=True)
    roles = exception_roles_for(user)
    return open_ones if roles is None else open_ones.filter(owner_role__in=roles)


def order_list_for_exception_board(*, clock: BoardClock, user=None) -> QuerySet[Order]:
    """The orders with an open exception in the viewer's queues (operations: every queue), the
    longest-waiting exception first; each row's open exceptions of those queues prefetched as
    `open_exceptions`. The semi-join reads the partial index of open exceptions."""
    mine = open_exceptions_for(user)
    of_row = mine.filter(order_id=OuterRef("pk"))
    queryset = (
        order_list_visible_to(user=user, queryset=Order.objects.filter(Exists(of_row)))
        .prefetch_related("cs_owner", "warehouse", "shop__brand")
        .prefetch_related(Prefetch("exceptions", queryset=mine.order_by("raised_at", "id"), to_attr="open_exceptions"))
        .annotate(first_raised=Subquery(of_row.order_by("raised_at").values("raised_at")[:1]))
    )
    return order_annotate_stale(queryset, clock=clock).order_by("first_raised", "id")


def order_filter_exception_reason(queryset: QuerySet[Order], *, reason: str, user=None) -> QuerySet[Order]:
    return queryset.filter(Exists(open_exceptions_for(user).filter(order_id=OuterRef("pk"), reason=reason)))


def exception_reason_counts(orders: QuerySet[Order], *, user=None) -> list[dict]:
    """[{"reason", "label", "count"}] of the open exceptions of `orders` (the board's filtered
    rows) in the viewer's queues, every reason of those queues listed, from one query."""
    counted = dict(
        open_exceptions_for(user)
        .filter(order_id__in=orders.order_by().values("pk"))
        .order_by()
        .values_list("reason")
        .annotate(count=Count("id"))
    )
    roles = exception_roles_for(user)
    return [
        {"reason": reason, "label": ExceptionReason(reason).label, "count": counted.get(reason, 0)}
        for reason in ExceptionReason.values
        if roles is None or EXCEPTION_OWNERS[reason] in roles
    ]


def people_in_role(role: str):
    """The active people holding a role: its group's users, without the service users of API
    clients (orders.states.SERVICE_ACCOUNTS_GROUP), which hold it only for its permissions."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=role)
        .exclude(groups__name=SERVICE_ACCOUNTS_GROUP)
        .distinct()
        .order_by("username")
    )
