"""Returns: a buyer's request, the after-sales review, and the repeat-customer rule.

    return_request_create(*, order_id, actor, reason, items=(), lines=None, attachments=(),
                          source="hub", channel_reference="", expected_version=None) -> ReturnRequest
    return_review(*, return_id, actor, approve, note="", expected_version=None,
                  expected_order_version=None, prepaid_label=False) -> ReturnRequest

Each is one durable transaction that locks the order row first (then the return), moves the
order only through the transition service (`request_return`, `approve_return`,
`reject_return`: their role checks are the ones that apply) and keeps the `ReturnRequest` in
step with it. Every refusal raises an `OrderError` subclass with a translatable message and
leaves everything as it was.

What comes back: on an order with lines, a return names lines and units, written as
`ReturnLine` rows (the refund proposed is computed from them, `aftersales.selectors`). A caller
names them either as `lines` ([{"line": <OrderLine id>, "quantity": n}], the admin form) or as
`items` ([{"sku", "name", "quantity"}] with an optional "platform_line_id", the channel
webhook), which are matched to the order's lines: by the channel's line id, else by SKU, else
(an item without a SKU) by name; units of a SKU on several lines go to them in line order, as
many as each has left. The checks, each its own refusal: a line not of this order (or an item
matching none of its lines), a quantity below 1, a line named twice, and more units than are
left to return (the line's quantity less its units on earlier returns that were not
rejected); an order with lines also needs at least one. An order without lines (brought in
before lines existed) keeps the items as text, as before. The request event's data carries the
lines (`lines`: [{"line", "sku", "quantity"}]).

An approval (by a person or by the rule) asks for the return label through the outbox
(`return_label_issue`, see `return_labels.py`), written in the approval's transaction.

The repeat-customer rule is an operations rule (`rules` app, trigger "return requested", action
"approve the return with a prepaid label"; the seed's ships as a default): the first such rule
that matches approves the return as the system at once, in the request's transaction, with a
prepaid label; the approval's note and data name the rule.
"""

from __future__ import annotations

from typing import cast

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import ActionNotPermitted, ConflictError, InvalidActionData, OrderError
from orders.models import Order, OrderLine
from orders.outbox.services import outbox_enqueue_kind
from orders.permissions import actor_may_take, role_of, user_display_name
from orders.selectors import buyer_delivered_orders_counts
from orders.services.locking import order_lock
from orders.services.transition import order_transition_in_transaction
from orders.states import TRANSITIONS_BY_ACTION, Role, State
from rules.services import rule_note, rules_return_approval

from ..models import (
    OPEN_RETURN_STATUSES,
    LabelStatus,
    ReturnLine,
    ReturnRequest,
    ReturnSource,
    ReturnStatus,
)
from ..selectors import order_lines_returned

RETURN_LABEL_REACTION = "return_label_issue"

REASON_MAX_LENGTH = 4000
MAX_ITEMS = 100
MAX_QUANTITY = 9999
_SKU_MAX, _NAME_MAX, _LINE_ID_MAX = 64, 200, 64
_CHANNEL_REFERENCE_MAX = cast(int, ReturnRequest._meta.get_field("channel_reference").max_length)  # a CharField's

# ---------------------------------------------------------------------------------------------
# Refusals


class ReturnNotFound(OrderError):
    def __init__(self, return_id):
        super().__init__(_("Return #%(id)s does not exist.") % {"id": return_id})


class ReturnAlreadyOpen(ConflictError):
    def __init__(self, case: ReturnRequest):
        self.existing = case
        super().__init__(
            _(
                "Order %(number)s already has an open return (#%(id)s, %(status)s, requested at %(when)s): "
                "decide that one first."
            )
            % {
                "number": case.order.number,
                "id": case.pk,
                "status": case.get_status_display(),
                "when": _local(case.requested_at),
            }
        )


