from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from orders.roles import role_permissions
from orders.states import HUMAN_ROLES


class Command(BaseCommand):
    help = "Create or update one group per role with exactly the permissions of the role matrix (idempotent)."

    def handle(self, *args, **options):
        for role in HUMAN_ROLES:
            group, created = Group.objects.get_or_create(name=role.value)
            wanted = role_permissions(role)
            perms = []
            for dotted in wanted:
                app_label, codename = dotted.split(".", 1)
                perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            group.permissions.set(perms)
            verb = "created" if created else "updated"
            self.stdout.write(f"{verb} group {role.value} ({role.label}): {len(perms)} permissions")
