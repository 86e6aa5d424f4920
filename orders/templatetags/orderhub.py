from functools import cache

from django import template

from orders.permissions import user_display_name

register = template.Library()


@register.filter
def display_name(user) -> str:
    """张明 rather than Django's given-name-only greeting."""
    return user_display_name(user)


@register.simple_tag
def board_links(user) -> list[dict]:
    """The board pages this user may open, in the order the work flows."""
    from orders.boards import boards_for_user

    return boards_for_user(user)


@register.filter
def local_time(value, fmt: str = "%m-%d %H:%M") -> str:
    """Asia/Shanghai (the active time zone) for display; the database keeps UTC."""
    from django.utils import timezone

    return timezone.localtime(value).strftime(fmt) if value else "—"


@register.filter
def money(order) -> str:
    return f"{order.amount:,.2f} {order.currency}"


@register.filter
def minutes_human(minutes: int) -> str:
    """120 → "2 h", 90 → "90 min": thresholds as operations think of them."""
    from django.utils.translation import gettext

    minutes = int(minutes or 0)
    if minutes >= 60 and minutes % 60 == 0:
        return gettext("%(hours)d h") % {"hours": minutes // 60}
    return gettext("%(minutes)d min") % {"minutes": minutes}


@register.filter
def duration_short(seconds) -> str:
    """45 → "45 s", 630 → "10.5 min", 7200 → "2.0 h": a measured duration at a glance."""
    from django.utils.translation import gettext

    seconds = float(seconds or 0)
    if seconds < 120:
        return gettext("%(value)s s") % {"value": f"{seconds:.0f}"}
    if seconds < 7200:
        return gettext("%(value)s min") % {"value": f"{seconds / 60:.1f}"}
    return gettext("%(value)s h") % {"value": f"{seconds / 3600:.1f}"}


@register.filter
def choice_label(instance, field_name: str) -> str:
    """What instance.get_FOO_display() shows, from the field's choices read once per process:
    Django's rebuilds a hashable copy of all the choices on every call, hashing (so translating)
    every label, which was a fifth of a 50-row board's render time."""
    value = getattr(instance, field_name)
    return str(_choice_labels(type(instance), field_name).get(value, value))


@cache
def _choice_labels(model, field_name: str) -> dict:
    # The labels stay lazy: each is translated into the active language when shown.
    return dict(model._meta.get_field(field_name).flatchoices)
