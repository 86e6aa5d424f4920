"""Order intake: orders that arrive from a channel (a Shopify webhook, an imported file).

    order_intake(*, channel, external_id, fields, paid, cancelled, source_note) -> IntakeResult

One durable transaction: find the order by (channel, external_id) and lock it, or create it
(`order_create_in_transaction`, as the system); then bring its payment and cancellation forward
through the transition service as the system. The same input twice changes nothing the second
time, and an update that cannot apply (cancelled after it shipped, paid after the hub
cancelled it) raises `IllegalTransition`, so nothing is half-applied.

What the channel says is read as a state, not as an event: "paid" means pay if the order still
waits for its payment; "cancelled" means cancel if the order can still be cancelled. Nothing
moves backwards: an order the channel calls unpaid or not cancelled stays as the hub has it.
Details (address, amount) are taken when the order is created and not overwritten later: once
the warehouse has an order, a change of address is customer service's call, not a webhook's.

Variants:

- `order_intake_in_transaction(...)`: joins the caller's transaction (the Shopify webhook
  records its delivery in the same one).
- `order_intake_batch_in_transaction(channel=..., items=[IntakeItem, ...])`: many orders of one
  channel at once (file imports). Orders already in the hub go the per-order way above; new
  ones are written in bulk, leaving exactly the rows the per-order way leaves (the order, one
  history row per step, the `created` event and one event per transition, one outbox row per
  enabled rule, dispatched on commit).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..events import ORDER_CREATED, order_event_build, order_events_recorded
from ..exceptions import IllegalTransition, InvalidActionData, OrderError
from ..model_rows import RowBuilder
from ..models import Order, OrderEvent, OrderException, OrderLine, OrderNumberSequence
from ..outbox.services import outbox_enqueue_for_events
from ..states import TRANSITIONS_BY_ACTION, Channel, ExceptionReason, State
from .intake_plans import IntakePlans
from .lines import currency_code_clean, order_lines_build, order_lines_prepare, order_lines_weight
from .order_exceptions import ExceptionRaise, intake_exceptions_detect, order_exceptions_raise
from .orders import (
    SHIPPING_FIELDS,
    _clean_amount,
    _clean_email,
    order_create_in_transaction,
    order_created_data,
)
from .shops import shop_for_order
from .sql import rows_insert
from .sql.history_steps import order_history_steps_insert
from .transition import order_transition_in_transaction

CREATED = "created"
UPDATED = "updated"
INTAKE_SOURCE = OrderException.Source.INTAKE
UNCHANGED = "unchanged"

# What a channel may say about a new order (passed on to order_create_in_transaction).
INTAKE_FIELDS = (
    "amount",
    "currency",
    "buyer_email",
    "buyer_phone",
    "ordered_at",
    *SHIPPING_FIELDS,
    "shipping_fee",
    "tax_amount",
    "buyer_remark",
)
# Text fields and their column widths, so a too-long value is named instead of failing the insert.
INTAKE_MAX_LENGTHS = {
    name: Order._meta.get_field(name).max_length
    for name in ("external_id", "buyer_email", "buyer_phone", *SHIPPING_FIELDS, "buyer_remark")
}

_PAY = TRANSITIONS_BY_ACTION["pay"]
_CANCEL = TRANSITIONS_BY_ACTION["cancel"]
# Where a cancel or refund on the channel becomes customer service's exception (the warehouse has
# the parcel, or the carrier does) rather than a cancel.
CHANNEL_REQUEST_STATES = (
    State.ALLOCATED,
    State.PACKED,
    State.SHIPPED,
    State.PICKED_UP,
    State.INTERCEPT_REQUESTED,
    State.INTERCEPT_FAILED,
)
# A cancel or refund on the channel before shipping asks for the interception by itself.
_INTERCEPT_BY_ITSELF = (State.ALLOCATED, State.PACKED)


@dataclass(frozen=True)
class IntakeResult:
    order: Order
    outcome: str  # CREATED, UPDATED or UNCHANGED
    actions: tuple[str, ...] = ()  # the transitions taken, in order ("pay", "cancel")

    @property
    def changed(self) -> bool:
        return self.outcome != UNCHANGED


@dataclass(frozen=True)
class IntakeItem:
    """One order of a batch: the same arguments as order_intake."""

    external_id: str
    fields: dict = field(default_factory=dict)
    paid: bool | None = None
    cancelled: bool = False
    source_note: str = ""
    cancel_reason: str = ""
    lines: Sequence[dict] = ()
    lines_must_add_up: bool = True


# -- checks a channel can run before anything is written ---------------------------------------


def intake_fields_clean(fields: dict) -> tuple[dict, dict[str, str]]:
    """The checks order creation applies, field by field, so that a channel can name the bad
    field (a webhook answers 400 with it, an import lists it per row). Returns the cleaned
    fields and {field: reason} for the bad ones."""
    unknown = set(fields) - set(INTAKE_FIELDS)
    if unknown:
        raise TypeError(f"order intake got unexpected fields: {', '.join(sorted(unknown))}")
    clean, errors = dict(fields), {}
    for name, value in fields.items():
        try:
            if name in ("amount", "shipping_fee", "tax_amount"):
                clean[name] = _clean_amount(value)
            elif name == "currency":
                clean[name] = _clean_currency(value)
            elif name == "buyer_email":
                clean[name] = _clean_email(value)
            elif name == "ordered_at":
                clean[name] = _clean_ordered_at(value)
            else:
                clean[name] = _clean_text(name, value)
        except InvalidActionData as exc:
            errors[name] = exc.message
    return clean, errors


def _clean_currency(value) -> str:
    return currency_code_clean(value or settings.ORDERHUB_CURRENCY)


def _lines_prepare(clean: dict, lines: Sequence[dict], *, must_add_up: bool) -> tuple[list[dict], str]:
    return order_lines_prepare(
        lines,
        currency=clean.get("currency") or _clean_currency(None),
        amount=clean.get("amount", Decimal("0")),
        shipping_fee=clean.get("shipping_fee", Decimal("0")),
        tax_amount=clean.get("tax_amount", Decimal("0")),
        must_add_up=must_add_up,
    )


def _clean_ordered_at(value):
    if value is None:
        return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise InvalidActionData(_("The order time needs a date, a time and a UTC offset."))
    return value


def _clean_text(name: str, value) -> str:
    text = (value or "").strip()
    limit = INTAKE_MAX_LENGTHS[name]
    if len(text) > limit:
        raise InvalidActionData(
            _("At most %(limit)s characters (got %(length)s).") % {"limit": limit, "length": len(text)}
        )
    return text


def _clean_external_id(external_id) -> str:
    external_id = str(external_id or "").strip()
    if not external_id:
        raise InvalidActionData(_("An order from a channel needs the channel's order id."))
    return _clean_text("external_id", external_id)


def _check_channel(channel: str) -> None:
    if channel not in Channel.values:
        raise InvalidActionData(_("Unknown channel “%(channel)s”.") % {"channel": channel})


def intake_actions(*, order: Order, paid: bool | None, cancelled: bool) -> list[str]:
    """The transitions that bring `order` to what the channel says, in order; [] when it is
    there already. Raises IllegalTransition when the channel's word cannot apply."""
    return _plan(
        order.state,
        paid=paid,
        cancelled=cancelled,
        had=lambda action: _has_event(order, action),
        refuse=lambda transition: _illegal(order, transition),
    )


