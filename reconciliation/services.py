"""Reconciliation: compare another system's export with the hub, and apply the safe corrections.

    reconciliation_run(*, source, path, actor, fix=False, mapping=None, channel=None,
                       report=None, progress=None) -> RunResult

How it works, in constant memory whatever the size of the file:

1. The run is recorded first (who, when, source, file name and SHA-256), so a failed run is
   recorded too, with its error.
2. The file is streamed (reconciliation.readers) in chunks of CHUNK rows; each chunk costs one
   query for its orders (by order number, by channel order id, or by tracking number: the first
   the mapping has) with only the columns compared and each order's latest tracking number.
   Every difference is written to the report as it is found.
3. "Missing in the source": the hub orders of the compared scope that no row matched. The ids
   matched are kept in a compact integer array (8 bytes an order), sorted, and merged with the
   scope's ids streamed from the database in id order: one pass each, no per-order query. Scope:

   - platform: the channel's orders (--channel, default taobao);
   - wms: orders the warehouse holds or has just shipped (allocated, packed, shipped);
   - carrier: orders out with a carrier (shipped, picked up);
   - finance: paid orders;

   gift orders excluded (they travel and are billed with their main order), and, when the
   mapping has an order-time column, only orders placed between the file's first and last
   order time.
4. With `fix`, the safe corrections are collected while comparing and applied only once the
   whole file was read (a file that turns out bad half-way changes nothing): each through
   `order_transition` as the system, at the version seen when compared, with an event naming
   the run, the source, the file and the row. What cannot be fixed is listed with the reason.

Quantities: where the export has a quantity column (named by the mapping, or one of the names in
reconciliation.defaults.QUANTITY_COLUMNS), the units are compared with the hub order's lines too
(gift lines count: they go out in the parcel). With a SKU column as well, each row is one line
and the rows of an order follow one another (its key on every row, or left blank after its
first row): every SKU's units are compared, and a SKU on one side only is a difference; without
one, the order's rows add up to its total units. The order's other columns (status, amount,
payment, tracking number) are compared on its first row, and an order missing in the hub is
reported once. A hub order without lines has no units to compare: its quantities are not
compared. Each difference is a `quantity_mismatch` with both figures ("TEA-01 × 3" against
"TEA-01 × 2"; blank where the SKU is missing). A file without a quantity column is compared as
before, and its run has no `quantity_mismatch` count.

Safe corrections (SAFE_FIXES): the physical truth moves an order forward — a carrier or the
warehouse says delivered while the hub says shipped or picked up → deliver; the platform says
closed while the hub can still cancel → cancel; finance says paid while the hub waits for the
payment → pay. Amounts, quantities and tracking numbers are never changed here (a tracking number is never
overwritten): a person looks at them.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import re
from array import array
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import OrderError
from orders.models import Order, Shipment
from orders.selectors import order_amounts_as_bought, order_lines_as_bought
from orders.services.transition import order_transition
from orders.states import TRANSITIONS_BY_ACTION, Channel, MainStatus, PaymentStatus, State

from .defaults import QUANTITY_COLUMNS
from .models import ReconciliationRun, Source, SourceMapping
from .readers import SourceFileError, source_rows_open

CHUNK = 5000

MISSING_IN_HUB = "missing_in_hub"
MISSING_IN_SOURCE = "missing_in_source"
STATUS_MISMATCH = "status_mismatch"
AMOUNT_MISMATCH = "amount_mismatch"
PAYMENT_MISMATCH = "payment_mismatch"
TRACKING_MISMATCH = "tracking_mismatch"
UNREADABLE = "unreadable_value"
# Units differ, or a SKU is on one side only: only for an export with a quantity column.
QUANTITY_MISMATCH = "quantity_mismatch"
DIFFERENCE_KINDS = (
    MISSING_IN_HUB,
    MISSING_IN_SOURCE,
    STATUS_MISMATCH,
    AMOUNT_MISMATCH,
    PAYMENT_MISMATCH,
    TRACKING_MISMATCH,
    UNREADABLE,
    QUANTITY_MISMATCH,
)

# The fields a mapping may name (hub field -> the export's column).
KEY_FIELDS = ("number", "external_id", "tracking_number")
MAPPING_FIELDS = (*KEY_FIELDS, "status", "amount", "payment", "ordered_at", "quantity", "sku")

# (source, what the source says (main status)) -> (the hub states it may move from, the action).
SAFE_FIXES: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    (Source.CARRIER, MainStatus.DELIVERED): ((State.SHIPPED, State.PICKED_UP), "deliver"),
    (Source.WMS, MainStatus.DELIVERED): ((State.SHIPPED, State.PICKED_UP), "deliver"),
    (Source.PLATFORM, MainStatus.CLOSED): (TRANSITIONS_BY_ACTION["cancel"].sources, "cancel"),
}
SAFE_PAYMENT_FIXES: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    (Source.FINANCE, PaymentStatus.PAID): (TRANSITIONS_BY_ACTION["pay"].sources, "pay"),
}

SCOPE_STATES = {
    Source.WMS: (State.ALLOCATED, State.PACKED, State.SHIPPED),
    Source.CARRIER: (State.SHIPPED, State.PICKED_UP),
}

REPORT_HEADER = ["row", "kind", "key", "order", "field", "source_value", "hub_value", "note"]


class ReconciliationError(Exception):
    """The run could not be done (bad file, no mapping); nothing in the hub was changed."""


@dataclass
class PlannedFix:
    row: int
    order_id: int
    number: str
    version: int
    action: str
    note: str


@dataclass
class RunResult:
    run: ReconciliationRun
    encoding: str = ""
    fixed: list[tuple[int, str, str]] = field(default_factory=list)  # (row, order, action)
    not_fixed: list[tuple[int, str, str]] = field(default_factory=list)  # (row, order, reason)


# -- mappings ------------------------------------------------------------------------------------


def mapping_for(*, source: str, name: str | None = None) -> SourceMapping:
    mappings = SourceMapping.objects.filter(source=source)
    mapping = mappings.filter(name=name).first() if name else mappings.filter(is_default=True).first()
    if mapping is None:
        raise ReconciliationError(
            _("No export mapping “%(name)s” for %(source)s: add one in the admin.")
            % {"name": name or _("default"), "source": Source(source).label}
        )
    return mapping


def mapping_problems(*, columns: dict, statuses: dict, payment_statuses: dict) -> dict[str, str]:
    """{json field: problem} for a mapping (the admin form shows them)."""
    problems = {}
    if not isinstance(columns, dict) or not all(isinstance(v, str) and v.strip() for v in columns.values()):
        problems["columns"] = _("Give a JSON object: hub field → the export's column name.")
    else:
        unknown = sorted(set(columns) - set(MAPPING_FIELDS))
        if unknown:
            problems["columns"] = _("Unknown hub fields: %(fields)s (known: %(known)s).") % {
                "fields": ", ".join(unknown),
                "known": ", ".join(MAPPING_FIELDS),
            }
        elif not set(columns) & set(KEY_FIELDS):
            problems["columns"] = _("Name at least one column to find the order by: %(keys)s.") % {
                "keys": ", ".join(KEY_FIELDS)
            }
    for name, words, allowed in (
        ("statuses", statuses, MainStatus.values),
        ("payment_statuses", payment_statuses, PaymentStatus.values),
    ):
        if not isinstance(words, dict):
            problems[name] = _("Give a JSON object: the export's word → the hub's status.")
            continue
        bad = sorted({s for value in words.values() for s in _as_list(value)} - set(allowed))
        if bad or not all(_as_list(v) for v in words.values()):
            problems[name] = _("Unknown statuses: %(bad)s (known: %(known)s).") % {
                "bad": ", ".join(map(str, bad)) or "[]",
                "known": ", ".join(allowed),
            }
    return problems


def _as_list(value) -> list:
    """A word maps to one status or to a list of them (any one matches; the first is what the
    source means when a fix is considered)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return []


