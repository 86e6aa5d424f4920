"""Creating orders and editing the details that are not state (owner, priority, contact)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField
from django.utils import timezone
from django.utils.translation import gettext as _

from ..events import ORDER_CREATED, ORDER_DETAILS_UPDATED, order_event_create
from ..exceptions import (
    ActionNotPermitted,
    InvalidActionData,
    OrderAlreadyOwned,
    OwnerNotEligible,
    OwnerNotOfBrand,
)
from ..models import SHIPPING_FIELDS, Order, OrderLine, OrderNumberSequence
from ..outbox.services import outbox_enqueue_for_event, outbox_enqueue_for_events
from ..permissions import role_of, user_display_name
from ..selectors import order_is_visible_to
from ..states import Channel, Priority, Role, State
from .intake_plans import IntakePlans
from .lines import (
    currency_code_clean,
    order_lines_build,
    order_lines_prepare,
    order_lines_summary,
    order_lines_weight,
)
from .locking import order_check_version, order_lock
from .order_exceptions import order_address_exception_settle
from .order_rows import order_save_locked
from .shops import shop_for_order
from .sql.history_steps import order_history_steps_insert

EDITABLE_DETAILS = ("cs_owner", "priority", "buyer_email", "buyer_phone")


def order_number_next(*, at=None) -> str:
    """OH20260128-00001: the local (Shanghai) date and that day's next number, from one atomic
    upsert, so concurrent intake never hands out a number twice."""
    day = timezone.localdate(at or timezone.now())
    table = connection.ops.quote_name(OrderNumberSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, last_value) VALUES (%s, 1) "
            f"ON CONFLICT (day) DO UPDATE SET last_value = {table}.last_value + 1 RETURNING last_value",
            [day],
        )
        (value,) = cursor.fetchone()
    return f"OH{day:%Y%m%d}-{value:05d}"


def _clean_amount(amount) -> Decimal:
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise InvalidActionData(_("“%(amount)s” is not an amount.") % {"amount": amount}) from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise InvalidActionData(
            _("The amount must be zero or more, with at most two decimals (got %(amount)s).") % {"amount": amount}
        )
    return value


def _clean_email(email: str) -> str:
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidActionData(_("“%(email)s” is not an email address.") % {"email": email}) from None
    return email


def order_create(*, actor, **fields) -> Order:
    """Create an order in state `submitted` and its first timeline event, in a transaction of
    its own. Fields: channel, amount, shop (None: the channel default), currency, external_id,
    buyer_email, buyer_phone, ordered_at, cs_owner, main_order, is_gift, note, the shipping
    address (SHIPPING_FIELDS), lines, shipping_fee, tax_amount, buyer_remark."""
    try:
        with transaction.atomic(durable=True):
            return order_create_in_transaction(actor=actor, **fields)
    except IntegrityError:
        channel, external_id = fields.get("channel", ""), (fields.get("external_id") or "").strip()
        if external_id and Order.objects.filter(channel=channel, external_id=external_id).exists():
            raise _already_in_hub(channel, external_id) from None
        raise


def _already_in_hub(channel: str, external_id: str) -> InvalidActionData:
    return InvalidActionData(
        _("Order %(external_id)s from %(channel)s is already in the hub.")
        % {"external_id": external_id, "channel": Channel(channel).label}
    )


def order_create_in_transaction(
    *,
    actor,
    channel: str,
    amount,
    shop=None,
    currency: str | None = None,
    external_id: str = "",
    buyer_email: str = "",
    buyer_phone: str = "",
    ordered_at=None,
    cs_owner=None,
    main_order: Order | None = None,
    is_gift: bool = False,
    note: str = "",
    lines: Sequence[dict] = (),
    shipping_fee=Decimal("0"),
    tax_amount=Decimal("0"),
    buyer_remark: str = "",
    lines_must_add_up: bool = True,
    external_id_checked: bool = False,
    **shipping,
) -> Order:
    """The same, joining the caller's transaction (intake creates and pays in one). A gift
    order (`is_gift`) must name its main order; being a gift is derived from that. `lines`
    (dicts of orders.services.lines.LINE_FIELDS) are written with the order; they, the
    shipping fee and the tax must add up to the amount unless `lines_must_add_up` is False (a
    webhook: the buyer has paid what the channel says), when the mismatch is recorded on the
    `created` event for the intake to raise. `external_id_checked`: the caller has just looked
    the channel's order id up in this transaction and found nothing (the intake, under lock), so
    it is not looked up again; a creation of the same order that commits in between still fails
    the INSERT (the unique constraint: IntegrityError, which the intake's callers retry)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_create_in_transaction needs an open transaction")
    if actor is not None and not actor.has_perm("orders.add_order"):
        raise ActionNotPermitted(role_label=_role_label(actor), action_label=_("Create order"))
    if channel not in Channel.values:
        raise InvalidActionData(_("Unknown channel “%(channel)s”.") % {"channel": channel})
    unknown = set(shipping) - set(SHIPPING_FIELDS)
    if unknown:
        raise TypeError(f"order_create got unexpected fields: {', '.join(sorted(unknown))}")
    amount = _clean_amount(amount)
    shipping_fee, tax_amount = _clean_amount(shipping_fee), _clean_amount(tax_amount)
    shop = shop_for_order(channel, shop)
    currency = currency_code_clean(currency or settings.ORDERHUB_CURRENCY)
    clean_lines, mismatch = order_lines_prepare(
        lines,
        currency=currency,
        amount=amount,
        shipping_fee=shipping_fee,
        tax_amount=tax_amount,
        must_add_up=lines_must_add_up,
    )
    if is_gift and main_order is None:
        raise InvalidActionData(_("A gift order must name its main order."))
    if main_order is not None and main_order.main_order_id is not None:
        raise InvalidActionData(_("A gift order's main order cannot itself be a gift order."))
    if cs_owner is not None:
        _check_cs_owner(cs_owner)
    external_id = (external_id or "").strip()
    if (
        external_id
        and not external_id_checked
        and Order.objects.filter(channel=channel, external_id=external_id).exists()
    ):
        raise _already_in_hub(channel, external_id)
    now = timezone.now()
    # The operations rules decide what a new order gets (e.g. the priority lane for high value):
    # the intake planners set it on the row before it is saved, and name the rules in the note.
    order = Order(
        number=order_number_next(at=now),
        channel=channel,
        shop=shop,
        external_id=external_id,
        buyer_email=_clean_email(buyer_email),
        buyer_phone=(buyer_phone or "").strip(),
        ordered_at=ordered_at or now,
        amount=amount,
        currency=currency,
        shipping_fee=shipping_fee,
        tax_amount=tax_amount,
        buyer_remark=(buyer_remark or "").strip(),
        weight_grams=order_lines_weight(clean_lines),
        cs_owner=cs_owner,
        main_order=main_order,
        updated_by=actor,
        updated_at=now,
        state_changed_at=now,
        **{name: (value or "").strip() for name, value in shipping.items()},
    )
    plans = IntakePlans([order])
    # Its "+" history row copied from the row as saved, by the database (simple-history's
    # post_save row rebuilds its history manager on every save: a tenth of a webhook's time).
    order.skip_history_when_saving = True
    try:
        order.save()
    finally:
        del order.skip_history_when_saving
    order_history_steps_insert([(order.pk, "+", order.state, order.version)], at=now, user=actor)
    OrderLine.objects.bulk_create(order_lines_build(order, clean_lines))
    created = order_event_create(
        order=order,
        action=ORDER_CREATED,
        from_state="",
        actor=actor,
        occurred_at=now,
        note=plans.note(0, note),
        data=order_created_data(order, clean_lines, mismatch),
    )
    outbox_enqueue_for_events([created], also=plans.record([created]))
    return order


def order_created_data(order: Order, lines: Sequence[dict], totals_mismatch: str) -> dict:
    """The `created` event's data, for one order and a batch alike: where it came from, what
    it held, and whether its lines failed to add up."""
    data = {"channel": order.channel, "external_id": order.external_id, **order_lines_summary(lines)}
    if totals_mismatch:
        data["totals_mismatch"] = totals_mismatch
    return data


def _role_label(user) -> str:
    role = role_of(user)
    return str(Role(role).label) if role else _("no role")


def _check_cs_owner(user) -> None:
    if not user.is_active or role_of(user) not in (Role.CUSTOMER_SERVICE, Role.ADMIN):
        raise OwnerNotEligible(name=user_display_name(user))


def order_owner_check(*, order: Order, owner) -> None:
    """Whether `owner` may own `order`, the one rule for every path that sets an owner (the
    order page, the board's assign action and "take", operations rules): an active
    customer-service user (or an admin) who works the order's brand, that is who may see the
    order (customer service sees only its brands' orders). Raises OwnerNotEligible or
    OwnerNotOfBrand."""
    _check_cs_owner(owner)
    if not order_is_visible_to(order=order, user=owner):
        raise OwnerNotOfBrand(name=user_display_name(owner))


def _check_may_edit_details(actor) -> None:
    if actor is not None and not actor.has_perm("orders.change_order"):
        raise ActionNotPermitted(role_label=_role_label(actor), action_label=_("Edit order details"))


def order_update_details(*, order_id: int, actor, expected_version: int | None, **changes) -> Order:
    """Change owner, priority or buyer contact, with the same lock and version check as a
    transition, and one timeline event listing old → new. A new owner must pass
    order_owner_check against the locked order."""
    unknown = set(changes) - set(EDITABLE_DETAILS)
    if unknown:
        raise InvalidActionData(
            _("These fields cannot be edited here: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
        )
    _check_may_edit_details(actor)
    if "buyer_email" in changes:
        changes["buyer_email"] = _clean_email(changes["buyer_email"])
    owner = changes.get("cs_owner")
    if owner is not None:
        if not hasattr(owner, "pk"):
            owner = get_user_model().objects.filter(pk=owner).first()
            if owner is None:
                raise InvalidActionData(_("That user does not exist."))
        _check_cs_owner(owner)
        changes["cs_owner"] = owner
    if "priority" in changes and int(changes["priority"]) not in Priority.values:
        raise InvalidActionData(_("Unknown priority."))

    with transaction.atomic(durable=True):
        order = order_lock(order_id)
        order_check_version(order, expected_version)
        if owner is not None:
            order_owner_check(order=order, owner=owner)
        _details_save_locked(order, changes, actor=actor)
    return order


# Until the parcel is packed the address is only data; from then on the label is printed and the
# parcel must be intercepted instead (the warehouse and the carrier have the old address).
ADDRESS_EDITABLE_STATES = frozenset(
    {State.SUBMITTED, State.PAYMENT_FAILED, State.PAID, State.RISK_HOLD, State.REVIEWED, State.ALLOCATED}
)


def order_address_fix(*, order_id: int, actor, expected_version: int | None, **address) -> Order:
    """Correct where the order goes (customer service, on the buyer's word), with the same lock
    and version check as a transition and one `details_updated` event listing old → new. Only
    before packing. An *address incomplete* exception is cleared by the fix when nothing is
    missing any more (the fix is the owning role's clearing action)."""
    unknown = set(address) - set(SHIPPING_FIELDS)
    if unknown:
        raise InvalidActionData(
            _("These fields are not part of an address: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
        )
    _check_may_edit_details(actor)
    clean = {}
    for name, value in address.items():
        text = str(value or "").strip()
        column = cast(CharField, Order._meta.get_field(name))
        limit = column.max_length or 0
        if len(text) > limit:
            raise InvalidActionData(
                _("%(field)s: at most %(limit)s characters.") % {"field": column.verbose_name, "limit": limit}
            )
        clean[name] = text
    with transaction.atomic(durable=True):
        order = order_lock(order_id)
        order_check_version(order, expected_version)
        if order.state not in ADDRESS_EDITABLE_STATES:
            raise InvalidActionData(
                _("The order is %(state)s: the label is printed, so the parcel must be intercepted, not re-addressed.")
                % {"state": State(order.state).label}
            )
        _details_save_locked(order, clean, actor=actor)
        order_address_exception_settle(order=order, actor=actor)
    return order


def order_owner_assign(*, order_id: int, owner, actor, expected_version: int | None = None) -> Order:
    """Give the order to `owner` (a user or a user id; None leaves it unassigned), whoever had
    it: the order page and the board's assign action. The owner must pass order_owner_check
    (an active customer-service user who works the order's brand); a refusal changes
    nothing."""
    return order_update_details(order_id=order_id, actor=actor, expected_version=expected_version, cs_owner=owner)


def order_take(*, order_id: int, actor, expected_version: int | None = None) -> Order:
    """`actor` takes an unassigned order from the board (taking one's own order again changes
    nothing). Someone else's order is refused with OrderAlreadyOwned, which names its owner:
    reassigning it is order_owner_assign's. A race between two takers ends here too, under the
    row lock, before the version check."""
    if actor is None:
        raise TypeError("order_take needs a person: the system assigns with order_owner_assign")
    _check_may_edit_details(actor)
    _check_cs_owner(actor)
    with transaction.atomic(durable=True):
        order = order_lock(order_id)
        if order.cs_owner_id is not None and order.cs_owner_id != actor.pk:
            raise OrderAlreadyOwned(number=order.number, owner_name=user_display_name(order.cs_owner))
        order_check_version(order, expected_version)
        order_owner_check(order=order, owner=actor)
        _details_save_locked(order, {"cs_owner": actor}, actor=actor)
    return order


def _details_save_locked(order: Order, changes: dict, *, actor, note: str = "", data: dict | None = None):
    """Apply `changes` to the locked `order`: the fields, the version, the history row and one
    `details_updated` event with the changes (plus `data`). Returns the event, or None when
    nothing changed."""
    diff = {}
    for name, new in changes.items():
        old = getattr(order, name)
        if old != new:
            diff[name] = [_plain(old), _plain(new)]
            setattr(order, name, new)
    if not diff:
        return None
    now = timezone.now()
    order.version += 1
    order.updated_by = actor
    order.updated_at = now
    order_save_locked(order, update_fields=[*diff.keys(), "version", "updated_by", "updated_at"], actor=actor, at=now)
    updated = order_event_create(
        order=order,
        action=ORDER_DETAILS_UPDATED,
        from_state=order.state,
        actor=actor,
        occurred_at=now,
        note=note,
        data={**(data or {}), "changes": diff},
    )
    outbox_enqueue_for_event(updated)
    return updated


def _plain(value):
    if hasattr(value, "pk"):
        return user_display_name(value) if hasattr(value, "get_username") else str(value)
    return value


# Fields the system may set for an operations rule (rules.services): the editable details, and
# the warehouse an order is meant for before it is allocated.
RULE_SETTABLE_DETAILS = ("cs_owner", "priority", "warehouse", "carrier")


def order_details_set_by_rule_in_transaction(*, order: Order, note: str, data: dict, **changes):
    """A rule's field change on a locked order (as the system, inside the caller's
    transaction): saved with its history row, and one `details_updated` event whose note names
    the rule and whose data holds the rule and the changes. Returns the event, or None when
    nothing changed."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_details_set_by_rule_in_transaction needs an open transaction")
    unknown = set(changes) - set(RULE_SETTABLE_DETAILS)
    if unknown:
        raise TypeError(f"a rule cannot set: {', '.join(sorted(unknown))}")
    if changes.get("cs_owner") is not None:
        order_owner_check(order=order, owner=changes["cs_owner"])
    if "priority" in changes and int(changes["priority"]) not in Priority.values:
        raise InvalidActionData(_("Unknown priority."))
    return _details_save_locked(order, changes, actor=None, note=note, data=data)
