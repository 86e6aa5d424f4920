"""Import a channel's order export: `manage.py import_orders FILE --channel taobao [--shop CODE] [--dry-run]`.

`--shop CODE` names the brand's shop the file comes from (its channel is the file's channel, so
--channel may be left out). All or nothing, in two phases: every row is checked first (the
report lists each problem: row, column, reason; nothing is imported and the command fails),
then imported in one transaction. Re-importing the same file changes nothing. --dry-run does
the check and says what the import would do. On a terminal a counter shows the progress.

The work is integrations/services/imports.py's (orders_import_check, orders_import_apply); this
command only translates options, progress and refusals.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from orders.states import Channel

from ...services.imports import IMPORT_BATCH_SIZE, OrdersImportRefused, orders_import_apply, orders_import_check


class Command(BaseCommand):
    help = "Import orders from a channel's CSV or XLSX export: all rows or none; re-importing changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv (UTF-8 or GBK) or .xlsx file")
        parser.add_argument(
            "--channel", choices=Channel.values, help="the channel the file comes from (default: the shop's)"
        )
        parser.add_argument("--shop", help="the code of the shop the file comes from (default: the channel's default)")
        parser.add_argument("--dry-run", action="store_true", help="check and count, change nothing")
        parser.add_argument(
            "--batch-size", type=int, default=IMPORT_BATCH_SIZE, help=f"rows per batch (default {IMPORT_BATCH_SIZE})"
        )

    def handle(self, *args, file, channel=None, shop=None, dry_run=False, batch_size=IMPORT_BATCH_SIZE, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be positive")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if not shop and not channel:
            raise CommandError("give the file's --channel, or the --shop it comes from. Nothing was imported.")
        progress = _Counter(self.stdout) if self.stdout.isatty() else None
        try:
            check = orders_import_check(path=path, channel=channel, shop_code=shop, progress=progress)
        except OrdersImportRefused as exc:
            self._report(path, exc)
            raise CommandError(exc.message) from None

        parsed = check.parsed
        self.stdout.write(
            f"{path.name} ({check.where}, {parsed.encoding}): {len(check.rows)} rows, all valid. "
            f"Columns: {', '.join(f'{k}={v}' for k, v in parsed.columns.items())}."
        )
        if dry_run:
            self.stdout.write(
                f"Dry run: would create {check.new}, update {len(check.updates)}{_actions_text(check.updates)}, "
                f"leave {check.unchanged} unchanged. Nothing was changed."
            )
            return
        try:
            result = orders_import_apply(check=check, batch_size=batch_size, progress=progress)
        except OrdersImportRefused as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {path.name}: {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged in {result.seconds:.1f} s."
            )
        )

    def _report(self, path: Path, refused: OrdersImportRefused) -> None:
        if not refused.errors:
            return
        self.stderr.write(f"{path.name}: these rows cannot be imported ({len(refused.errors)} problem(s)):")
        for error in refused.errors:
            self.stderr.write(f"  {error}")


def _actions_text(plans) -> str:
    pay = sum("pay" in plan for plan in plans)
    cancel = sum("cancel" in plan for plan in plans)
    parts = [f"{pay} to pay" if pay else "", f"{cancel} to cancel" if cancel else ""]
    parts = [p for p in parts if p]
    return f" ({', '.join(parts)})" if parts else ""


class _Counter:
    """A one-line counter on a terminal, redrawn with \\r (the services' ImportProgress)."""

    def __init__(self, stdout):
        self.stdout = stdout
        self.counting = False

    def start(self, label: str, total: int | None = None):
        def show(count: int) -> None:
            if total:
                self.stdout.write(f"\r{label}: {count:,}/{total:,} ({100 * count // total}%)", ending="")
            else:
                self.stdout.write(f"\r{label}: {count:,}", ending="")
            self.stdout.flush()
            self.counting = True

        return show

    def end(self) -> None:
        if self.counting:
            self.stdout.write("")
            self.counting = False
