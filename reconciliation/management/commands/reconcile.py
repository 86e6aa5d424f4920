"""Compare another system's export with the hub:

    manage.py reconcile --source {platform,wms,finance,carrier} FILE [--fix] [--report OUT.csv]
                        [--json] [--user USERNAME] [--mapping NAME] [--channel CHANNEL]

Reads the CSV or XLSX file streaming (reconciliation.services explains the comparison, the
quantities where the file has a quantity column, and the safe corrections), records the run,
prints a summary table (or, with --json, the counts as JSON) on stdout and a progress bar on
stderr when it is a terminal. Without --fix nothing in the hub changes. A file that cannot be
read fails the command, names the problem and changes nothing.
"""

from __future__ import annotations

import json
import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from orders.states import Channel
from reconciliation.models import Source
from reconciliation.services import (
    DIFFERENCE_KINDS,
    ReconciliationError,
    mapping_for,
    reconciliation_run,
)

LABELS = {
    "missing_in_hub": "missing in the hub",
    "missing_in_source": "missing in the source",
    "status_mismatch": "main status differs",
    "amount_mismatch": "amount differs",
    "payment_mismatch": "payment status differs",
    "tracking_mismatch": "tracking number differs",
    "unreadable_value": "unreadable value",
    "quantity_mismatch": "quantities differ (units or SKU)",
}


class Command(BaseCommand):
    help = "Compare a platform, WMS, finance or carrier export with the hub; --fix applies the safe corrections."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv (UTF-8 or GBK) or .xlsx export")
        parser.add_argument("--source", required=True, choices=Source.values)
        parser.add_argument("--fix", action="store_true", help="apply the safe corrections as the system")
        parser.add_argument("--report", help="write every difference, with both values, to this CSV file")
        parser.add_argument("--json", action="store_true", help="print the counts as JSON instead of a table")
        parser.add_argument("--user", help="who runs it (recorded on the run; default: the system)")
        parser.add_argument("--mapping", help="the export mapping's name (default: the source's default)")
        parser.add_argument("--channel", choices=Channel.values, help="platform only: the channel (default taobao)")

    def handle(self, *args, file, source, fix=False, report=None, json=False, user=None, mapping=None, **options):
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"--user {user}: no such user")
        started = time.monotonic()
        tty = sys.stderr.isatty()
        self._drawn = False

        def progress(rows: int, share: float) -> None:
            if not tty:
                return
            width = 30
            done = int(width * share)
            sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {share:4.0%} {rows:,} rows")
            sys.stderr.flush()
            self._drawn = True

        try:
            chosen = mapping_for(source=source, name=mapping)
            result = reconciliation_run(
                source=source,
                path=file,
                actor=actor,
                fix=fix,
                mapping=chosen,
                channel=options.get("channel"),
                report=report,
                progress=progress,
            )
        except ReconciliationError as exc:
            self._end(tty)
            raise CommandError(str(exc)) from None
        self._end(tty)
        run = result.run
        seconds = time.monotonic() - started
        if json:
            self.stdout.write(
                _json_dumps(
                    {
                        "run": run.pk,
                        "source": run.source,
                        "file": run.file_name,
                        "sha256": run.file_sha256,
                        "encoding": result.encoding,
                        "rows_read": run.rows_read,
                        "orders_compared": run.orders_compared,
                        "differences": run.differences,
                        "status_compared": run.status_compared,
                        "status_matched": run.status_matched,
                        "fix": run.fix,
                        "fixed": run.fixed,
                        "not_fixed": run.not_fixed,
                        "seconds": round(seconds, 2),
                    }
                )
            )
            return
        self.stdout.write(
            f"{run.file_name} ({Source(run.source).label}, {result.encoding}, mapping “{chosen.name}”): "
            f"{run.rows_read:,} rows, {run.orders_compared:,} orders compared in {seconds:.1f} s. Run #{run.pk}."
        )
        # Quantities only for a file with a quantity column: the run counts them then.
        kinds = [kind for kind in DIFFERENCE_KINDS if kind in run.differences]
        width = max(len(LABELS[kind]) for kind in kinds)
        self.stdout.write(f"  {'difference':<{width}}  {'count':>9}")
        for kind in kinds:
            self.stdout.write(f"  {LABELS[kind]:<{width}}  {run.differences[kind]:>9,}")
        if run.status_compared:
            share = 100 * run.status_matched / run.status_compared
            self.stdout.write(f"  statuses matched: {run.status_matched:,}/{run.status_compared:,} ({share:.2f} %)")
        if fix:
            self.stdout.write(f"Fixed {len(result.fixed)}:")
            for row, number, action in result.fixed:
                self.stdout.write(f"  row {row}: {number} {action}")
            self.stdout.write(f"Not fixed {len(result.not_fixed)}:")
            for row, number, reason in result.not_fixed:
                self.stdout.write(f"  row {row}: {number}: {reason}")
        else:
            self.stdout.write("Nothing was changed (use --fix to apply the safe corrections).")
        if report:
            self.stdout.write(f"Report: {report}")

    def _end(self, tty: bool) -> None:
        if tty and self._drawn:
            sys.stderr.write("\n")


def _json_dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)