class ReturnAlreadyDecided(ConflictError):
    def __init__(self, case: ReturnRequest):
        who = user_display_name(case.decided_by) if case.decided_by else (case.decided_by_rule or _("the system"))
        super().__init__(
            _("Return #%(id)s of order %(number)s was already %(status)s by %(who)s at %(when)s. Nothing was changed.")
            % {
                "id": case.pk,
                "number": case.order.number,
                "status": case.get_status_display().lower(),
                "who": who,
                "when": _local(case.decided_at or case.updated_at),
            }
        )


class StaleReturnError(ConflictError):
    def __init__(self, case: ReturnRequest, *, expected: int):
        self.expected_version = expected
        self.actual_version = case.version
        who = user_display_name(case.decided_by) if case.decided_by else (case.decided_by_rule or _("the system"))
        super().__init__(
            _(
                "Return #%(id)s of order %(number)s was changed by %(who)s at %(when)s after you opened it "
                "(your version %(expected)s, now %(actual)s). Nothing was saved: reload and try again."
            )
            % {
                "id": case.pk,
                "number": case.order.number,
                "who": who,
                "when": _local(case.decided_at or case.updated_at),
                "expected": expected,
                "actual": case.version,
            }
        )


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


# ---------------------------------------------------------------------------------------------
# Checks that need no database


def return_items_clean(items) -> list[dict]:
    """[{"sku", "name", "quantity"}] → the same, stripped; a SKU or a name, a whole quantity > 0.
    An item may also carry the channel's line id ("platform_line_id"), kept when given."""
    if items in (None, ""):
        return []
    if isinstance(items, dict) or not isinstance(items, list | tuple):
        raise InvalidActionData(_("The returned items must be a list of items (SKU, name, quantity)."))
    if len(items) > MAX_ITEMS:
        raise InvalidActionData(_("At most %(max)d items per return.") % {"max": MAX_ITEMS})
    clean = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidActionData(_("Item %(n)d is not an item with SKU, name and quantity.") % {"n": number})
        sku = str(item.get("sku") or "").strip()
        name = str(item.get("name") or "").strip()
        if not (sku or name):
            raise InvalidActionData(_("Item %(n)d needs a SKU or a name.") % {"n": number})
        if len(sku) > _SKU_MAX or len(name) > _NAME_MAX:
            raise InvalidActionData(
                _("Item %(n)d: the SKU may have %(sku)d characters and the name %(name)d at most.")
                % {"n": number, "sku": _SKU_MAX, "name": _NAME_MAX}
            )
        quantity = item.get("quantity")
        if isinstance(quantity, str) and quantity.strip().isdigit():
            quantity = int(quantity.strip())
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
            raise InvalidActionData(
                _("Item %(n)d: the quantity must be a whole number from 1 to %(max)d.")
                % {"n": number, "max": MAX_QUANTITY}
            )
        entry = {"sku": sku, "name": name, "quantity": quantity}
        line_id = str(item.get("platform_line_id") or "").strip()
        if len(line_id) > _LINE_ID_MAX:
            raise InvalidActionData(
                _("Item %(n)d: the channel's line id may have %(max)d characters at most.")
                % {"n": number, "max": _LINE_ID_MAX}
            )
        if line_id:
            entry["platform_line_id"] = line_id
        clean.append(entry)
    return clean


