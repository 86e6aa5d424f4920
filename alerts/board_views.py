"""The alert board (/boards/alerts/): active alerts on a phone, filterable, acknowledged and
resolved with one tap (resolving asks for a note), each one click from its order's timeline.
Thin: selectors read, alerting.alert_acknowledge / alert_resolve write. Live like the order
boards: htmx polls the rows with the page's change token and gets a 204 while nothing changed."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from orders.exceptions import OrderError

from .alerting import ALERT_CHANGE_PERMISSION, alert_acknowledge, alert_resolve
from .filters import AlertBoardFilter
from .models import Alert
from .selectors import ALERT_BOARD_LIMIT, alert_board_change_token, alert_list_for_board

VIEW_PERMISSION = "alerts.view_alert"


def _check_view(request) -> None:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied


def _rows_context(request) -> dict:
    now = timezone.now()
    token = alert_board_change_token(now=now, user=request.user)
    filterset = AlertBoardFilter(request.GET or None, queryset=alert_list_for_board(user=request.user), request=request)
    queryset = filterset.qs if not filterset.is_bound or filterset.is_valid() else Alert.objects.none()
    rows = list(queryset[: ALERT_BOARD_LIMIT + 1])
    query = request.GET.copy()
    query.pop("since", None)
    board_url = reverse("alert_board:board")
    return {
        "rows": rows[:ALERT_BOARD_LIMIT],
        "more": len(rows) > ALERT_BOARD_LIMIT,
        "filter": filterset,
        "token": token,
        "query": query.urlencode(),
        "now": now,
        "may_change": request.user.has_perm(ALERT_CHANGE_PERMISSION),
        "next_url": f"{board_url}?{query.urlencode()}" if query else board_url,
    }


@never_cache
@require_GET
@login_required
def alert_board(request):
    _check_view(request)
    context = _rows_context(request)
    context["title"] = _("Alerts")
    return render(request, "alerts/board.html", context)


@never_cache
@require_GET
@login_required
def alert_board_rows(request):
    _check_view(request)
    since = request.GET.get("since")
    if since and since == alert_board_change_token(user=request.user):
        return HttpResponse(status=204)
    return render(request, "alerts/_board_rows.html", _rows_context(request))


def _back(request) -> str:
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("alert_board:board")
    return back


@require_POST
@login_required
def alert_acknowledge_view(request, pk: int):
    try:
        alert = alert_acknowledge(alert_id=pk, actor=request.user, expected_version=_version(request))
    except OrderError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Acknowledged: %(title)s") % {"title": alert.title})
    return HttpResponseRedirect(_back(request))


@require_POST
@login_required
def alert_resolve_view(request, pk: int):
    try:
        alert = alert_resolve(
            alert_id=pk, actor=request.user, note=request.POST.get("note", ""), expected_version=_version(request)
        )
    except OrderError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Resolved: %(title)s") % {"title": alert.title})
    return HttpResponseRedirect(_back(request))


def _version(request) -> int | None:
    """The version the card showed; a form without one is refused rather than applied blind."""
    try:
        return int(request.POST["expected_version"])
    except (KeyError, ValueError):
        return 0  # never a real version: refused as stale