def _plan(state: str, *, paid: bool | None, cancelled: bool, had, refuse) -> list[str]:
    actions = []
    if paid:
        if state in _PAY.sources:
            actions.append(_PAY.action)
            state = _PAY.target
        elif state in (State.CANCELLED, State.ARCHIVED) and not cancelled and not had(_PAY.action):
            # Money arrived for an order the hub cancelled: someone has to look at it.
            raise refuse(_PAY)
    if cancelled:
        if state in _CANCEL.sources:
            actions.append(_CANCEL.action)
        elif not (state == State.CANCELLED or (state == State.ARCHIVED and had(_CANCEL.action))):
            raise refuse(_CANCEL)
    return actions


def _new_order_plan(*, paid: bool | None, cancelled: bool) -> list[str]:
    """From "submitted" every combination applies: pay, cancel, or pay then cancel."""
    return _plan(State.SUBMITTED, paid=paid, cancelled=cancelled, had=lambda action: False, refuse=None)


def _has_event(order: Order, action: str) -> bool:
    return order.pk is not None and OrderEvent.objects.filter(order_id=order.pk, action=action).exists()


def _illegal(order: Order, transition) -> IllegalTransition:
    return IllegalTransition(
        number=order.number, state_label=str(State(order.state).label), action_label=str(transition.label)
    )


