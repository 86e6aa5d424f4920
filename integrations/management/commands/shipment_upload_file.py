"""Make a shop's bulk-shipping upload file (批量发货) from the command line, as the admin's "Make an
upload file" page does: `manage.py shipment_upload_file --shop CODE [--day YYYY-MM-DD] [--out DIR]`.

Without --day: every shipment of the shop in no file yet; with it, those recorded that
Shanghai day. The file is kept (admin → Integrations → Shipment upload files) and, with --out,
also copied into that folder. The work is integrations/services/upload_files.py's; a refusal
(a Shopify shop, nothing new …) fails the command with its message and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from orders.models import Shop

from ...models import UploadScope
from ...services.upload_files import UploadFileRefused, shipment_upload_file_create


class Command(BaseCommand):
    help = "Make a shop's bulk-shipping upload file of the shipments in no file yet (or of one day's)."

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="the shop's code")
        parser.add_argument("--day", help="YYYY-MM-DD (Shanghai): only that day's shipments")
        parser.add_argument("--out", help="a folder to copy the file into")

    def handle(self, *args, shop, day=None, out=None, **options):
        found = Shop.objects.filter(code=shop).first()
        if found is None:
            raise CommandError(f"There is no shop with the code {shop!r}.")
        on_day = None
        if day:
            try:
                on_day = dt.date.fromisoformat(day)
            except ValueError:
                raise CommandError(f"--day must be YYYY-MM-DD, not {day!r}.") from None
        folder = Path(out) if out else None
        if folder is not None and not folder.is_dir():
            raise CommandError(f"--out {out!r} is not a folder.")
        try:
            result = shipment_upload_file_create(
                shop_id=found.pk, scope=UploadScope.DAY if on_day else UploadScope.SINCE_LAST, day=on_day, actor=None
            )
        except UploadFileRefused as exc:
            raise CommandError(exc.message) from None
        made = result.upload_file
        if folder is not None:
            with made.file.open("rb") as source:
                (folder / made.file_name).write_bytes(source.read())
        self.stdout.write(f"{made.file_name}: {made.line_count} shipments")
        for number in result.skipped:
            self.stderr.write(f"left out (no order id on the channel): {number}")