def return_lines_clean(lines) -> list[dict]:
    """[{"line": <OrderLine id>, "quantity": n}] → the same with whole numbers: each line once,
    each quantity from 1 to MAX_QUANTITY. Whether the lines are the order's is checked with the
    order locked (`_return_lines_resolve`)."""
    if isinstance(lines, dict) or not isinstance(lines, list | tuple):
        raise InvalidActionData(_("The returned lines must be a list of lines (line, quantity)."))
    if len(lines) > MAX_ITEMS:
        raise InvalidActionData(_("At most %(max)d items per return.") % {"max": MAX_ITEMS})
    clean: list[dict] = []
    seen: set[int] = set()
    for number, entry in enumerate(lines, start=1):
        line_id = entry.get("line") if isinstance(entry, dict) else None
        if isinstance(line_id, str) and line_id.strip().isdigit():
            line_id = int(line_id.strip())
        if isinstance(line_id, bool) or not isinstance(line_id, int) or line_id < 1:
            raise InvalidActionData(_("Returned line %(n)d does not name a line of the order.") % {"n": number})
        quantity = entry.get("quantity")
        if isinstance(quantity, str) and quantity.strip().lstrip("-").isdigit():
            quantity = int(quantity.strip())
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
            raise InvalidActionData(
                _("Returned line %(n)d: the quantity must be a whole number from 1 to %(max)d.")
                % {"n": number, "max": MAX_QUANTITY}
            )
        if line_id in seen:
            raise InvalidActionData(
                _("Returned line %(n)d names a line already named: give each line once, with all its units.")
                % {"n": number}
            )
        seen.add(line_id)
        clean.append({"line": line_id, "quantity": quantity})
    return clean


def _line_label(line: OrderLine) -> str:
    """How a line is named in a refusal: its number on the order, SKU and name."""
    what = " ".join(part for part in (line.sku, line.name) if part)
    return f"#{line.position} {what}".strip()


def _item_label(item: dict) -> str:
    return " ".join(part for part in (item.get("sku", ""), item.get("name", "")) if part)


def _too_many(*, number: str, what: str, asked: int, ordered: int, returned: int) -> InvalidActionData:
    return InvalidActionData(
        _(
            "%(what)s: %(asked)d coming back is more than is left to return on order %(number)s "
            "(%(ordered)d ordered, %(returned)d already on earlier returns, %(left)d left)."
        )
        % {
            "what": what,
            "asked": asked,
            "number": number,
            "ordered": ordered,
            "returned": returned,
            "left": max(ordered - returned, 0),
        }
    )


def _return_lines_resolve(order: Order, *, items: list[dict], lines: list[dict] | None) -> list[tuple[OrderLine, int]]:
    """What comes back as (order line, units), in line order, checked against the order's lines
    and what earlier returns took (the order is locked: no other return can slip in). [] for an
    order without lines, whose return keeps its items as text."""
    order_lines = list(OrderLine.objects.filter(order_id=order.pk).order_by("position"))
    if not order_lines:
        if lines:
            raise InvalidActionData(
                _("Order %(number)s has no lines: say what comes back as items (SKU, name, quantity).")
                % {"number": order.number}
            )
        return []
    returned = order_lines_returned(order_id=order.pk)

    def left(line: OrderLine) -> int:
        return max(line.quantity - returned.get(line.pk, 0), 0)

    chosen: dict[int, int] = {}
    if lines:
        by_id = {line.pk: line for line in order_lines}
        for entry in lines:
            line = by_id.get(entry["line"])
            if line is None:
                raise InvalidActionData(
                    _("Line #%(id)s is not a line of order %(number)s.") % {"id": entry["line"], "number": order.number}
                )
            if entry["quantity"] > left(line):
                raise _too_many(
                    number=order.number,
                    what=_line_label(line),
                    asked=entry["quantity"],
                    ordered=line.quantity,
                    returned=returned.get(line.pk, 0),
                )
            chosen[line.pk] = entry["quantity"]
    elif items:
        named_by: dict[int, int] = {}  # line id -> the item (number) that named it
        for number, item in enumerate(items, start=1):
            candidates = _lines_matching(order_lines, item)
            if not candidates:
                raise InvalidActionData(
                    _(
                        "Item %(n)d (%(item)s) is not on order %(number)s: none of its lines has this "
                        "channel line id or SKU."
                    )
                    % {"n": number, "item": _item_label(item) or "—", "number": order.number}
                )
            for line in candidates:
                if line.pk in named_by:
                    raise InvalidActionData(
                        _(
                            "Item %(n)d names the same line as item %(other)d (%(line)s): give each line once, "
                            "with all its units."
                        )
                        % {"n": number, "other": named_by[line.pk], "line": _line_label(line)}
                    )
            wanted = item["quantity"]
            if wanted > sum(left(line) for line in candidates):
                raise _too_many(
                    number=order.number,
                    what=_("Item %(n)d (%(item)s)") % {"n": number, "item": _item_label(item) or "—"},
                    asked=wanted,
                    ordered=sum(line.quantity for line in candidates),
                    returned=sum(returned.get(line.pk, 0) for line in candidates),
                )
            for line in candidates:
                take = min(wanted, left(line))
                if take:
                    chosen[line.pk] = take
                    named_by[line.pk] = number
                    wanted -= take
                if not wanted:
                    break
    if not chosen:
        raise InvalidActionData(
            _("Order %(number)s has lines: say which of them come back, and how many units of each.")
            % {"number": order.number}
        )
    return [(line, chosen[line.pk]) for line in order_lines if line.pk in chosen]


