"""Importing a channel's order export (CSV or XLSX): all rows or none, idempotent. The
`import_orders` command (integrations/management/commands/) and any upload page call these and
only translate: what they raise into their errors, the summary into their output.

A shop (`shop_code`) names the brand's shop the file comes from (its channel is the file's
channel): its import mapping renames the columns, and its orders belong to it. Without one the
orders belong to the channel's default shop. An unknown, inactive or other-channel shop is
refused before anything is read; an order of the file already in the hub under another shop is
reported as a problem of its row.

Two phases:

1. orders_import_check writes nothing: every row of the file (integrations/channels/
   csv_import.py documents the columns of each channel), then every row against the hub (an
   order already there whose update cannot apply, e.g. cancelled in the file but shipped here).
   Any problem: OrdersImportRefused lists each one (row, column, reason), nothing is imported.
2. orders_import_apply imports in ONE transaction, in batches, each row through the intake
   service (new orders in bulk, with the same rows the service writes). A problem that appears
   only now (someone shipped an order in between) rolls everything back. Order numbers for the
   new orders are reserved just before, in a short transaction of their own, so the import does
   not hold the day's number counter, which every webhook and new order needs, while it runs.

Importing the same file again creates nothing and changes nothing. orders_import_file is both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from django.db import IntegrityError, transaction

from orders.exceptions import OrderError
from orders.import_columns import import_mapping_clean
from orders.models import Order, Shop
from orders.services.intake import (
    CREATED,
    UNCHANGED,
    IntakeItem,
    intake_actions,
    order_intake_batch_in_transaction,
    order_numbers_reserve,
)
from orders.states import Channel

from ..channels.csv_import import ImportFile, ImportFileError, ImportRow, RowError, import_file_read

CHECK_CHUNK = 2000
# Rows per batch of the import: each batch costs a few statements and a pass of the rules and the
# exception checks whatever its size, so fewer, bigger batches import faster (bench/import_orders.py:
# 5000 took a tenth less than 1000 did, of this process's time and of the database's).
IMPORT_BATCH_SIZE = 5000


class ImportProgress(Protocol):
    """How a caller shows progress (the command: a counter on a terminal)."""

    def start(self, label: str, total: int | None = None) -> Callable[[int], None]: ...

    def end(self) -> None: ...


class OrdersImportRefused(Exception):
    """Nothing was imported. `message` says why; `errors` are the rows' problems, if that is
    why."""

    def __init__(self, message: str, *, errors: list[RowError] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or []


@dataclass
class OrdersImportCheck:
    """What phase 1 found: every row valid, and what phase 2 would do."""

    path: Path
    channel: str
    shop: Shop | None
    parsed: ImportFile
    plans: dict[str, list[str] | None]  # external_id -> None for a new order, else its actions
    started: float = field(default_factory=time.monotonic)

    @property
    def rows(self) -> list[ImportRow]:
        return self.parsed.rows

    @property
    def new(self) -> int:
        return sum(1 for plan in self.plans.values() if plan is None)

    @property
    def updates(self) -> list[list[str]]:
        return [plan for plan in self.plans.values() if plan]

    @property
    def unchanged(self) -> int:
        return len(self.rows) - self.new - len(self.updates)

    @property
    def where(self) -> str:
        label = str(Channel(self.channel).label)
        return f"{label} · {self.shop.code}" if self.shop is not None else label


@dataclass(frozen=True)
class OrdersImportResult:
    created: int
    updated: int
    unchanged: int
    seconds: float


def orders_import_shop(*, shop_code: str | None, channel: str | None) -> tuple[Shop | None, str]:
    """The shop the file comes from (checked) and the file's channel."""
    if not shop_code:
        if not channel:
            raise OrdersImportRefused("name the file's channel or the shop it comes from. Nothing was imported.")
        return None, channel
    shop = Shop.objects.select_related("brand").filter(code=shop_code.strip()).first()
    if shop is None:
        known = ", ".join(Shop.objects.filter(is_active=True).order_by("code").values_list("code", flat=True))
        raise OrdersImportRefused(f"there is no shop {shop_code!r} (shops: {known or 'none'}). Nothing was imported.")
    if not shop.is_active:
        raise OrdersImportRefused(f"shop {shop.code} is inactive. Nothing was imported.")
    if channel and channel != shop.channel:
        raise OrdersImportRefused(f"shop {shop.code} sells on {shop.channel}, not on {channel}. Nothing was imported.")
    return shop, shop.channel


