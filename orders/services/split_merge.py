"""拆单/合单: splitting an order in two by its lines, and merging a buyer's orders into one parcel.

    order_split(*, order_id, actor, lines, expected_version=None, note="") -> Order   (the new part)
    order_merge(*, order_ids, actor, expected_versions=None, note="") -> Order        (the one kept)

Both are one durable transaction that locks every order involved (in primary-key order, as
everywhere) and checks the versions the person saw; a refusal raises an `OrderError` with a
translatable message and changes nothing.

What each keeps, so that nothing of an order is lost:
- Money: the sum of the amounts over the orders involved is the same before and after (what
  the buyers paid). A split moves the lines' net amount to the new part; the shipping fee and
  the tax stay with the original. A merge moves every part's amount, shipping fee and tax to the
  order kept; the parts keep none (their timeline says how much went where).
- Lines: they move, they are not copied. A line moved remembers the order it was bought on
  (`OrderLine.origin_order`), so write-back and reconciliation can still find its platform
  order. A split of part of a line's units splits the line and its discount pro rata.
- Platform ids: the original keeps its channel id; a part split off has none of its own (it
  points to the original, `split_from`). A merged part keeps its channel id and its timeline,
  in state "merged", and points to the order kept (`merged_into`): a webhook about it still
  finds it.
- The timeline: each order involved gets one event naming the others and the lines.
- The promise to ship (alerts' SLA sweep) runs from the payment: a part split off keeps its
  original's, an order kept in a merge the earliest of its parts'. The order kept is the one
  ordered first, so its order time bounds every part's payment.
- Exceptions (异常订单): a part split off carries the original's open ones (it is the same
  buyer, address and remark); a merge moves the parts' open ones to the order kept, so an
  order with an open exception is never approved automatically however it was put together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from ..events import ORDER_MERGED_IN, ORDER_SPLIT, ORDER_SPLIT_OFF, order_event_create
from ..exceptions import ActionNotPermitted, IllegalTransition, InvalidActionData
from ..models import SHIPPING_FIELDS, Order, OrderEvent, OrderLine
from ..outbox.services import outbox_enqueue_for_event
from ..permissions import actor_may_take, role_of
from ..selectors import merge_window, order_buyer_key, order_place_key, order_promise_start
from ..states import TRANSITIONS_BY_ACTION, Role, State
from .lines import order_lines_summary, order_lines_weight
from .locking import order_check_version, order_lock
from .order_exceptions import order_duplicates_answered, order_exceptions_carry, order_stock_exceptions_settle
from .order_rows import order_save_locked
from .orders import order_number_next
from .transition import order_transition_in_transaction

# Before packing: once the parcel is packed, a split is a re-pack the warehouse decides.
SPLITTABLE_STATES = (State.PAID, State.RISK_HOLD, State.REVIEWED, State.ALLOCATED)
MERGE = TRANSITIONS_BY_ACTION["merge"]
MERGEABLE_STATES = MERGE.sources
SPLIT_PERMISSION = "orders.split_order"
MAX_MERGED_ORDERS = 20

_CENT = Decimal("0.01")


def _promise_starts(orders: Iterable[Order]) -> dict[int, datetime]:
    """{order id: when its promise to ship started} (orders.selectors.order_promise_start)."""
    ids = [o.pk for o in orders]
    return dict(Order.objects.filter(pk__in=ids).annotate(start=order_promise_start()).values_list("pk", "start"))


# ---------------------------------------------------------------------------------------------
# Split


def order_split(*, order_id: int, actor, lines: Mapping, expected_version: int | None = None, note: str = "") -> Order:
    """Move `lines` ({line id: units}) of the order to a new order of the same buyer, shop and
    address, in the same state (the same place in the lifecycle, the same warehouse if it was
    allocated). Returns the new order."""
    _check_may_split(actor)
    picks = _picks_clean(lines)
    note = (note or "").strip()
    with transaction.atomic(durable=True):
        order = order_lock(order_id)
        order_check_version(order, expected_version)
        if order.state not in SPLITTABLE_STATES:
            raise InvalidActionData(
                _("Order %(number)s is %(state)s: only an order not packed yet can be split.")
                % {"number": order.number, "state": State(order.state).label}
            )
        if order.main_order_id is not None:
            raise InvalidActionData(_("A gift order follows its main order: split the main order instead."))
        current = {line.pk: line for line in order.lines.order_by("position")}
        unknown = [pk for pk in picks if pk not in current]
        if unknown:
            raise InvalidActionData(
                _("Line %(id)s is not a line of order %(number)s.") % {"id": unknown[0], "number": order.number}
            )
        for pk, units in picks.items():
            if units > current[pk].quantity:
                raise InvalidActionData(
                    _("Line %(position)s (%(item)s) has %(quantity)s units: %(units)s cannot be split off.")
                    % {
                        "position": current[pk].position,
                        "item": current[pk],
                        "quantity": current[pk].quantity,
                        "units": units,
                    }
                )
        units_left = sum(line.quantity for line in current.values()) - sum(picks.values())
        if units_left < 1:
            raise InvalidActionData(
                _("That would leave order %(number)s empty: keep at least one unit on it.") % {"number": order.number}
            )
        return _split_locked(order, current, picks, actor=actor, note=note)


def _split_locked(order: Order, current: dict[int, OrderLine], picks: dict[int, int], *, actor, note: str) -> Order:
    now = timezone.now()
    part = Order(
        number=order_number_next(at=now),
        channel=order.channel,
        shop_id=order.shop_id,
        buyer_email=order.buyer_email,
        buyer_phone=order.buyer_phone,
        ordered_at=order.ordered_at,
        currency=order.currency,
        amount=Decimal("0"),
        buyer_remark=order.buyer_remark,
        carrier=order.carrier,
        cs_owner_id=order.cs_owner_id,
        priority=order.priority,
        warehouse_id=order.warehouse_id,
        state=order.state,
        split_from=order,
        promise_from=_promise_starts([order])[order.pk],
        updated_by=actor,
        updated_at=now,
        state_changed_at=order.state_changed_at,
        **{name: getattr(order, name) for name in SHIPPING_FIELDS},
    )
    part._history_user = actor
    part.save()

    moved: list[OrderLine] = []
    for position, pk in enumerate(sorted(picks, key=lambda pk: current[pk].position), start=1):
        line, units = current[pk], picks[pk]
        origin_id = line.origin_order_id or order.pk
        if units == line.quantity:
            line.order, line.position, line.origin_order_id = part, position, origin_id
            line.save(update_fields=["order", "position", "origin_order"])
            moved.append(line)
            continue
        share = (line.discount * units / line.quantity).quantize(_CENT, rounding=ROUND_HALF_UP)
        line.quantity -= units
        line.discount -= share
        line.save(update_fields=["quantity", "discount"])
        moved.append(
            OrderLine.objects.create(
                order=part,
                position=position,
                platform_line_id=line.platform_line_id,
                sku=line.sku,
                name=line.name,
                quantity=units,
                unit_price=line.unit_price,
                discount=share,
                currency=line.currency,
                is_gift=line.is_gift,
                weight_grams=line.weight_grams,
                origin_order_id=origin_id,
            )
        )
    # The original's lines numbered 1… again, in their order (two passes: positions are unique).
    kept = list(order.lines.order_by("position"))
    _renumber(kept)

    moved_amount = sum((line.net_amount for line in moved), Decimal("0"))
    if moved_amount > order.amount:
        raise InvalidActionData(
            _(
                "The lines chosen are worth %(moved)s but the order's amount is %(amount)s: "
                "its totals do not add up, correct them first."
            )
            % {"moved": moved_amount, "amount": order.amount}
        )
    part.amount = moved_amount
    part.weight_grams = _weight(moved)
    part.save(update_fields=["amount", "weight_grams"])

    order.amount -= moved_amount
    order.weight_grams = _weight(kept)
    order.version += 1
    order.updated_by = actor
    order.updated_at = now
    order_save_locked(
        order, update_fields=["amount", "weight_grams", "version", "updated_by", "updated_at"], actor=actor, at=now
    )
    summary = _lines_summary(moved)
    split = order_event_create(
        order=order,
        action=ORDER_SPLIT,
        from_state=order.state,
        actor=actor,
        occurred_at=now,
        note=note,
        data={"part": part.number, "part_id": part.pk, "amount": str(moved_amount), **summary},
    )
    split_off = order_event_create(
        order=part,
        action=ORDER_SPLIT_OFF,
        from_state="",
        actor=actor,
        occurred_at=now,
        note=note,
        data={
            "from": order.number,
            "from_id": order.pk,
            "external_id": order.external_id,
            "amount": str(moved_amount),
            **summary,
        },
    )
    outbox_enqueue_for_event(split)
    outbox_enqueue_for_event(split_off)
    order_exceptions_carry(from_order=order, to_order=part, actor=actor, move=False)
    # The lines out of stock went with the part: the original waits for them no more.
    order_stock_exceptions_settle(order=order, actor=actor, note=part.number)
    return part


def _check_may_split(actor) -> None:
    if actor is None or (actor.is_active and actor.has_perm(SPLIT_PERMISSION)):
        return
    role = role_of(actor)
    raise ActionNotPermitted(
        role_label=str(Role(role).label) if role else _("no role"), action_label=_("Split the order")
    )


def _picks_clean(lines: Mapping) -> dict[int, int]:
    picks: dict[int, int] = {}
    for raw_id, raw_units in dict(lines or {}).items():
        try:
            line_id, units = int(raw_id), int(raw_units)
        except (TypeError, ValueError):
            raise InvalidActionData(_("Units to split off must be whole numbers.")) from None
        if units < 0:
            raise InvalidActionData(_("Units to split off cannot be negative."))
        if units:
            picks[line_id] = units
    if not picks:
        raise InvalidActionData(_("Choose at least one unit of a line to split off."))
    return picks


# ---------------------------------------------------------------------------------------------
# Merge


def order_merge(*, order_ids: Iterable, actor, expected_versions: Mapping | None = None, note: str = "") -> Order:
    """Merge a buyer's orders into the one ordered first: same shop, buyer and address, ordered
    within the merge window, none in the warehouse yet, none a gift order or with gifts. The
    others move to "merged" (the `merge` transition, so its role rule applies) with their
    lines, money and open exceptions going to the order kept. Returns the order kept.
    `expected_versions`: {order id: the version the person saw}."""
    ids = _ids_clean(order_ids)
    if not actor_may_take(actor, MERGE):
        role = role_of(actor)
        raise ActionNotPermitted(
            role_label=str(Role(role).label) if role else _("no role"), action_label=str(MERGE.label)
        )
    versions = {int(k): v for k, v in (expected_versions or {}).items()}
    note = (note or "").strip()
    with transaction.atomic(durable=True):
        orders = [order_lock(pk) for pk in ids]
        for order in orders:
            order_check_version(order, versions.get(order.pk))
        merge_refusal = order_merge_refusal(orders)
        if merge_refusal:
            raise InvalidActionData(merge_refusal)
        kept = min(orders, key=lambda o: (o.ordered_at, o.pk))
        parts = [o for o in orders if o.pk != kept.pk]
        return _merge_locked(kept, parts, actor=actor, note=note)


def order_merge_refusal(orders: Sequence[Order]) -> str:
    """Why these orders cannot be merged ("" when they can): also what the merge page shows."""
    first = orders[0]
    for order in orders:
        if order.state not in MERGEABLE_STATES:
            return str(
                IllegalTransition(
                    number=order.number, state_label=str(State(order.state).label), action_label=str(MERGE.label)
                ).message
            )
        if order.main_order_id is not None or order.gifts.exists():
            return _("Order %(number)s has gift orders or is one: gifts follow their main order, not a merge.") % {
                "number": order.number
            }
    if len({o.shop_id for o in orders}) > 1:
        return _("These orders are of different shops: only one shop's orders can be merged.")
    if len({o.currency for o in orders}) > 1:
        return _("These orders are in different currencies.")
    if len({order_buyer_key(o) for o in orders}) > 1 or not any(order_buyer_key(first)):
        return _("These orders are of different buyers: only one buyer's orders can be merged.")
    if len({order_place_key(o) for o in orders}) > 1:
        return _("These orders go to different addresses: correct the address first if it is the same place.")
    times = [o.ordered_at for o in orders]
    window = merge_window()
    if max(times) - min(times) > window:
        return _("These orders were placed more than %(hours)s hours apart.") % {
            "hours": int(window.total_seconds() // 3600)
        }
    return ""


def _merge_locked(kept: Order, parts: list[Order], *, actor, note: str) -> Order:
    now = timezone.now()
    position = kept.lines.aggregate(last=Max("position"))["last"] or 0
    promise = min(_promise_starts([kept, *parts]).values())
    remarks = [kept.buyer_remark] if kept.buyer_remark else []
    merged_ids = [kept.pk, *(p.pk for p in parts)]
    absorbed = []
    for part in parts:
        lines = list(part.lines.order_by("position"))
        summary = _lines_summary(lines)
        for line in lines:
            position += 1
            line.order, line.position = kept, position
            line.origin_order_id = line.origin_order_id or part.pk
            line.save(update_fields=["order", "position", "origin_order"])
        money = {"amount": part.amount, "shipping_fee": part.shipping_fee, "tax_amount": part.tax_amount}
        kept.amount += part.amount
        kept.shipping_fee += part.shipping_fee
        kept.tax_amount += part.tax_amount
        if part.buyer_remark and part.buyer_remark not in remarks:
            remarks.append(part.buyer_remark)
        # Emptied first, so the merge transition's history row shows the part as it stays.
        Order.objects.filter(pk=part.pk).update(
            amount=Decimal("0"), shipping_fee=Decimal("0"), tax_amount=Decimal("0"), weight_grams=None, merged_into=kept
        )
        order_transition_in_transaction(
            part.pk,
            MERGE.action,
            actor=actor,
            note=note,
            event_data={
                "into": kept.number,
                "into_id": kept.pk,
                **{name: str(value) for name, value in money.items()},
                **summary,
            },
        )
        order_exceptions_carry(from_order=part, to_order=kept, actor=actor, move=True, answered_twins=merged_ids)
        absorbed.append(
            {"number": part.number, "id": part.pk, "external_id": part.external_id, "amount": str(money["amount"])}
        )
    order_duplicates_answered(order=kept, twins=merged_ids, actor=actor)
    kept.buyer_remark = "\n".join(remarks)[: Order._meta.get_field("buyer_remark").max_length]
    kept.weight_grams = _weight(list(kept.lines.all()))
    kept.promise_from = promise
    kept.version += 1
    kept.updated_by = actor
    kept.updated_at = now
    order_save_locked(
        kept,
        update_fields=[
            "amount",
            "shipping_fee",
            "tax_amount",
            "buyer_remark",
            "weight_grams",
            "promise_from",
            "version",
            "updated_by",
            "updated_at",
        ],
        actor=actor,
        at=now,
    )
    merged: OrderEvent = order_event_create(
        order=kept,
        action=ORDER_MERGED_IN,
        from_state=kept.state,
        actor=actor,
        occurred_at=now,
        note=note,
        data={"parts": absorbed, "amount": str(kept.amount), "promise_from": promise.isoformat()},
    )
    outbox_enqueue_for_event(merged)
    return kept


def _ids_clean(order_ids: Iterable) -> list[int]:
    try:
        ids = sorted({int(pk) for pk in order_ids})
    except (TypeError, ValueError):
        raise InvalidActionData(_("Choose orders by their ids.")) from None
    if len(ids) < 2:
        raise InvalidActionData(_("Choose at least two orders to merge."))
    if len(ids) > MAX_MERGED_ORDERS:
        raise InvalidActionData(_("At most %(count)s orders can be merged at once.") % {"count": MAX_MERGED_ORDERS})
    return ids


# ---------------------------------------------------------------------------------------------


def _renumber(lines: list[OrderLine]) -> None:
    """Number the lines 1… in the given order; through a high range first, since (order,
    position) is unique and the new numbers may collide with the old ones."""
    if all(line.position == i for i, line in enumerate(lines, start=1)):
        return
    for offset in (10_000, 0):
        for i, line in enumerate(lines, start=1):
            line.position = offset + i
            line.save(update_fields=["position"])


def _as_cleaned(lines: Sequence[OrderLine]) -> list[dict]:
    """Saved lines as the line helpers of intake read them (orders/services/lines.py)."""
    return [
        {"sku": line.sku, "name": line.name, "quantity": line.quantity, "weight_grams": line.weight_grams}
        for line in lines
    ]


def _weight(lines: Sequence[OrderLine]) -> int | None:
    return order_lines_weight(_as_cleaned(lines))


def _lines_summary(lines: Sequence[OrderLine]) -> dict:
    return order_lines_summary(_as_cleaned(lines))
