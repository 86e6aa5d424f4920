"""Who is acting, in which role, and whether that role may take a transition.

Roles are Django groups named by role code (created by `setup_roles` from states.TRANSITIONS);
each transition is a Django permission `orders.can_<action>`, so the admin, the service and
the README's matrix all read one table.
"""

from __future__ import annotations

from .states import HUMAN_ROLES, Role, Transition


def role_of(user) -> str | None:
    """The role an actor acts in: SYSTEM for None, ADMIN for superusers, else the first role
    group the user belongs to (in HUMAN_ROLES order), or None if the user holds no role."""
    if user is None:
        return Role.SYSTEM
    cached = getattr(user, "_orderhub_role", False)
    if cached is not False:
        return cached
    if user.is_superuser:
        role = Role.ADMIN
    else:
        # .all() rather than values_list: it uses groups prefetched with the user when there are.
        names = {group.name for group in user.groups.all()}
        role = next((r for r in HUMAN_ROLES if r.value in names), None)
    user._orderhub_role = role
    return role


def actor_may_take(user, transition: Transition) -> bool:
    if user is None:
        return Role.SYSTEM in transition.roles
    return user.is_active and user.has_perm(f"orders.{transition.permission_codename}")


def user_display_name(user) -> str:
    """张明 for Chinese names (family name first, no space), "Ada Lovelace" otherwise."""
    if user is None:
        return ""
    first, last = user.first_name.strip(), user.last_name.strip()
    if not (first or last):
        return user.get_username()
    if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()
