from django import template

from notifications.selectors import notification_unread_count

register = template.Library()


@register.filter
def unread_notifications(user) -> int:
    """The bell's count on every page: the user's unread notifications."""
    return notification_unread_count(user=user) if user.is_authenticated else 0
