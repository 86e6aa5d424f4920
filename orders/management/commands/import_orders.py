"""Import a channel's order export: `manage.py import_orders FILE --channel taobao [--shop CODE] [--dry-run]`.

`--shop CODE` names the brand's shop the file comes from (its channel is the file's channel, so
--channel may be left out): its import mapping renames the columns, and its orders belong to it.
Without it the orders belong to the channel's default shop. An unknown, inactive or other-channel
shop is refused before anything is read; an order of the file already in the hub under another
shop is reported as a problem of its row.

All or nothing, in two phases:

1. Check everything first, writing nothing: every row of the file (integrations/channels/
   csv_import.py documents the columns of each channel), then every row against the hub (an
   order already there whose update cannot apply, e.g. cancelled in the file but shipped here).
   Any problem: the report lists each one (row, column, reason), nothing is imported, and the
   command fails.
2. Import in ONE transaction, in batches, each row through the intake service (new orders in
   bulk, with the same rows the service writes). A problem that appears only now (someone
   shipped an order in between) rolls everything back. Order numbers for the new orders are
   reserved just before, in a short transaction of their own, so the import does not hold the
   day's number counter, which every webhook and new order needs, while it runs.

Idempotent: importing the same file again creates nothing and changes nothing. --dry-run does
phase 1 and says what phase 2 would do. On a terminal a counter shows the progress.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from integrations.channels.csv_import import ImportFileError, ImportRow, RowError, import_file_read
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

CHECK_CHUNK = 2000


class Command(BaseCommand):
    help = "Import orders from a channel's CSV or XLSX export: all rows or none; re-importing changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv (UTF-8 or GBK) or .xlsx file")
        parser.add_argument(
            "--channel", choices=Channel.values, help="the channel the file comes from (default: the shop's)"
        )
        parser.add_argument("--shop", help="the code of the shop the file comes from (default: the channel's default)")
        parser.add_argument("--dry-run", action="store_true", help="check and count, change nothing")
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per batch (default 1000)")

    def handle(self, *args, file, channel=None, shop=None, dry_run=False, batch_size=1000, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be positive")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        shop_row, channel = self._shop(shop, channel)
        self.shop = shop_row
        mapping = None
        if shop_row is not None:
            try:
                mapping = import_mapping_clean(channel, shop_row.import_mapping)
            except ValueError as exc:
                raise CommandError(
                    f"shop {shop_row.code}: its import mapping is wrong ({exc}). Nothing was imported."
                ) from None
        started = time.monotonic()
        self.tty = self.stdout.isatty()

        try:
            parsed = import_file_read(path, channel=channel, progress=self._counter("Checking rows"), mapping=mapping)
        except ImportFileError as exc:
            self._end_counter()
            raise CommandError(f"{path.name}: {exc}. Nothing was imported.") from None
        self._end_counter()
        rows = parsed.rows
        plans, hub_errors = self._check_against_hub(channel, rows, parsed)
        errors = sorted(parsed.errors + hub_errors, key=lambda e: (e.row, e.column))
        total = len(rows) + len({e.row for e in parsed.errors})
        if errors:
            self._report(path, errors, total)
            raise CommandError(
                f"{path.name}: {len(errors)} problem(s) in {len({e.row for e in errors})} of {total} rows. "
                "Nothing was imported: fix the file and run the command again."
            )

        new = sum(1 for plan in plans.values() if plan is None)
        updates = {key: plan for key, plan in plans.items() if plan}
        unchanged = len(rows) - new - len(updates)
        where = f"{Channel(channel).label} · {self.shop.code}" if self.shop is not None else Channel(channel).label
        self.stdout.write(
            f"{path.name} ({where}, {parsed.encoding}): {len(rows)} rows, all valid. "
            f"Columns: {', '.join(f'{k}={v}' for k, v in parsed.columns.items())}."
        )
        if dry_run:
            self.stdout.write(
                f"Dry run: would create {new}, update {len(updates)}{self._actions_text(updates.values())}, "
                f"leave {unchanged} unchanged. Nothing was changed."
            )
            return

        counts = self._import(path, channel, rows, new, batch_size)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {path.name}: {counts[CREATED]} created, {counts['updated']} updated, "
                f"{counts[UNCHANGED]} unchanged in {time.monotonic() - started:.1f} s."
            )
        )

    @staticmethod
    def _shop(code: str | None, channel: str | None) -> tuple[Shop | None, str]:
        """The shop named by --shop (checked) and the file's channel."""
        if not code:
            if not channel:
                raise CommandError("give the file's --channel, or the --shop it comes from. Nothing was imported.")
            return None, channel
        shop = Shop.objects.select_related("brand").filter(code=code.strip()).first()
        if shop is None:
            known = ", ".join(Shop.objects.filter(is_active=True).order_by("code").values_list("code", flat=True))
            raise CommandError(f"there is no shop {code!r} (shops: {known or 'none'}). Nothing was imported.")
        if not shop.is_active:
            raise CommandError(f"shop {shop.code} is inactive. Nothing was imported.")
        if channel and channel != shop.channel:
            raise CommandError(f"shop {shop.code} sells on {shop.channel}, not on {channel}. Nothing was imported.")
        return shop, shop.channel

    # -- phase 1: against the hub ----------------------------------------------------------------

    def _check_against_hub(self, channel: str, rows: list[ImportRow], parsed) -> tuple[dict, list[RowError]]:
        """{external_id: None for a new order, else the actions it needs}, and the rows whose
        update the hub would refuse. Reads only: the import re-checks under lock."""
        plans: dict[str, list[str] | None] = {}
        errors = []
        column = parsed.column_of("status") or parsed.column_of("cancelled") or parsed.column_of("paid")
        for start in range(0, len(rows), CHECK_CHUNK):
            chunk = rows[start : start + CHECK_CHUNK]
            existing = {
                o.external_id: o
                for o in Order.objects.filter(channel=channel, external_id__in=[r.external_id for r in chunk]).only(
                    "pk", "number", "state", "external_id", "shop_id"
                )
            }
            for row in chunk:
                order = existing.get(row.external_id)
                if order is None:
                    plans[row.external_id] = None
                    continue
                if self.shop is not None and order.shop_id != self.shop.pk:
                    errors.append(
                        RowError(
                            row.row,
                            parsed.column_of("external_id"),
                            f"order {row.external_id} is already in the hub as {order.number}, "
                            f"of another shop than {self.shop.code}",
                        )
                    )
                    continue
                try:
                    plans[row.external_id] = intake_actions(order=order, paid=row.paid, cancelled=row.cancelled)
                except OrderError as exc:
                    errors.append(RowError(row.row, column, exc.message))
        return plans, errors

    # -- phase 2 ---------------------------------------------------------------------------------

    def _import(self, path: Path, channel: str, rows: list[ImportRow], new: int, batch_size: int) -> dict:
        with transaction.atomic(durable=True):
            numbers = iter(order_numbers_reserve(new))
        counts = {CREATED: 0, "updated": 0, UNCHANGED: 0}
        by_id = {row.external_id: row for row in rows}
        progress = self._counter("Importing", total=len(rows))
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
                        )
                        for row in batch
                    ]
                    for result in order_intake_batch_in_transaction(
                        channel=channel, items=items, numbers=numbers, shop=self.shop
                    ):
                        counts[result.outcome] += 1
                    done += len(batch)
                    progress(done)
        except OrderError as exc:
            self._end_counter()
            row = by_id.get(getattr(exc, "external_id", None))
            where = f"row {row.row}: " if row else ""
            raise CommandError(
                f"{path.name}: {where}{exc.message} The hub changed while importing; nothing was imported."
            ) from None
        except IntegrityError:
            # A webhook created one of the new orders while the import ran: the next run finds it.
            self._end_counter()
            raise CommandError(
                f"{path.name}: an order of this file was created elsewhere while importing; nothing was "
                "imported. Run the command again."
            ) from None
        self._end_counter()
        return counts

    # -- output ----------------------------------------------------------------------------------

    def _report(self, path: Path, errors: list[RowError], total: int) -> None:
        self.stderr.write(f"{path.name}: these rows cannot be imported ({len(errors)} problem(s)):")
        for error in errors:
            self.stderr.write(f"  {error}")

    @staticmethod
    def _actions_text(plans) -> str:
        pay = sum("pay" in plan for plan in plans)
        cancel = sum("cancel" in plan for plan in plans)
        parts = [f"{pay} to pay" if pay else "", f"{cancel} to cancel" if cancel else ""]
        parts = [p for p in parts if p]
        return f" ({', '.join(parts)})" if parts else ""

    def _counter(self, label: str, total: int | None = None):
        """A one-line counter, redrawn with \\r, when stdout is a terminal; silent otherwise."""
        if not self.tty:
            return lambda count: None

        def show(count: int) -> None:
            if total:
                self.stdout.write(f"\r{label}: {count:,}/{total:,} ({100 * count // total}%)", ending="")
            else:
                self.stdout.write(f"\r{label}: {count:,}", ending="")
            self.stdout.flush()
            self._counting = True

        return show

    def _end_counter(self) -> None:
        if getattr(self, "_counting", False):
            self.stdout.write("")
            self._counting = False