def _cancel_note(source_note: str, cancel_reason: str) -> str:
    # Stored on the timeline as data, so in both languages (like the seed rules' names).
    parts = [source_note.strip(), "渠道已取消 / cancelled on the channel"]
    if cancel_reason.strip():
        parts.append(cancel_reason.strip())
    return " · ".join(p for p in parts if p)


# -- one order ---------------------------------------------------------------------------------


def order_intake(
    *,
    channel: str,
    external_id: str,
    fields: dict,
    paid: bool | None,
    cancelled: bool,
    source_note: str,
    cancel_reason: str = "",
    shop=None,
    lines: Sequence[dict] = (),
    lines_must_add_up: bool = True,
    refund_requested: bool = False,
) -> IntakeResult:
    """Create or bring forward one order from a channel, in a transaction of its own. `shop`:
    the channel shop it came from (None: the channel's default shop). `lines`: what the buyer
    bought (orders.services.lines), taken with a new order like its other details.
    `refund_requested`: the channel says money went (or is going) back to the buyer."""
    for attempt in (1, 2):
        try:
            with transaction.atomic(durable=True):
                return order_intake_in_transaction(
                    channel=channel,
                    external_id=external_id,
                    fields=fields,
                    paid=paid,
                    cancelled=cancelled,
                    source_note=source_note,
                    cancel_reason=cancel_reason,
                    shop=shop,
                    lines=lines,
                    lines_must_add_up=lines_must_add_up,
                    refund_requested=refund_requested,
                )
        except IntegrityError:
            # Another request created the same order at the same moment (PostgreSQL makes the
            # second insert wait for the first commit, then refuses it): once more finds it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def order_intake_in_transaction(
    *,
    channel: str,
    external_id: str,
    fields: dict,
    paid: bool | None,
    cancelled: bool,
    source_note: str,
    cancel_reason: str = "",
    shop=None,
    lines: Sequence[dict] = (),
    lines_must_add_up: bool = True,
    refund_requested: bool = False,
) -> IntakeResult:
    """The same, joining the caller's transaction. On IntegrityError (a concurrent creation of
    the same order) the caller's transaction is spoiled: run it again, it will find the order."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_intake_in_transaction needs an open transaction")
    _check_channel(channel)
    external_id = _clean_external_id(external_id)
    unknown = set(fields) - set(INTAKE_FIELDS)
    if unknown:
        raise TypeError(f"order intake got unexpected fields: {', '.join(sorted(unknown))}")
    order = _locked(channel, external_id)
    created = order is None
    if created:
        clean, errors = intake_fields_clean(fields)
        if errors:
            name, reason = next(iter(errors.items()))
            raise InvalidActionData(f"{name}: {reason}")
        # Checked here too, so that a refusal of order creation below can only mean "already in the hub".
        clean_lines, mismatch = _lines_prepare(clean, lines, must_add_up=lines_must_add_up)
        try:
            order = order_create_in_transaction(
                actor=None,
                channel=channel,
                shop=shop,
                external_id=external_id,
                note=source_note.strip(),
                lines=lines,
                lines_must_add_up=lines_must_add_up,
                external_id_checked=True,  # looked up under lock just above (_locked)
                **clean,
            )
        except InvalidActionData:
            # The fields were checked above, so this is "already in the hub": another request
            # committed the same order between our look-up and its check (nothing was written
            # yet). Lock that one and carry on.
            order = _locked(channel, external_id)
            if order is None:
                raise
            created = False
    # A cancel or refund asked on the channel once the warehouse has the order cannot simply
    # apply (the parcel may be packed or on its way): customer service must intercept it or
    # answer the buyer, so it is an exception of theirs instead of a refusal the channel would
    # retry for days.
    if order.state == State.MERGED:
        return _merged_order_request(order, cancelled=cancelled, refund_requested=refund_requested, note=source_note)
    channel_request = ""
    if cancelled and order.state in CHANNEL_REQUEST_STATES:
        cancelled = False
        channel_request = _cancel_note("", cancel_reason)
    elif refund_requested and order.state in (*CHANNEL_REQUEST_STATES, *_CANCEL.sources) and not cancelled:
        channel_request = "渠道已退款 / refunded on the channel"
    actions = intake_actions(order=order, paid=paid, cancelled=cancelled)
    for action in actions:
        note = _cancel_note(source_note, cancel_reason) if action == _CANCEL.action else source_note
        order_transition_in_transaction(order.pk, action, actor=None, note=note)
    if actions:
        order = Order.objects.get(pk=order.pk)
    raises = intake_exceptions_detect([order], lines=[clean_lines], mismatches=[mismatch]) if created else []
    if channel_request:
        detail = " · ".join(part for part in (source_note.strip(), channel_request) if part)
        raises.append(ExceptionRaise(order, ExceptionReason.CHANNEL_REFUND, detail))
        if order.state in _INTERCEPT_BY_ITSELF:
            # Before the parcel leaves, the warehouse is asked at once to pull it (截单); customer
            # service still answers the buyer (the exception above).
            order_transition_in_transaction(order.pk, "request_intercept", actor=None, note=detail)
            order = Order.objects.get(pk=order.pk)
    raised = order_exceptions_raise(raises, source=INTAKE_SOURCE)
    changed = bool(actions) or any(r.reason == ExceptionReason.CHANNEL_REFUND for r in raised)
    return IntakeResult(
        order=order, outcome=CREATED if created else UPDATED if changed else UNCHANGED, actions=tuple(actions)
    )


def _merged_order_request(order: Order, *, cancelled: bool, refund_requested: bool, note: str) -> IntakeResult:
    """The channel speaks of an order merged into another (合单): its goods ship in that one, so a
    cancel or refund the buyer asked for is customer service's exception there, naming the
    platform order; anything else (an update, a payment already recorded) changes nothing."""
    if not (cancelled or refund_requested):
        return IntakeResult(order=order, outcome=UNCHANGED, actions=())
    kept = Order.objects.select_for_update(of=("self",)).get(pk=order.merged_into_id)
    asked = "渠道申请取消 / cancel asked on the channel" if cancelled else "渠道已退款 / refunded on the channel"
    detail = " · ".join(part for part in (note.strip(), asked, f"{order.number} ({order.external_id})") if part)
    raised = order_exceptions_raise(
        [ExceptionRaise(kept, ExceptionReason.CHANNEL_REFUND, detail, {"merged_order": order.number})],
        source=INTAKE_SOURCE,
    )
    return IntakeResult(order=order, outcome=UPDATED if raised else UNCHANGED, actions=())


def _locked(channel: str, external_id: str) -> Order | None:
    """The channel's order, locked (at most one: the pair is unique), or None. The statement is
    compiled once per database vendor: Django takes longer to compile a query of every order
    column than the database takes to run it, on every webhook delivery."""
    sql, params = _locked_statement()
    found = list(Order.objects.raw(sql, [*params[:-2], channel, external_id]))
    return found[0] if found else None


_LOCKED_STATEMENTS: dict[str, tuple[str, list]] = {}
_ANY_CHANNEL, _ANY_ID = "<channel>", "<external id>"  # stand for the values while compiling


def _locked_statement() -> tuple[str, list]:
    vendor = connection.vendor
    if vendor not in _LOCKED_STATEMENTS:
        queryset = Order.objects.select_for_update(of=("self",)).filter(channel=_ANY_CHANNEL, external_id=_ANY_ID)
        sql, params = queryset.query.get_compiler(connection=connection).as_sql()
        if list(params[-2:]) != [_ANY_CHANNEL, _ANY_ID]:
            raise RuntimeError("the intake's lock statement does not end with the channel and the order id")
        _LOCKED_STATEMENTS[vendor] = (sql, list(params))
    return _LOCKED_STATEMENTS[vendor]


# -- many orders (imports) ---------------------------------------------------------------------


def order_numbers_reserve(count: int, *, at=None) -> list[str]:
    """`count` consecutive order numbers of today, from one atomic upsert (the same counter as
    order_number_next). Run it in a short transaction of its own before a long import, so the
    import does not hold the day's counter row, which every other new order needs, until it
    commits. Numbers of an import that then fails are not reused (a gap, as with sequences)."""
    if count <= 0:
        return []
    day = timezone.localdate(at or timezone.now())
    table = connection.ops.quote_name(OrderNumberSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, last_value) VALUES (%s, %s) "
            f"ON CONFLICT (day) DO UPDATE SET last_value = {table}.last_value + %s RETURNING last_value",
            [day, count, count],
        )
        (last,) = cursor.fetchone()
    prefix = f"OH{day:%Y%m%d}-"
    return [f"{prefix}{value:05d}" for value in range(last - count + 1, last + 1)]


def order_intake_batch_in_transaction(
    *, channel: str, items: Sequence[IntakeItem], numbers: Iterator[str] | None = None, shop=None
) -> list[IntakeResult]:
    """Intake of many orders of one channel inside the caller's transaction; results in the
    order of `items`. `numbers` (from order_numbers_reserve) numbers the new orders; without it
    they are reserved here, inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_intake_batch_in_transaction needs an open transaction")
    _check_channel(channel)
    shop = shop_for_order(channel, shop)
    keys = [_clean_external_id(item.external_id) for item in items]
    if len(set(keys)) != len(keys):
        raise InvalidActionData(_("The same channel order id appears twice in one batch."))
    for item in items:
        unknown = set(item.fields) - set(INTAKE_FIELDS)
        if unknown:
            raise TypeError(f"order intake got unexpected fields: {', '.join(sorted(unknown))}")

    # Lock what is already there, in primary-key order (fewer deadlocks with other writers).
    existing = {
        o.external_id: o
        for o in Order.objects.select_for_update(of=("self",))
        .filter(channel=channel, external_id__any=keys)
        .order_by("pk")
    }
    results: list[IntakeResult | None] = [None] * len(items)
    new: list[tuple[int, str, IntakeItem]] = []
    for index, (key, item) in enumerate(zip(keys, items, strict=True)):
        order = existing.get(key)
        if order is None:
            new.append((index, key, item))
            continue
        try:
            actions = intake_actions(order=order, paid=item.paid, cancelled=item.cancelled)
            for action in actions:
                note = (
                    _cancel_note(item.source_note, item.cancel_reason) if action == _CANCEL.action else item.source_note
                )
                order_transition_in_transaction(order.pk, action, actor=None, note=note)
        except OrderError as exc:
            exc.external_id = key  # which item, for the caller's report
            raise
        if actions:
            order = Order.objects.get(pk=order.pk)
        results[index] = IntakeResult(order=order, outcome=UPDATED if actions else UNCHANGED, actions=tuple(actions))

    if new:
        if numbers is None:
            numbers = iter(order_numbers_reserve(len(new)))
        for (index, _key, _item), result in zip(new, _orders_create_bulk(channel, shop, new, numbers), strict=True):
            results[index] = result
    return results  # type: ignore[return-value]


