from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from .exceptions import OrderError
from .health import broker_health, database_health
from .services.attachments import MAX_ATTACHMENTS_PER_ACTION, NOTE_MAX_LENGTH, order_attachment_add
from .timeline import INLINE_CONTENT_TYPES, order_attachment_for_download, order_for_timeline, order_timeline_page_data


@never_cache
@require_GET
def healthz(request):
    db_ok, db_state = database_health()
    broker_ok, broker_state = broker_health()
    healthy = db_ok and broker_ok
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "database": db_state, "broker": broker_state},
        status=200 if healthy else 503,
    )


# ---------------------------------------------------------------------------------------------
# The order timeline page and its attachments

# A note typed before a refused upload, shown again after the redirect (files cannot be).
_NOTE_DRAFT_KEY = "orderhub-timeline-note:{number}"


def _require_perm(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _order_or_404(request, number: str):
    # Another brand's order answers exactly as an unknown number does.
    order = order_for_timeline(number=number, user=request.user)
    if order is None:
        raise Http404(_("There is no order %(number)s.") % {"number": number})
    return order


@never_cache
@require_GET
@login_required
def order_timeline_page(request, number: str):
    # Permission first: someone who may not see orders does not learn which numbers exist.
    _require_perm(request, "orders.view_order")
    order = _order_or_404(request, number)
    user = request.user
    return render(
        request,
        "orders/timeline.html",
        {
            "title": order.number,
            "page": order_timeline_page_data(order=order, user=user, request=request),
            "order": order,
            "can_add": user.has_perm("orders.add_attachment"),
            "can_open_admin": user.is_staff and user.has_perm("orders.view_order"),
            "note_draft": request.session.pop(_NOTE_DRAFT_KEY.format(number=order.number), ""),
            "max_bytes": settings.ORDERHUB_ATTACHMENT_MAX_BYTES,
            "max_files": MAX_ATTACHMENTS_PER_ACTION,
            "note_max_length": NOTE_MAX_LENGTH,
        },
    )


@require_POST
@login_required
def attachment_add(request, number: str):
    _require_perm(request, "orders.view_order")
    _require_perm(request, "orders.add_attachment")
    order = _order_or_404(request, number)
    page = reverse("orders:timeline", args=[order.number])
    note = request.POST.get("note", "")
    try:
        event = order_attachment_add(
            order_id=order.pk, actor=request.user, note=note, files=request.FILES.getlist("files")
        )
    except OrderError as exc:
        messages.error(request, exc.message)
        if note.strip():
            request.session[_NOTE_DRAFT_KEY.format(number=order.number)] = note[: NOTE_MAX_LENGTH * 2]
        return HttpResponseRedirect(f"{page}#add-note")
    count = event.data.get("attachments", 0)
    if count:
        text = ngettext(
            "Added to the timeline with %(count)d attachment.",
            "Added to the timeline with %(count)d attachments.",
            count,
        )
        messages.success(request, text % {"count": count})
    else:
        messages.success(request, _("Your note was added to the timeline."))
    return HttpResponseRedirect(f"{page}#event-{event.pk}")


@require_safe
@login_required
def attachment_download(request, number: str, pk: int):
    """The file through Django, for people who may see the order: photos inline, everything
    else as a download under its original name, never sniffed into something else."""
    _require_perm(request, "orders.view_order")
    attachment = order_attachment_for_download(number=number, attachment_id=pk, user=request.user)
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    inline = attachment.content_type in INLINE_CONTENT_TYPES
    response = FileResponse(
        handle,
        content_type=attachment.content_type,
        as_attachment=not inline,
        filename=attachment.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, a file can run nothing and load nothing (a PDF with script, say).
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # Attachments never change (append-only): the viewer's browser may keep them, nobody else.
    patch_cache_control(response, private=True, max_age=3600)
    return response
