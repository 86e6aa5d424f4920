"""The to-invoice list's exports: the rows the list shows with the same filters, as CSV or XLSX."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from orders.exceptions import InvalidActionData
from orders.selectors import order_visibility_q

from .exports import ExportLabels, invoice_csv_chunks, invoice_xlsx_file
from .selectors import invoice_filters_clean, invoice_list_for_finance

VIEW_PERMISSION = "finance.view_invoicerequest"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _export_rows(request):
    """The filtered list, or the reason the query string was refused."""
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    try:
        filters = invoice_filters_clean(request.GET)
    except InvalidActionData as exc:
        return None, HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
    # Finance sees every brand; anyone brand-scoped who may export sees their brands only.
    return invoice_list_for_finance(**filters).filter(order_visibility_q(request.user, prefix="order__")), None


def _filename(extension: str) -> str:
    now = timezone.localtime(timezone.now(), timezone.get_default_timezone())
    return f"to-invoice-{now:%Y%m%d-%H%M}.{extension}"


@never_cache
@require_GET
@login_required
def invoice_export_csv(request):
    rows, refused = _export_rows(request)
    if refused is not None:
        return refused
    response = StreamingHttpResponse(
        invoice_csv_chunks(rows, ExportLabels.read()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


@never_cache
@require_GET
@login_required
def invoice_export_xlsx(request):
    rows, refused = _export_rows(request)
    if refused is not None:
        return refused
    output = invoice_xlsx_file(rows, ExportLabels.read(), title=_("To-invoice list"))
    return FileResponse(output, as_attachment=True, filename=_filename("xlsx"), content_type=XLSX_TYPE)
