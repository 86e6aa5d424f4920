"""异常订单: the reasons an order waits for a person, raised and cleared.

    order_exceptions_raise(raises, source=..., actor=None) -> [OrderException]   # in a transaction
    order_exception_raise(order=..., reason=..., source=..., detail=...)        # one, the same way
    order_exception_clear(exception_id=..., actor=..., note=...)                # by the owning role
    intake_exceptions_detect(orders, lines=..., mismatches=...) -> [ExceptionRaise]

Raising writes, per exception, an `exception_raised` timeline event (state and version as
they are) and the OrderException row that points at it, through one builder for one order and
a batch import alike; the events go to the outbox like any other, so a rule can tell the owning
role. A reason already open on the order is not raised twice. Clearing is the owning role's
(operations and admins may clear any): it records who, when and why, as an
`exception_cleared` event; a risk hold is cleared by releasing it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Field, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..events import EXCEPTION_CLEARED, EXCEPTION_RAISED, order_event_build, order_event_create, order_events_recorded
from ..exceptions import ActionNotPermitted, InvalidActionData, OrderError
from ..models import Order, OrderEvent, OrderException
from ..outbox.services import outbox_enqueue_for_event, outbox_enqueue_for_events
from ..permissions import role_of
from ..regions import province_of
from ..selectors import hub_settings_cached
from ..states import EXCEPTION_CLEARING, EXCEPTION_OWNERS, ExceptionReason, Role, State
from .locking import order_lock
from .sql import rows_insert

Source = OrderException.Source


class ExceptionNotOpen(OrderError):
    def __init__(self):
        super().__init__(_("This exception was cleared already."))


@dataclass(frozen=True)
class ExceptionRaise:
    """One exception to raise on a saved order."""

    order: Order
    reason: str
    detail: str = ""
    data: dict = field(default_factory=dict)


def _bilingual(label) -> str:
    """A label as the record keeps it: in both languages (notes are data, read in either)."""
    with translation.override("zh-hans"):
        chinese = str(label)
    with translation.override("en"):
        english = str(label)
    return chinese if chinese == english else f"{chinese} / {english}"


def exception_note(reason: str, detail: str) -> str:
    label = _bilingual(ExceptionReason(reason).label)
    return f"{label}: {detail}" if detail else label


def order_exceptions_raise(
    raises: Sequence[ExceptionRaise], *, source: str, actor=None, at=None
) -> list[OrderException]:
    """Raise each exception not already open on its order, inside the caller's transaction: the
    events and rows in a few INSERTs (COPY on PostgreSQL) and the events' outbox rows."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_exceptions_raise needs an open transaction")
    if not raises:
        return []
    at = at or timezone.now()
    order_ids = {r.order.pk for r in raises}
    open_now = set(
        OrderException.objects.filter(order_id__in=order_ids, cleared_at__isnull=True).values_list("order_id", "reason")
    )
    events: list[OrderEvent] = []
    rows: list[OrderException] = []
    for item in raises:
        key = (item.order.pk, str(item.reason))
        if key in open_now:
            continue
        open_now.add(key)
        owner = EXCEPTION_OWNERS[item.reason]
        data = {"reason": str(item.reason), "owner_role": str(owner), "source": source, **item.data}
        event = order_event_build(
            order=item.order,
            action=EXCEPTION_RAISED,
            from_state=item.order.state,
            actor=actor,
            occurred_at=at,
            note=exception_note(item.reason, item.detail),
            data=data,
        )
        events.append(event)
        rows.append(
            OrderException(
                order=item.order,
                reason=item.reason,
                owner_role=owner,
                detail=item.detail,
                data=item.data,
                source=source,
                raised_at=at,
                raised_event=event,
            )
        )
    if not rows:
        return []
    rows_insert(OrderEvent, events)
    order_events_recorded(events)
    for row, event in zip(rows, events, strict=True):
        row.raised_event_id = event.pk
    rows_insert(OrderException, rows)
    outbox_enqueue_for_events(events)
    return rows


