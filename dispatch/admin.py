"""Promise proposals in the admin: read-only rows; operations accept or dismiss them with one
click (list actions, or the buttons on a proposal's page). Thin: the services decide."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.admin import ReadOnlyAdminMixin
from orders.exceptions import OrderError
from orders.permissions import user_display_name

from .models import PromiseProposal, ProposalStatus
from .services import DECIDE_PERMISSION, promise_proposal_accept, promise_proposal_dismiss


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


@admin.register(PromiseProposal)
class PromiseProposalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "warehouse",
        "status",
        "proposed",
        "current_promise",
        "observed_hours",
        "percentile",
        "sample_size",
        "window",
        "computed",
        "decision",
    )
    list_filter = ("status", "warehouse")
    list_select_related = ("warehouse", "decided_by")
    actions = ["accept_selected", "dismiss_selected"]
    readonly_fields = (
        "warehouse",
        "status",
        "proposed_hours",
        "current_promise",
        "observed_hours",
        "percentile",
        "sample_size",
        "min_sample_size",
        "window",
        "computed",
        "promise_when_computed",
        "reason",
        "decision",
        "old_hours",
        "new_hours",
    )
    fields = readonly_fields

    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE_PERMISSION)

    @admin.display(description=_("Proposed promise (hours)"), ordering="proposed_hours")
    def proposed(self, proposal):
        return proposal.proposed_hours if proposal.proposed_hours is not None else "—"

    @admin.display(description=_("Current promise (hours)"))
    def current_promise(self, proposal):
        return proposal.warehouse.promised_ship_hours

    @admin.display(description=_("Window"))
    def window(self, proposal):
        return f"{_local(proposal.window_start)} – {_local(proposal.window_end)}"

    @admin.display(description=_("Computed at"), ordering="computed_at")
    def computed(self, proposal):
        return _local(proposal.computed_at)

    @admin.display(description=_("Decision"))
    def decision(self, proposal):
        if not proposal.decided_at:
            return "—"
        return f"{user_display_name(proposal.decided_by)} · {_local(proposal.decided_at)}"

    @admin.action(description=_("Accept the selected proposals (set the warehouses' promise)"), permissions=["decide"])
    def accept_selected(self, request, queryset):
        self._decide_all(request, queryset, promise_proposal_accept, _("%(count)d proposals accepted."))

    @admin.action(description=_("Dismiss the selected proposals"), permissions=["decide"])
    def dismiss_selected(self, request, queryset):
        self._decide_all(request, queryset, promise_proposal_dismiss, _("%(count)d proposals dismissed."))

    def _decide_all(self, request, queryset, service, done_text):
        done = 0
        for proposal in queryset.select_related("warehouse"):
            try:
                service(proposal_id=proposal.pk, actor=request.user)
            except OrderError as exc:
                self.message_user(request, f"{proposal.warehouse}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_text % {"count": done}, messages.SUCCESS)

    # One click on the proposal's page.

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/accept/",
                self.admin_site.admin_view(self.accept_view),
                name=f"{info[0]}_{info[1]}_accept",
            ),
            path(
                "<path:object_id>/dismiss/",
                self.admin_site.admin_view(self.dismiss_view),
                name=f"{info[0]}_{info[1]}_dismiss",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        proposal = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if proposal is not None and proposal.is_open and self.has_decide_permission(request):
            extra_context["may_accept"] = proposal.status == ProposalStatus.PROPOSED
            extra_context["may_dismiss"] = True
        return super().change_view(request, object_id, form_url, extra_context)

    def accept_view(self, request, object_id):
        return self._decide_view(request, object_id, accept=True)

    def dismiss_view(self, request, object_id):
        return self._decide_view(request, object_id, accept=False)

    def _decide_view(self, request, object_id, *, accept: bool):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        proposal = get_object_or_404(PromiseProposal.objects.select_related("warehouse"), pk=object_id)
        back = HttpResponseRedirect(reverse("admin:dispatch_promiseproposal_change", args=[proposal.pk]))
        try:
            if accept:
                expected = request.POST.get("expected_hours") or None
                proposal = promise_proposal_accept(
                    proposal_id=proposal.pk, actor=request.user, expected_hours=int(expected) if expected else None
                )
            else:
                proposal = promise_proposal_dismiss(proposal_id=proposal.pk, actor=request.user)
        except ValueError:
            messages.error(request, _("The page sent no valid number of hours: reload it and try again."))
        except OrderError as exc:
            messages.error(request, exc.message)
        else:
            if accept:
                messages.success(
                    request,
                    _("%(warehouse)s now promises %(new)s h (was %(old)s h).")
                    % {"warehouse": proposal.warehouse, "new": proposal.new_hours, "old": proposal.old_hours},
                )
            else:
                messages.success(request, _("Proposal dismissed; the promise stays as it is."))
        return back
