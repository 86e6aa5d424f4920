from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from orders.docs import DOCS_ROLES_PATH, roles_markdown


class Command(BaseCommand):
    help = "Render the role × action matrix (docs/roles.md) from the transition table; --write saves it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--write",
            nargs="?",
            const=DOCS_ROLES_PATH,
            metavar="PATH",
            help=f"write the page to PATH (default {DOCS_ROLES_PATH}, relative to the project) instead of printing it",
        )

    def handle(self, *args, write=None, **options):
        text = roles_markdown()
        if write is None:
            self.stdout.write(text, ending="")
            return
        path = Path(write)
        if not path.is_absolute():
            path = Path(settings.BASE_DIR) / path
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {path}")