def order_exception_raise(
    *, order: Order, reason: str, source: str, detail: str = "", data: dict | None = None, actor=None
) -> OrderException | None:
    """One exception (None when that reason is open on the order already)."""
    raised = order_exceptions_raise(
        [ExceptionRaise(order=order, reason=reason, detail=detail, data=data or {})], source=source, actor=actor
    )
    return raised[0] if raised else None


def exception_may_clear(actor, exception: OrderException) -> bool:
    """The owning role clears; operations and admins may clear any."""
    role = role_of(actor)
    return role in (Role.ADMIN, Role.OPERATIONS) or role == exception.owner_role


def order_exception_clear(*, exception_id: int, actor, note: str = "") -> OrderException:
    """The owning role clears an open exception (operations and admins any), with the order
    locked: who, when and why on the exception and the timeline. A risk hold is cleared by
    releasing the order (the release transition, operations only); releasing it any other way
    clears it too (order_exceptions_clear_for_state)."""
    from .transition import order_transition_in_transaction  # the transition service clears holds itself

    with transaction.atomic(durable=True):
        exception = OrderException.objects.select_related("order").filter(pk=exception_id).first()
        if exception is None:
            raise InvalidActionData(_("There is no such exception."))
        order = order_lock(exception.order_id)
        exception = OrderException.objects.select_for_update().get(pk=exception_id)
        if not exception.is_open:
            raise ExceptionNotOpen()
        if actor is not None and not exception_may_clear(actor, exception):
            role = role_of(actor)
            raise ActionNotPermitted(
                role_label=str(Role(role).label) if role else _("no role"),
                action_label=str(EXCEPTION_CLEARING[exception.reason]),
            )
        note = (note or "").strip()
        if exception.reason == ExceptionReason.RISK_HOLD and order.state == State.RISK_HOLD:
            order_transition_in_transaction(order.pk, "release", actor=actor, note=note)
            exception.refresh_from_db()
            return exception
        if exception.reason == ExceptionReason.ADDRESS_INCOMPLETE:
            missing = address_problems(Order.objects.get(pk=order.pk))
            if missing:
                raise InvalidActionData(
                    _("The address is still incomplete (%(missing)s): fix it first.") % {"missing": ", ".join(missing)}
                )
        return _clear(exception, order=order, actor=actor, note=note)


def _clear(exception: OrderException, *, order: Order, actor, note: str) -> OrderException:
    now = timezone.now()
    clearing = _bilingual(EXCEPTION_CLEARING[exception.reason])
    event = order_event_create(
        order=order,
        action=EXCEPTION_CLEARED,
        from_state=order.state,
        actor=actor,
        occurred_at=now,
        note=f"{exception_note(exception.reason, '')} — {clearing}" + (f": {note}" if note else ""),
        data={"reason": exception.reason, "exception": exception.pk},
    )
    outbox_enqueue_for_event(event)
    exception.cleared_at, exception.cleared_by, exception.cleared_note, exception.cleared_event = (
        now,
        actor,
        note,
        event,
    )
    exception.save(update_fields=["cleared_at", "cleared_by", "cleared_note", "cleared_event"])
    return exception


def order_address_exception_settle(*, order: Order, actor) -> OrderException | None:
    """After the address was edited (inside that transaction): an open *address incomplete*
    exception is cleared by the edit when nothing is missing any more, the editor named; an
    address still incomplete keeps it open. Returns the cleared exception, if any."""
    exception = (
        OrderException.objects.select_for_update()
        .filter(order_id=order.pk, reason=ExceptionReason.ADDRESS_INCOMPLETE, cleared_at__isnull=True)
        .first()
    )
    if exception is None or address_problems(order):
        return None
    return _clear(exception, order=order, actor=actor, note=_bilingual(gettext_lazy("the address was corrected")))


# The transitions that raise or clear exceptions by themselves (the transition service asks).
EXCEPTION_TRANSITIONS = frozenset({"flag_risk", "release", "cancel"})