# Order(**fields) spends most of its time on the defaults and related-object setters of its
# sixty fields: a batch builds its orders without Model.__init__ (orders/model_rows.py).
_NEW_ORDER = RowBuilder(Order)


def _orders_create_bulk(channel: str, shop, new: list[tuple[int, str, IntakeItem]], numbers: Iterator[str]):
    """New orders as order_create_in_transaction + order_transition_in_transaction would leave
    them, in a handful of INSERTs: the order row in its final state and version, the history
    rows of each step (created "+", then one "~" per transition), the events, the outbox rows."""
    now = timezone.now()
    plans = []
    orders = []
    for _index, key, item in new:
        clean, errors = intake_fields_clean(item.fields)
        try:
            if errors:
                name, reason = next(iter(errors.items()))
                raise InvalidActionData(f"{name}: {reason}")
            lines, mismatch = _lines_prepare(clean, item.lines, must_add_up=item.lines_must_add_up)
        except InvalidActionData as error:
            error.external_id = key
            raise
        amount = clean.pop("amount")
        currency = clean.pop("currency", None) or _clean_currency(None)
        buyer_email = clean.pop("buyer_email", "")
        buyer_phone = clean.pop("buyer_phone", "")
        ordered_at = clean.pop("ordered_at", None)
        # The steps from "submitted", as the transition service would take them.
        steps = []
        state = State.SUBMITTED
        for action in _new_order_plan(paid=item.paid, cancelled=item.cancelled):
            target = TRANSITIONS_BY_ACTION[action].target
            note = _cancel_note(item.source_note, item.cancel_reason) if action == _CANCEL.action else item.source_note
            steps.append((action, state, target, note.strip()))
            state = target
        order = _NEW_ORDER(
            shop=shop,
            number=next(numbers, None) or order_numbers_reserve(1, at=now)[0],
            channel=channel,
            external_id=key,
            buyer_email=buyer_email,
            buyer_phone=buyer_phone,
            ordered_at=ordered_at or now,
            amount=amount,
            currency=currency,
            # The final state and version: the history rows and events below record each step.
            state=state,
            version=1 + len(steps),
            updated_by_id=None,
            updated_at=now,
            state_changed_at=now,
            weight_grams=order_lines_weight(lines),
            **clean,
        )
        orders.append(order)
        plans.append((item, steps, lines, mismatch))
    # The operations rules for "order created", evaluated once for the batch (the priority lane
    # is set on the rows before the INSERT, the rest follows the commit in the outbox), as
    # order_create_in_transaction does for one order.
    intake_plans = IntakePlans(orders)
    rows_insert(Order, orders)
    order_lines = [
        line for order, plan in zip(orders, plans, strict=True) for line in order_lines_build(order, plan[2])
    ]
    if order_lines:
        rows_insert(OrderLine, order_lines)

    history, events, created_events = [], [], []
    for index, (order, (item, steps, lines, mismatch)) in enumerate(zip(orders, plans, strict=True)):
        history.append((order.pk, "+", State.SUBMITTED, 1))
        created = order_event_build(
            order=order,
            action=ORDER_CREATED,
            from_state="",
            to_state=State.SUBMITTED,
            version=1,
            actor=None,
            occurred_at=now,
            note=intake_plans.note(index, item.source_note.strip()),
            data=order_created_data(order, lines, mismatch),
        )
        events.append(created)
        created_events.append(created)
        for version, (action, from_state, to_state, note) in enumerate(steps, start=2):
            history.append((order.pk, "~", to_state, version))
            events.append(
                order_event_build(
                    order=order,
                    action=action,
                    from_state=from_state,
                    to_state=to_state,
                    version=version,
                    actor=None,
                    occurred_at=now,
                    note=note,
                )
            )
        order.sync_derived_fields()
    # Copied from the rows as written (the order's final state), with each step's state and version.
    order_history_steps_insert(history, at=now)
    rows_insert(OrderEvent, events)
    order_events_recorded(events)
    outbox_enqueue_for_events(events, also=intake_plans.record(created_events, insert=rows_insert))
    order_exceptions_raise(
        intake_exceptions_detect(orders, lines=[plan[2] for plan in plans], mismatches=[plan[3] for plan in plans]),
        source=INTAKE_SOURCE,
        at=now,
    )
    return [
        IntakeResult(order=order, outcome=CREATED, actions=tuple(step[0] for step in steps))
        for order, (_item, steps, _lines, _mismatch) in zip(orders, plans, strict=True)
    ]
