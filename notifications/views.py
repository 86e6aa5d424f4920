from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .models import Notification
from .selectors import notification_inbox, notification_unread_count
from .services import notification_open, notifications_mark_all_read


@never_cache
@require_GET
@login_required
def bell(request):
    """The bell's count: polled by htmx every few seconds, one indexed COUNT."""
    return render(request, "notifications/bell.html", {"unread": notification_unread_count(user=request.user)})


@never_cache
@require_GET
@login_required
def inbox(request):
    return render(
        request,
        "notifications/inbox.html",
        {
            # The admin's own context: header, user links, the bell, the language switch.
            **admin.site.each_context(request),
            "notifications": notification_inbox(user=request.user),
            "unread": notification_unread_count(user=request.user),
            "title": _("Notifications"),
        },
    )


@require_POST
@login_required
def open_notification(request, pk: int):
    try:
        notification = notification_open(notification_id=pk, user=request.user)
    except Notification.DoesNotExist:
        raise Http404 from None
    # The order's timeline page, scrolled to the event the notification is about.
    return redirect(reverse("orders:timeline", args=[notification.order.number]) + f"#event-{notification.event_id}")


@require_POST
@login_required
def mark_all_read(request):
    notifications_mark_all_read(user=request.user)
    return redirect("notifications:inbox")