def order_exceptions_for_transition(*, order: Order, actor, action: str, note: str, by_rule: bool) -> None:
    """Inside a transition's transaction, after its event: a risk hold is an exception of
    operations until released; a cancelled order needs nobody any more, so its open ones go."""
    if action == "flag_risk":
        source = Source.RULE if by_rule else Source.PERSON if actor is not None else Source.SYSTEM
        order_exception_raise(order=order, reason=ExceptionReason.RISK_HOLD, source=source, detail=note, actor=actor)
    elif action in ("release", "cancel"):
        order_exceptions_clear_for_state(order=order, actor=actor, action=action)


def order_exceptions_clear_for_state(*, order: Order, actor, action: str) -> None:
    """A risk hold released clears its exception; a cancel clears every open one."""
    reasons = None if action == "cancel" else [ExceptionReason.RISK_HOLD]
    open_ones = OrderException.objects.filter(order_id=order.pk, cleared_at__isnull=True)
    if reasons is not None:
        open_ones = open_ones.filter(reason__in=reasons)
    for exception in open_ones.order_by("id"):
        _clear(exception, order=order, actor=actor, note="")


def _out_of_stock_elsewhere(exception: OrderException, skus: set[str]) -> bool:
    """An *out of stock* naming SKUs none of which is in `skus` (the lines are elsewhere now)."""
    named = {str(sku).casefold() for sku in exception.data.get("skus") or []}
    return (
        exception.reason == ExceptionReason.OUT_OF_STOCK
        and bool(named)
        and not named & {sku.casefold() for sku in skus}
    )


def order_exceptions_carry(
    *, from_order: Order, to_order: Order, actor, move: bool, answered_twins: Sequence[int] = ()
) -> list[OrderException]:
    """A split or a merge (inside its transaction, lines already moved): the open exceptions of
    `from_order` are raised on `to_order` too (the same buyer, address and remark), and with
    `move` cleared on `from_order`, which needs nobody any more. Not carried: a *suspected
    duplicate* of one of `answered_twins` (merging the two answered it: both are wanted, in one
    parcel), and an *out of stock* whose SKUs `to_order` does not hold. Returns those raised."""
    skus_to = set(to_order.lines.values_list("sku", flat=True))
    open_ones = list(OrderException.objects.filter(order_id=from_order.pk, cleared_at__isnull=True).order_by("id"))
    raised = order_exceptions_raise(
        [
            ExceptionRaise(
                order=to_order, reason=e.reason, detail=e.detail, data={**e.data, "carried_from": from_order.number}
            )
            for e in open_ones
            if not (e.reason == ExceptionReason.SUSPECTED_DUPLICATE and e.data.get("twin") in answered_twins)
            and not _out_of_stock_elsewhere(e, skus_to)
        ],
        source=Source.PERSON if actor is not None else Source.SYSTEM,
        actor=actor,
    )
    if move:
        for exception in open_ones:
            _clear(exception, order=from_order, actor=actor, note=to_order.number)
    return raised


def order_stock_exceptions_settle(*, order: Order, actor, note: str) -> None:
    """After a split (inside its transaction): an *out of stock* of SKUs the order no longer
    holds (they were split off) is cleared, `note` saying where they went."""
    skus = set(order.lines.values_list("sku", flat=True))
    for exception in OrderException.objects.filter(
        order_id=order.pk, reason=ExceptionReason.OUT_OF_STOCK, cleared_at__isnull=True
    ).order_by("id"):
        if _out_of_stock_elsewhere(exception, skus):
            _clear(exception, order=order, actor=actor, note=note)


def order_duplicates_answered(*, order: Order, twins: Sequence[int], actor) -> None:
    """A merge (inside its transaction): the order's open *suspected duplicate* of one of
    `twins` is answered by the merge, which ships both in one parcel: cleared, saying so."""
    for exception in OrderException.objects.filter(
        order_id=order.pk, reason=ExceptionReason.SUSPECTED_DUPLICATE, cleared_at__isnull=True
    ).order_by("id"):
        if exception.data.get("twin") in twins:
            _clear(exception, order=order, actor=actor, note=_bilingual(gettext_lazy("merged into one parcel")))


