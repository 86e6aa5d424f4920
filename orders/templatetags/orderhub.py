from django import template

from orders.permissions import user_display_name

register = template.Library()


@register.filter
def display_name(user) -> str:
    """张明 rather than Django's given-name-only greeting."""
    return user_display_name(user)


@register.filter
def unread_notifications(user) -> int:
    from alerts.selectors import notification_unread_count

    return notification_unread_count(user=user) if user.is_authenticated else 0