# -- values --------------------------------------------------------------------------------------

_ID_WRAPPER_RE = re.compile(r'^="?(.*?)"?$')
_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return _ID_WRAPPER_RE.sub(r"\1", text).strip().lstrip("'") if text.startswith(("=", "'")) else text


def _amount(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().lstrip("¥￥$€£").strip().replace(",", "")
    if text.upper().startswith(("CNY", "RMB", "USD")):
        text = text[3:].strip()
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _quantity(value) -> int | None:
    """Whole units (2, "2", 2.0, "2.00"), or None for anything else (a fraction, a negative, text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else _text(value).replace(",", ""))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number != number.to_integral_value():
        return None
    return int(number)


def _time(value) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = _text(value)
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
            for fmt in _TIME_FORMATS:
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


# -- the run -------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reconciliation_run(
    *,
    source: str,
    path: Path | str,
    actor,
    fix: bool = False,
    mapping: SourceMapping | None = None,
    channel: str | None = None,
    report: Path | str | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> RunResult:
    """Compare the export at `path` with the hub (see the module's docstring). Raises
    ReconciliationError for a file that cannot be read: the run is recorded with the error and
    nothing in the hub changes."""
    path = Path(path)
    if source not in Source.values:
        raise ReconciliationError(_("Unknown source “%(source)s”.") % {"source": source})
    if not path.is_file():
        raise ReconciliationError(_("%(path)s: no such file.") % {"path": path})
    mapping = mapping or mapping_for(source=source)
    channel = channel or (Channel.TAOBAO if source == Source.PLATFORM else None)
    run = ReconciliationRun.objects.create(
        source=source,
        mapping=mapping,
        file_name=path.name,
        file_sha256=file_sha256(path),
        run_by=actor,
        fix=fix,
    )
    result = RunResult(run=run)
    with ExitStack() as stack:
        report_file = stack.enter_context(Path(report).open("w", encoding="utf-8-sig", newline="")) if report else None
        return _run(
            run,
            result,
            mapping=mapping,
            channel=channel,
            path=path,
            source=source,
            fix=fix,
            actor=actor,
            report_file=report_file,
            progress=progress,
        )


def _run(run, result, *, mapping, channel, path, source, fix, actor, report_file, progress) -> RunResult:
    writer = csv.writer(report_file) if report_file else None
    if writer:
        writer.writerow(REPORT_HEADER)
    comparer = _Comparer(run=run, mapping=mapping, channel=channel, writer=writer, fix=fix)
    try:
        with source_rows_open(path, columns=mapping.columns, optional=QUANTITY_COLUMNS) as rows:
            result.encoding = rows.encoding
            comparer.fields_found(rows.fields)
            chunk = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    comparer.compare(chunk)
                    chunk = []
                    if progress:
                        progress(comparer.rows_read, rows.progress)
            if chunk:
                comparer.compare(chunk)
            comparer.group_close()
            if progress:
                progress(comparer.rows_read, 1.0)
    except SourceFileError as exc:
        run.error = f"{path.name}: {exc}"
        run.rows_read = comparer.rows_read
        run.finished_at = timezone.now()
        run.save()
        raise ReconciliationError(
            _("%(file)s: %(error)s. Nothing in the hub was changed.") % {"file": path.name, "error": exc}
        ) from None
    comparer.missing_in_source()
    if fix:
        _fixes_apply(run=run, path=path, source=source, fixes=comparer.fixes, actor=actor, result=result)
    result.not_fixed[:0] = comparer.not_fixed
    if writer:
        for row, number, action in result.fixed:
            writer.writerow([row, "fixed", "", number, "state", "", "", action])
        for row, number, reason in result.not_fixed:
            writer.writerow([row, "not_fixed", "", number, "", "", "", reason])
    run.rows_read = comparer.rows_read
    run.orders_compared = comparer.orders_compared
    kinds = DIFFERENCE_KINDS if comparer.quantities else tuple(k for k in DIFFERENCE_KINDS if k != QUANTITY_MISMATCH)
    run.differences = {kind: comparer.counts.get(kind, 0) for kind in kinds}
    run.status_compared = comparer.status_compared
    run.status_matched = comparer.status_matched
    run.fixed = len(result.fixed)
    run.not_fixed = len(result.not_fixed) if fix else 0
    run.finished_at = timezone.now()
    run.save()
    return result


class _Comparer:
    def __init__(self, *, run, mapping: SourceMapping, channel, writer, fix: bool):
        self.run = run
        self.source = run.source
        self.channel = channel
        self.columns = mapping.columns
        self.key = next(k for k in KEY_FIELDS if k in mapping.columns)
        self.statuses = {_text(word): _as_list(v) for word, v in (mapping.statuses or {}).items()}
        self.payments = {_text(word): _as_list(v) for word, v in (mapping.payment_statuses or {}).items()}
        self.writer = writer
        self.fix = fix
        self.counts: Counter = Counter()
        self.seen = array("q")
        self.rows_read = 0
        self.orders_compared = 0
        self.status_compared = 0
        self.status_matched = 0
        self.first_time: datetime | None = None
        self.last_time: datetime | None = None
        self.fixes: list[PlannedFix] = []
        self.not_fixed: list[tuple[int, str, str]] = []
        # Quantities (fields_found decides): the rows of the order being read, and the orders
        # whose rows were read already (a later row of theirs is out of place).
        self.quantities = False
        self.per_sku = False
        self.group: _LineGroup | None = None
        self.grouped: set[int] = set()

    def fields_found(self, fields: frozenset[str]) -> None:
        """What the header has: a quantity column turns the quantity comparison on."""
        self.quantities = "quantity" in fields
        self.per_sku = self.quantities and "sku" in fields

    def _diff(self, kind, row, key, number, name, source_value, hub_value, note="") -> None:
        self.counts[kind] += 1
        if self.writer:
            self.writer.writerow([row, kind, key, number, name, source_value, hub_value, note])

    def _orders(self, keys: list[str]) -> dict[str, dict]:
        latest = Shipment.objects.filter(order=OuterRef("pk")).order_by("-sequence").values("tracking_number")[:1]
        fields = ("id", "number", "external_id", "state", "version", "main_status", "payment_status", "amount")
        if self.key == "tracking_number":
            by_tracking = dict(
                Shipment.objects.filter(tracking_number__in=keys).values_list("tracking_number", "order_id")
            )
            rows = Order.objects.filter(pk__in=set(by_tracking.values()))
        elif self.key == "number":
            rows = Order.objects.filter(number__in=keys)
        else:
            rows = Order.objects.filter(external_id__in=keys)
            if self.channel:
                rows = rows.filter(channel=self.channel)
        found = {o["id"]: o for o in rows.annotate(latest_tracking=Subquery(latest)).values(*fields, "latest_tracking")}
        # The channel's figure, not the hub's: a split or a merge moved money between orders.
        for order_id, amount in order_amounts_as_bought({i: o["amount"] for i, o in found.items()}).items():
            found[order_id]["amount"] = amount
        # A merged order ships in the order it was merged into (合单): its status and tracking
        # number are that one's. Its own state stays, so a fix never moves the order kept.
        into = dict(Order.objects.filter(pk__in=list(found), state=State.MERGED).values_list("pk", "merged_into_id"))
        if into:
            kept = Order.objects.filter(pk__in=set(into.values())).annotate(latest_tracking=Subquery(latest))
            shipped = {o["id"]: o for o in kept.values("id", "main_status", "payment_status", "latest_tracking")}
            for order_id, kept_id in into.items():
                for name in ("main_status", "payment_status", "latest_tracking"):
                    found[order_id][name] = shipped[kept_id][name]
        if self.key == "tracking_number":
            return {tracking: found[order_id] for tracking, order_id in by_tracking.items() if order_id in found}
        return {o[self.key]: o for o in found.values()}

    def compare(self, chunk) -> None:
        keys = {}
        for source_row in chunk:
            key = _text(source_row.values.get(self.key))
            if self.key == "tracking_number":
                key = key.upper()
            keys[source_row.row] = key
        orders = self._orders([k for k in keys.values() if k])
        lines = self._hub_lines([o["id"] for o in orders.values()]) if self.quantities else {}
        for source_row in chunk:
            self.rows_read += 1
            values = source_row.values
            row = source_row.row
            key = keys[row]
            if "ordered_at" in values:
                at = _time(values["ordered_at"])
                if at is not None:
                    self.first_time = at if self.first_time is None else min(self.first_time, at)
                    self.last_time = at if self.last_time is None else max(self.last_time, at)
            if self.quantities:
                group = self.group
                if group is not None and (not key or key == group.key):
                    self._group_add(group, row, values)  # one more line of the order above
                    continue
                self.group_close()
            order = orders.get(key) if key else None
            if order is None:
                self._diff(MISSING_IN_HUB, row, key, "", self.key, key, "")
                if self.quantities and key:
                    self.group = _LineGroup(key=key, row=row, order=None, hub=None)  # its lines: once
                continue
            self.orders_compared += 1
            self.seen.append(order["id"])
            self._compare_order(row, key, values, order)
            if self.quantities:
                self._group_open(row, key, values, order, lines.get(order["id"], []))

    # -- quantities ----------------------------------------------------------------------------

    def _hub_lines(self, order_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
        """{order id: [(SKU, quantity)]} of the chunk's orders, in one query."""
        # As bought on the channel: lines a split or a merge moved still count for their platform order.
        return order_lines_as_bought(order_ids)

    def _group_open(self, row: int, key: str, values: dict, order: dict, hub: list[tuple[str, int]]) -> None:
        if order["id"] in self.grouped:
            self._diff(
                UNREADABLE,
                row,
                key,
                order["number"],
                "quantity",
                _text(values.get("quantity")),
                "",
                _("the order's rows do not follow one another: its quantities were compared on its first rows"),
            )
            self.group = _LineGroup(key=key, row=row, order=None, hub=None)
            return
        self.grouped.add(order["id"])
        # No lines in the hub: no units to compare with.
        self.group = _LineGroup(key=key, row=row, order=order, hub=hub or None)
        self._group_add(self.group, row, values)

    def _group_add(self, group: _LineGroup, row: int, values: dict) -> None:
        if group.order is None or group.hub is None or group.unreadable:
            return
        raw = values.get("quantity")
        sku = _text(values.get("sku")) if self.per_sku else ""
        if _text(raw) == "" and not sku:
            return  # a row without a line (the order's own row of a line export)
        quantity = _quantity(raw)
        if quantity is None:
            self._diff(UNREADABLE, row, group.key, group.order["number"], "quantity", _text(raw), "")
            group.unreadable = True
            return
        group.units[sku.upper()] += quantity
        group.skus.setdefault(sku.upper(), sku)
        group.read = True

    def group_close(self) -> None:
        """Compare the units of the order whose rows were just read (at the end of the file too)."""
        group, self.group = self.group, None
        if group is None or group.order is None or group.hub is None or group.unreadable or not group.read:
            return  # not compared: missing in the hub, no lines in the hub, or no units in the file
        number = group.order["number"]
        if not self.per_sku:
            source_total, hub_total = sum(group.units.values()), sum(quantity for _sku, quantity in group.hub)
            if source_total != hub_total:
                self._diff(QUANTITY_MISMATCH, group.row, group.key, number, "quantity", source_total, hub_total)
                self._refuse(
                    group.row, number, _("quantities are never changed by reconciliation: a person checks them")
                )
            return
        hub_units: Counter = Counter()
        for sku, quantity in group.hub:
            hub_units[sku.upper()] += quantity
            group.skus.setdefault(sku.upper(), sku)
        differs = False
        for code, sku in group.skus.items():
            source, hub = group.units.get(code), hub_units.get(code)
            if source == hub:
                continue
            differs = True
            if hub is None:
                note = _("SKU missing in the hub")
            elif source is None:
                note = _("SKU missing in the source")
            else:
                note = _("units differ")
            shown = sku or _("(no SKU)")
            self._diff(
                QUANTITY_MISMATCH,
                group.row,
                group.key,
                number,
                "sku",
                f"{shown} × {source}" if source is not None else "",
                f"{shown} × {hub}" if hub is not None else "",
                note,
            )
        if differs:
            self._refuse(group.row, number, _("quantities are never changed by reconciliation: a person checks them"))

    def _compare_order(self, row: int, key: str, values: dict, order: dict) -> None:
        number = order["number"]
        if "status" in values:
            word = _text(values["status"])
            meant = self.statuses.get(word)
            if not meant:
                self._diff(UNREADABLE, row, key, number, "status", word, order["main_status"], _("unknown status word"))
            else:
                self.status_compared += 1
                if order["main_status"] in meant:
                    self.status_matched += 1
                else:
                    self._diff(STATUS_MISMATCH, row, key, number, "main_status", word, order["main_status"])
                    self._plan(row, order, SAFE_FIXES.get((self.source, meant[0])), word)
        if "amount" in values:
            amount = _amount(values["amount"])
            if amount is None:
                self._diff(UNREADABLE, row, key, number, "amount", _text(values["amount"]), order["amount"])
            elif amount != order["amount"]:
                self._diff(AMOUNT_MISMATCH, row, key, number, "amount", amount, order["amount"])
                self._refuse(row, number, _("amounts are never changed by reconciliation: a person checks them"))
        if "payment" in values:
            word = _text(values["payment"])
            meant = self.payments.get(word)
            if not meant:
                self._diff(UNREADABLE, row, key, number, "payment", word, order["payment_status"], _("unknown word"))
            elif order["payment_status"] not in meant:
                self._diff(PAYMENT_MISMATCH, row, key, number, "payment_status", word, order["payment_status"])
                self._plan(row, order, SAFE_PAYMENT_FIXES.get((self.source, meant[0])), word)
        if "tracking_number" in values and self.key != "tracking_number":
            tracking = _text(values["tracking_number"]).upper()
            hub = order["latest_tracking"] or ""
            if tracking != hub.upper():
                self._diff(TRACKING_MISMATCH, row, key, number, "tracking_number", tracking, hub)
                self._refuse(row, number, _("tracking numbers are never overwritten: a person checks them"))
        elif self.key == "tracking_number" and key != (order["latest_tracking"] or "").upper():
            self._diff(TRACKING_MISMATCH, row, key, number, "tracking_number", key, order["latest_tracking"] or "")

    def _plan(self, row: int, order: dict, rule, word: str) -> None:
        if not self.fix:
            return
        state = order["state"]
        if rule is None:
            self._refuse(
                row,
                order["number"],
                _("no safe correction for “%(word)s” from %(source)s")
                % {
                    "word": word,
                    "source": Source(self.source).label,
                }
                + _(" (the hub says %(state)s)") % {"state": State(state).label},
            )
            return
        states, action = rule
        if state not in states:
            self._refuse(
                row,
                order["number"],
                _("the state machine does not allow “%(action)s” from %(state)s")
                % {"action": TRANSITIONS_BY_ACTION[action].label, "state": State(state).label},
            )
            return
        self.fixes.append(
            PlannedFix(
                row=row,
                order_id=order["id"],
                number=order["number"],
                version=order["version"],
                action=action,
                note=word,
            )
        )

    def _refuse(self, row: int, number: str, reason: str) -> None:
        if self.fix:
            self.not_fixed.append((row, number, str(reason)))

    def missing_in_source(self) -> None:
        """Hub orders in scope that no row matched: a merge of two sorted id streams."""
        seen = self.seen
        ordered = array("q", sorted(seen))
        del seen
        scope = Order.objects.filter(main_order__isnull=True)
        if self.source in (Source.PLATFORM, Source.FINANCE):
            # A part split off (拆单) is no order of the channel's, nor paid on its own: the
            # order it came from stands for it there. Its parcel is the carrier's, so it stays.
            scope = scope.filter(split_from__isnull=True)
        if self.source == Source.PLATFORM:
            scope = scope.filter(channel=self.channel)
        elif self.source == Source.FINANCE:
            scope = scope.filter(payment_status=PaymentStatus.PAID)
        else:
            scope = scope.filter(state__in=SCOPE_STATES[self.source])
        if self.first_time is not None:
            scope = scope.filter(ordered_at__range=(self.first_time, self.last_time))
        size = len(ordered)
        for order_id, number, main_status in (
            scope.order_by("pk").values_list("pk", "number", "main_status").iterator(chunk_size=10000)
        ):
            i = bisect.bisect_left(ordered, order_id)
            if i < size and ordered[i] == order_id:
                continue
            self._diff(MISSING_IN_SOURCE, "", number, number, "", "", main_status)


@dataclass
class _LineGroup:
    """The rows of one order in an export with quantities: the units by SKU (upper case; "" for
    a file without SKUs), the hub's lines (None: not compared), the order's first row."""

    key: str
    row: int
    order: dict | None
    hub: list[tuple[str, int]] | None
    units: Counter = field(default_factory=Counter)
    skus: dict[str, str] = field(default_factory=dict)  # upper case → as first written
    unreadable: bool = False
    read: bool = False  # a quantity was read from its rows


def _fixes_apply(*, run, path: Path, source: str, fixes: list[PlannedFix], actor, result: RunResult) -> None:
    applied_by = actor.get_username() if actor else ""
    for planned in fixes:
        try:
            order_transition(
                planned.order_id,
                planned.action,
                actor=None,
                expected_version=planned.version,
                note=f"reconcile {path.name} row {planned.row} ({Source(source).label}: {planned.note})",
                event_data={
                    "reconciliation_run": run.pk,
                    "source": source,
                    "file": path.name,
                    "row": planned.row,
                    "applied_by": applied_by,
                },
            )
        except OrderError as exc:
            result.not_fixed.append((planned.row, planned.number, exc.message))
        else:
            result.fixed.append((planned.row, planned.number, planned.action))