def order_has_open_exception(order_id: int) -> bool:
    return OrderException.objects.filter(order_id=order_id, cleared_at__isnull=True).exists()


# -- what intake looks for ----------------------------------------------------------------------

_ADDRESS_PARTS = ("recipient_name", "recipient_phone", "ship_province", "ship_city", "ship_address")
_DIGITS_RE = re.compile(r"\d")


def _verbose_name(name: str):
    return cast(Field, Order._meta.get_field(name)).verbose_name


# The shop's usual amount: the mean of its last orders, when it has this many to go by.
USUAL_AMOUNT_MIN_ORDERS = 20
_USUAL_AMOUNT_SAMPLE = 200


def address_problems(order: Order) -> list[str]:
    """What is missing from an address that was given ([] for a complete one, and for an order
    with no address at all: nothing to ship, e.g. a digital good or a pickup)."""
    given = [getattr(order, name) for name in _ADDRESS_PARTS]
    if not any(given) and not order.ship_district:
        return []
    missing = [_bilingual(_verbose_name(name)) for name, value in zip(_ADDRESS_PARTS, given, strict=True) if not value]
    digits = len(_DIGITS_RE.findall(order.recipient_phone or ""))
    if order.recipient_phone and not 7 <= digits <= 15:
        missing.append(_bilingual(gettext_lazy("a phone number that can be dialled")))
    if order.ship_province and province_of(order.ship_province) is None and _CJK_RE.search(_address_text(order)):
        # A Chinese address whose province is none of China's: no warehouse or carrier rule can
        # place it, and a courier cannot either.
        missing.append(
            _bilingual(gettext_lazy("a province that exists (got “%(province)s”)")) % {"province": order.ship_province}
        )
    return missing


_CJK_RE = re.compile(r"[\u4e00-\u9fff]")


def _address_text(order: Order) -> str:
    return f"{order.ship_province}{order.ship_city}{order.ship_address}"


# {shop id: (time.monotonic() read, the shop's usual amount)}: see _usual_amounts.
_usual_cache: dict[int, tuple[float, Decimal]] = {}


def usual_amounts_cache_clear() -> None:
    _usual_cache.clear()


def _usual_amounts(orders: Sequence[Order]) -> dict[int, Decimal]:
    """{shop id: the mean amount of its last orders before these} for the shops with enough.
    A shop's mean moves slowly, and reading it is an aggregate over its last orders on every
    webhook delivery (a third of an order's intake time): once a shop has enough orders, each
    process keeps its mean for ORDERHUB_USUAL_AMOUNT_CACHE_SECONDS. A shop still short of
    orders is read each time, so it is watched from its twentieth order on."""
    usual = {}
    new = [o.pk for o in orders]
    ttl = settings.ORDERHUB_USUAL_AMOUNT_CACHE_SECONDS
    now = time.monotonic()
    for shop_id in {o.shop_id for o in orders if o.shop_id}:
        cached = _usual_cache.get(shop_id)
        if ttl > 0 and cached is not None and now - cached[0] < ttl:
            usual[shop_id] = cached[1]
            continue
        recent = (
            Order.objects.filter(shop_id=shop_id, main_order__isnull=True)
            .exclude(pk__in=new)
            .order_by("-id")[:_USUAL_AMOUNT_SAMPLE]
        )
        stats = Order.objects.filter(pk__in=recent.values("pk")).aggregate(mean=Avg("amount"), count=Count("id"))
        if stats["count"] >= USUAL_AMOUNT_MIN_ORDERS and stats["mean"]:
            usual[shop_id] = Decimal(stats["mean"])
            if ttl > 0:
                _usual_cache[shop_id] = (now, usual[shop_id])
    return usual


def _lines_key(lines: Sequence) -> tuple:
    return tuple(sorted((str(line["sku"] or line["name"]), int(line["quantity"])) for line in lines))