def orders_import_check(
    *, path: Path, channel: str | None, shop_code: str | None = None, progress: ImportProgress | None = None
) -> OrdersImportCheck:
    """Phase 1: read and check every row, then every row against the hub. Writes nothing.
    Raises OrdersImportRefused (with every row's problem) if anything stands in the way."""
    started = time.monotonic()
    shop, channel = orders_import_shop(shop_code=shop_code, channel=channel)
    mapping = None
    if shop is not None:
        try:
            mapping = import_mapping_clean(channel, shop.import_mapping)
        except ValueError as exc:
            raise OrdersImportRefused(
                f"shop {shop.code}: its import mapping is wrong ({exc}). Nothing was imported."
            ) from None
    try:
        parsed = import_file_read(
            path, channel=channel, progress=progress.start("Checking rows") if progress else None, mapping=mapping
        )
    except ImportFileError as exc:
        raise OrdersImportRefused(f"{path.name}: {exc}. Nothing was imported.") from None
    finally:
        if progress:
            progress.end()
    plans, hub_errors = _check_against_hub(channel, parsed.rows, parsed, shop)
    errors = sorted(parsed.errors + hub_errors, key=lambda e: (e.row, e.column))
    if errors:
        total = len(parsed.rows) + len({e.row for e in parsed.errors})
        raise OrdersImportRefused(
            f"{path.name}: {len(errors)} problem(s) in {len({e.row for e in errors})} of {total} rows. "
            "Nothing was imported: fix the file and run the command again.",
            errors=errors,
        )
    return OrdersImportCheck(path=path, channel=channel, shop=shop, parsed=parsed, plans=plans, started=started)


def _check_against_hub(
    channel: str, rows: list[ImportRow], parsed: ImportFile, shop: Shop | None
) -> tuple[dict[str, list[str] | None], list[RowError]]:
    """{external_id: None for a new order, else the actions it needs}, and the rows whose
    update the hub would refuse. Reads only: the import re-checks under lock."""
    plans: dict[str, list[str] | None] = {}
    errors = []
    column = parsed.column_of("status") or parsed.column_of("cancelled") or parsed.column_of("paid")
    for start in range(0, len(rows), CHECK_CHUNK):
        chunk = rows[start : start + CHECK_CHUNK]
        existing = {
            o.external_id: o
            for o in Order.objects.filter(channel=channel, external_id__any=[r.external_id for r in chunk]).only(
                "pk", "number", "state", "external_id", "shop_id"
            )
        }
        for row in chunk:
            order = existing.get(row.external_id)
            if order is None:
                plans[row.external_id] = None
                continue
            if shop is not None and order.shop_id != shop.pk:
                errors.append(
                    RowError(
                        row.row,
                        parsed.column_of("external_id"),
                        f"order {row.external_id} is already in the hub as {order.number}, "
                        f"of another shop than {shop.code}",
                    )
                )
                continue
            try:
                plans[row.external_id] = intake_actions(order=order, paid=row.paid, cancelled=row.cancelled)
            except OrderError as exc:
                errors.append(RowError(row.row, column, exc.message))
    return plans, errors


def orders_import_apply(
    *, check: OrdersImportCheck, batch_size: int = IMPORT_BATCH_SIZE, progress: ImportProgress | None = None
) -> OrdersImportResult:
    """Phase 2: import the checked rows in one transaction, `batch_size` rows at a time. Raises
    OrdersImportRefused (everything rolled back) if the hub changed in between."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    path, rows = check.path, check.rows
    with transaction.atomic(durable=True):
        numbers = iter(order_numbers_reserve(check.new))
    counts = {CREATED: 0, "updated": 0, UNCHANGED: 0}
    by_id = {row.external_id: row for row in rows}
    step = progress.start("Importing", total=len(rows)) if progress else None
    done = 0
    try:
        with transaction.atomic(durable=True):
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                items = [
                    IntakeItem(
                        external_id=row.external_id,
                        fields=row.fields,
                        paid=row.paid,
                        cancelled=row.cancelled,
                        source_note=f"Imported from {path.name}, row {row.row}",
                        cancel_reason=row.cancel_reason,
                        lines=row.lines,
                    )
                    for row in batch
                ]
                for result in order_intake_batch_in_transaction(
                    channel=check.channel, items=items, numbers=numbers, shop=check.shop
                ):
                    counts[result.outcome] += 1
                done += len(batch)
                if step:
                    step(done)
    except OrderError as exc:
        row = by_id.get(getattr(exc, "external_id", None) or "")
        where = f"row {row.row}: " if row else ""
        raise OrdersImportRefused(
            f"{path.name}: {where}{exc.message} The hub changed while importing; nothing was imported."
        ) from None
    except IntegrityError:
        # A webhook created one of the new orders while the import ran: the next run finds it.
        raise OrdersImportRefused(
            f"{path.name}: an order of this file was created elsewhere while importing; nothing was "
            "imported. Run the command again."
        ) from None
    finally:
        if progress:
            progress.end()
    return OrdersImportResult(
        created=counts[CREATED],
        updated=counts["updated"],
        unchanged=counts[UNCHANGED],
        seconds=time.monotonic() - check.started,
    )


def orders_import_file(
    *,
    path: Path,
    channel: str | None,
    shop_code: str | None = None,
    batch_size: int = IMPORT_BATCH_SIZE,
    progress: ImportProgress | None = None,
) -> OrdersImportResult:
    """Check the file, then import it: both phases, all rows or none."""
    check = orders_import_check(path=path, channel=channel, shop_code=shop_code, progress=progress)
    return orders_import_apply(check=check, batch_size=batch_size, progress=progress)