def _lines_matching(order_lines: list[OrderLine], item: dict) -> list[OrderLine]:
    """The order's lines an item names: by the channel's line id, else by SKU, else (an item
    without a SKU) by name."""
    line_id = item.get("platform_line_id", "")
    if line_id:
        by_id = [line for line in order_lines if line.platform_line_id == line_id]
        if by_id:
            return by_id
    if item["sku"]:
        return [line for line in order_lines if line.sku == item["sku"]]
    return [line for line in order_lines if item["name"] and line.name == item["name"]]


def _reason_clean(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidActionData(_("A return needs a reason."))
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidActionData(
            _("The reason is too long: at most %(max)d characters (it has %(count)d).")
            % {"max": REASON_MAX_LENGTH, "count": len(reason)}
        )
    return reason


def _role_check(actor, action: str) -> None:
    """The transition's own role check, made before anything is locked so a role that may never
    do this hears so first (the transition service checks again)."""
    transition = TRANSITIONS_BY_ACTION[action]
    if not actor_may_take(actor, transition):
        role = role_of(actor)
        raise ActionNotPermitted(
            role_label=str(Role(role).label) if role else _("no role"), action_label=str(transition.label)
        )


# ---------------------------------------------------------------------------------------------
# The repeat-customer rule


def return_repeat_customer_count(*, order: Order) -> int:
    """How many other delivered orders the buyer of `order` has (same email or phone; gift
    orders are not purchases and do not count), in one query."""
    return buyer_delivered_orders_counts([order])[0]


# ---------------------------------------------------------------------------------------------
# Requesting a return


def return_request_create(
    *,
    order_id: int,
    actor,
    reason: str,
    items=(),
    lines=None,
    attachments=(),
    source: str = ReturnSource.HUB,
    channel_reference: str = "",
    expected_version: int | None = None,
) -> ReturnRequest:
    """Open a return for the order as `actor` (customer service, or None for the system: the
    channel webhook). What comes back is `lines` ([{"line": <OrderLine id>, "quantity": n}]) or
    `items` ([{"sku", "name", "quantity", "platform_line_id"?}], matched to the order's lines;
    see the module's docstring), not both. With a `channel_reference` the call is idempotent:
    the channel's return already recorded for this order is returned as it is. Must be the
    outermost transaction."""
    try:
        with transaction.atomic(durable=True):
            case, _created = return_request_create_in_transaction(
                order_id=order_id,
                actor=actor,
                reason=reason,
                items=items,
                lines=lines,
                attachments=attachments,
                source=source,
                channel_reference=channel_reference,
                expected_version=expected_version,
            )
    except IntegrityError:
        # The database's last line (one open return per order, one case per channel return):
        # only reached by a writer that did not lock the order. Say what is there instead.
        reference = (channel_reference or "").strip()
        existing = ReturnRequest.objects.select_related("order")
        if reference:
            recorded = existing.filter(order_id=order_id, channel_reference=reference).first()
            if recorded is not None:
                return recorded
        open_case = existing.filter(order_id=order_id, status__in=OPEN_RETURN_STATUSES).first()
        if open_case is not None:
            raise ReturnAlreadyOpen(open_case) from None
        raise
    return case


def return_request_create_in_transaction(
    *,
    order_id: int,
    actor,
    reason: str,
    items=(),
    lines=None,
    attachments=(),
    source: str = ReturnSource.HUB,
    channel_reference: str = "",
    expected_version: int | None = None,
) -> tuple[ReturnRequest, bool]:
    """The same inside a transaction the caller holds (a webhook that records its delivery with
    it). Returns (the return, whether it was created now)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("return_request_create_in_transaction needs an open transaction")
    reason = _reason_clean(reason)
    if lines is not None and items:
        raise TypeError("return_request_create takes lines or items, not both")
    clean_items = return_items_clean(items)
    clean_lines = return_lines_clean(lines) if lines is not None else None
    if source not in ReturnSource.values:
        raise InvalidActionData(_("Unknown return source “%(source)s”.") % {"source": source})
    reference = (channel_reference or "").strip()
    if len(reference) > _CHANNEL_REFERENCE_MAX:
        raise InvalidActionData(
            _("The channel's return id may have %(max)d characters at most.") % {"max": _CHANNEL_REFERENCE_MAX}
        )

    _role_check(actor, "request_return")

    order = order_lock(order_id)
    if reference:
        existing = ReturnRequest.objects.filter(order=order, channel_reference=reference).first()
        if existing is not None:
            existing.order = order
            return existing, False
    open_case = ReturnRequest.objects.filter(order=order, status__in=OPEN_RETURN_STATUSES).first()
    if open_case is not None:
        open_case.order = order
        raise ReturnAlreadyOpen(open_case)
    returned = _return_lines_resolve(order, items=clean_items, lines=clean_lines)
    if returned:
        # The text of what comes back follows the lines, for every reader of `items`.
        clean_items = [{"sku": line.sku, "name": line.name, "quantity": units} for line, units in returned]
    else:
        clean_items = [{key: item[key] for key in ("sku", "name", "quantity")} for item in clean_items]

    event = order_transition_in_transaction(
        order.pk,
        "request_return",
        actor=actor,
        expected_version=expected_version,
        note=reason,
        attachments=attachments,
        event_data=(
            {"lines": [{"line": line.pk, "sku": line.sku, "quantity": units} for line, units in returned]}
            if returned
            else None
        ),
    )
    case = ReturnRequest.objects.create(
        order=event.order,
        status=ReturnStatus.REQUESTED,
        reason=reason,
        items=clean_items,
        source=source,
        channel_reference=reference,
        requested_by=actor,
        requested_at=event.occurred_at,
        request_event=event,
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(return_request=case, order_line=line, quantity=units) for line, units in returned
    )

    # The operations rules of "return requested" that approve returns (the seed's repeat-customer
    # rule ships as one): the first that matches decides now, in this transaction, and is named
    # on the approval and the timeline.

    rule = rules_return_approval(order=event.order, event=event)
    if rule is not None:
        _approve(
            case,
            actor=None,
            note=rule_note(rule.name, RULE_APPROVAL_TEXT),
            prepaid_label=True,
            rule=rule.name,
            expected_order_version=None,
            event_data={"rule": rule.id, "rule_name": rule.name, "rule_action": "approve_return"},
        )
    return case, True


RULE_APPROVAL_TEXT = "退货自动批准，预付退货运单 / return approved, prepaid return label"


def return_approve_by_rule_in_transaction(*, order: Order, rule_name: str, note: str, data: dict) -> bool:
    """An operations rule approves the order's return waiting for review (with a prepaid label),
    inside the caller's transaction with the order locked. False when no return waits."""
    case = (
        ReturnRequest.objects.select_for_update(of=("self",))
        .filter(order_id=order.pk, status=ReturnStatus.REQUESTED)
        .first()
    )
    if case is None or order.state != State.RETURN_REQUESTED:
        return False
    case.order = order
    _approve(
        case,
        actor=None,
        note=note,
        prepaid_label=True,
        rule=rule_name,
        expected_order_version=None,
        event_data=data,
    )
    return True


# The rules engine's actions whose records are after-sales' (declared on AftersalesConfig):
# {action kind: handler(order=, rule_name=, note=, data=) -> applied}.
RULE_ACTION_HANDLERS = {"approve_return": return_approve_by_rule_in_transaction}


# ---------------------------------------------------------------------------------------------
# Reviewing a return


def return_review(
    *,
    return_id: int,
    actor,
    approve: bool,
    note: str = "",
    expected_version: int | None = None,
    expected_order_version: int | None = None,
    prepaid_label: bool = False,
) -> ReturnRequest:
    """After-sales review: approve (the return label follows; `prepaid_label` when the merchant
    pays the postage) or reject with a reason (the order goes back to delivered).
    `expected_version` is the return's version the reviewer saw, `expected_order_version` the
    order's; either one outdated is a conflict that names who changed it."""
    action = "approve_return" if approve else "reject_return"
    note = (note or "").strip()
    if not approve and not note:
        raise InvalidActionData(_("Rejecting a return needs a reason in the note."))
    if len(note) > REASON_MAX_LENGTH:
        raise InvalidActionData(
            _("The note is too long: at most %(max)d characters (it has %(count)d).")
            % {"max": REASON_MAX_LENGTH, "count": len(note)}
        )
    _role_check(actor, action)
    order_id = ReturnRequest.objects.filter(pk=return_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise ReturnNotFound(return_id)

    with transaction.atomic(durable=True):
        order = order_lock(order_id)
        case = ReturnRequest.objects.select_for_update(of=("self",)).get(pk=return_id)
        case.order = order
        if expected_version is not None and int(expected_version) != case.version:
            raise StaleReturnError(case, expected=int(expected_version))
        if case.status != ReturnStatus.REQUESTED:
            raise ReturnAlreadyDecided(case)
        if approve:
            _approve(
                case,
                actor=actor,
                note=note,
                prepaid_label=prepaid_label,
                rule="",
                expected_order_version=expected_order_version,
            )
        else:
            event = order_transition_in_transaction(
                order.pk, "reject_return", actor=actor, expected_version=expected_order_version, note=note
            )
            case.status = ReturnStatus.REJECTED
            case.decided_by = actor
            case.decided_at = event.occurred_at
            case.decision_note = note
            case.version += 1
            case.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "version", "updated_at"])
    return case


def _approve(
    case: ReturnRequest,
    *,
    actor,
    note: str,
    prepaid_label: bool,
    rule: str,
    expected_order_version,
    event_data: dict | None = None,
) -> None:
    """Approve the (locked) return: the order's transition, the decision, and the label's outbox
    row, all in the caller's transaction."""
    event = order_transition_in_transaction(
        case.order_id,
        "approve_return",
        actor=actor,
        expected_version=expected_order_version,
        note=note,
        event_data=event_data,
    )
    case.status = ReturnStatus.APPROVED
    case.decided_by = actor
    case.decided_at = event.occurred_at
    case.decision_note = note
    case.decided_by_rule = rule
    case.label_status = LabelStatus.PENDING
    case.label_prepaid = bool(prepaid_label)
    case.label_error = ""
    case.version += 1
    case.save(
        update_fields=[
            "status",
            "decided_by",
            "decided_at",
            "decision_note",
            "decided_by_rule",
            "label_status",
            "label_prepaid",
            "label_error",
            "version",
            "updated_at",
        ]
    )
    # The label is part of the approval, not an optional rule: written here, once per approval.
    outbox_enqueue_kind(event, kind=RETURN_LABEL_REACTION, params={"return_id": case.pk})
