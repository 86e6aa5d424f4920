from django.core.management.base import BaseCommand
from django.utils import translation

from orders.roles import role_matrix_markdown


class Command(BaseCommand):
    help = "Print the role × action matrix (Markdown) that the README shows."

    def add_arguments(self, parser):
        parser.add_argument("--language", default="en")

    def handle(self, *args, language, **options):
        with translation.override(language):
            self.stdout.write(role_matrix_markdown())
