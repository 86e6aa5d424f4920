"""The outbox in the admin: what each event asked for and what became of it."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..admin import local_time
from .models import OutboxMessage, OutboxStatus
from .services import outbox_retry


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """What each event asked for and what became of it. Read-only, but failed messages can be
    given a fresh set of attempts."""

    list_display = (
        "id",
        "kind",
        "status",
        "attempts",
        "order_number",
        "event_action",
        "created",
        "next_attempt",
        "error",
    )
    list_filter = ("status", "kind")
    search_fields = ("=event__order__number", "=idempotency_key")
    list_select_related = ("event__order",)
    show_full_result_count = False
    actions = ["retry"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Order"))
    def order_number(self, message):
        return message.event.order.number

    @admin.display(description=_("Event"))
    def event_action(self, message):
        return message.event.verb

    @admin.display(description=_("Created"), ordering="created_at")
    def created(self, message):
        return local_time(message.created_at)

    @admin.display(description=_("Next attempt"), ordering="next_attempt_at")
    def next_attempt(self, message):
        return local_time(message.next_attempt_at) if message.status == OutboxStatus.PENDING else "—"

    @admin.display(description=_("Last error"))
    def error(self, message):
        return (message.last_error or "")[:120]

    @admin.action(description=_("Retry the selected failed messages"), permissions=["change"])
    def retry(self, request, queryset):
        count = 0
        for message in queryset.filter(status=OutboxStatus.FAILED):
            outbox_retry(message_id=message.pk, actor=request.user)
            count += 1
        self.message_user(request, _("%(count)d messages queued again.") % {"count": count})