def intake_exceptions_detect(
    orders: Sequence[Order], *, lines: Sequence[Sequence[dict]], mismatches: Sequence[str]
) -> list[ExceptionRaise]:
    """What a person must look at in orders that just arrived from a channel (saved, with their
    cleaned lines and the lines' totals mismatch, "" when they add up): a buyer remark, an
    incomplete address, an amount of 0 or far above the shop's usual, lines that do not add up,
    and a suspected duplicate (the same shop, buyer, amount and items within the hub's window,
    among the hub's orders and the batch). Cancelled orders need nobody."""
    settings_row = hub_settings_cached()
    factor = settings_row.amount_anomaly_factor
    window = timedelta(hours=settings_row.duplicate_window_hours)
    live = [(i, o) for i, o in enumerate(orders) if o.state != State.CANCELLED and o.main_order_id is None]
    usual = _usual_amounts([o for _i, o in live]) if live else {}
    raises: list[ExceptionRaise] = []
    for index, order in live:
        if order.buyer_remark:
            raises.append(ExceptionRaise(order, ExceptionReason.BUYER_REMARK, order.buyer_remark[:500]))
        missing = address_problems(order)
        if missing:
            raises.append(ExceptionRaise(order, ExceptionReason.ADDRESS_INCOMPLETE, ", ".join(missing)))
        if order.amount == 0:
            raises.append(
                ExceptionRaise(order, ExceptionReason.AMOUNT_ANOMALY, _bilingual(gettext_lazy("The amount is 0.")))
            )
        elif order.shop_id in usual and order.amount > usual[order.shop_id] * factor:
            detail = f"{order.amount} > {factor} × {usual[order.shop_id]:.2f}"
            raises.append(
                ExceptionRaise(order, ExceptionReason.AMOUNT_ANOMALY, detail, {"usual": str(usual[order.shop_id])})
            )
        if mismatches[index]:
            raises.append(ExceptionRaise(order, ExceptionReason.TOTALS_MISMATCH, mismatches[index]))
    raises.extend(_duplicates(live, lines=lines, window=window))
    return raises


def _duplicates(live: list[tuple[int, Order]], *, lines: Sequence[Sequence[dict]], window: timedelta):
    """Each new order with an earlier twin: the same shop, buyer (phone or email), amount and
    items, ordered within `window` of it, not cancelled. One query for the batch."""
    buyers = [(i, o) for i, o in live if o.buyer_phone or o.buyer_email]
    if not buyers:
        return []
    earliest = min(o.ordered_at for _i, o in buyers) - window
    latest = max(o.ordered_at for _i, o in buyers) + window
    match = Q()
    for phone in {o.buyer_phone for _i, o in buyers if o.buyer_phone}:
        match |= Q(buyer_phone=phone)
    for email in {o.buyer_email for _i, o in buyers if o.buyer_email}:
        match |= Q(buyer_email=email)
    candidates = list(
        Order.objects.filter(match, ordered_at__gte=earliest, ordered_at__lte=latest, main_order__isnull=True)
        .exclude(state=State.CANCELLED)
        .exclude(pk__in=[o.pk for _i, o in buyers])
        .prefetch_related("lines")
        .only("pk", "number", "shop_id", "buyer_phone", "buyer_email", "amount", "ordered_at")
        .order_by("ordered_at", "pk")  # the earliest twin is named
    )
    known = [
        (o, _lines_key([{"sku": ln.sku, "name": ln.name, "quantity": ln.quantity} for ln in o.lines.all()]))
        for o in candidates
    ]
    raises = []
    for index, order in buyers:
        key = _lines_key(lines[index])
        for other, other_key in known:
            same_buyer = (order.buyer_phone and other.buyer_phone == order.buyer_phone) or (
                order.buyer_email and other.buyer_email == order.buyer_email
            )
            if (
                same_buyer
                and other.shop_id == order.shop_id
                and other.amount == order.amount
                and other_key == key
                and abs(other.ordered_at - order.ordered_at) <= window
            ):
                raises.append(
                    ExceptionRaise(
                        order,
                        ExceptionReason.SUSPECTED_DUPLICATE,
                        other.number,
                        {"twin": other.pk, "twin_number": other.number},
                    )
                )
                break
        known.append((order, key))  # later orders of the batch compare with this one too
    return raises
