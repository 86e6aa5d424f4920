"""The KPI dashboard (/kpis/): the three health KPIs now (the last 7 days) as big numbers, red
when a threshold is crossed, and the last 30 days from the daily snapshots as inline SVG charts.
Operations and the tech lead (kpis.view_kpidaily). A constant number of queries. `?brand=CODE`
narrows latency and interventions (and their charts) to one brand's orders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from orders.selectors import brand_list_for_user, shop_ids_of_brand
from orders.states import Role

from .charts import line_chart_svg
from .selectors import days_window, kpi_daily_history, kpi_daily_history_for_brand, kpi_summary, kpi_touchless

VIEW_PERMISSION = "kpis.view_kpidaily"
NOW_DAYS = 7
HISTORY_DAYS = 30


def _role_label(code: str) -> str:
    try:
        return str(Role(code).label)
    except ValueError:
        return code or "—"


@never_cache
@require_GET
@login_required
def kpi_dashboard(request):
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    brands = list(brand_list_for_user(user=request.user))
    code = request.GET.get("brand", "").strip()
    brand = next((b for b in brands if b.code == code), None)
    if code and brand is None:
        messages.error(request, _("There is no brand “%(code)s”: the figures are the whole hub's.") % {"code": code})
    summary = kpi_summary(NOW_DAYS, brand=brand)
    if brand is None:
        history = kpi_daily_history(days=HISTORY_DAYS, now=summary["until"])
    else:
        history = kpi_daily_history_for_brand(brand=brand, days=HISTORY_DAYS, now=summary["until"])
    verdicts = summary["verdicts"]
    thresholds = summary["thresholds"]

    def series(attr):
        return [(day.strftime("%m-%d"), getattr(row, attr) if row else None) for day, row in history]

    charts = [
        {
            "code": "accuracy",
            "title": _("Status accuracy"),
            "svg": line_chart_svg(
                series("accuracy_percent"),
                threshold=float(thresholds.accuracy_min_percent),
                higher_is_better=True,
                title=_("Status accuracy per day"),
                unit="%",
            ),
        },
        {
            "code": "latency",
            "title": _("Cross-role latency p95"),
            "svg": line_chart_svg(
                series("latency_p95_seconds"),
                threshold=float(thresholds.latency_p95_max_seconds),
                higher_is_better=False,
                title=_("Cross-role latency p95 per day"),
                unit="s",
            ),
        },
        {
            "code": "interventions",
            "title": _("Manual interventions"),
            "svg": line_chart_svg(
                [(label, float(v) if v is not None else None) for label, v in series("interventions")],
                threshold=float(thresholds.interventions_max_per_day),
                higher_is_better=False,
                title=_("Manual interventions per day"),
            ),
        },
    ]
    # Touchless per day over the history window, from the records (the brand's orders with a brand).
    since, until, _days = days_window(HISTORY_DAYS, now=summary["until"])
    touchless_per_day = kpi_touchless(since=since, until=until, shop_ids=shop_ids_of_brand(brand=brand))["per_day"]
    charts.append(
        {
            "code": "touchless",
            "title": _("Touchless rate"),
            "svg": line_chart_svg(
                [(day.strftime("%m-%d"), touchless_per_day.get(day)) for day, _row in history],
                threshold=None,
                higher_is_better=True,
                title=_("Touchless rate per day"),
                unit="%",
            ),
        }
    )
    pairs = [
        {**pair, "from_label": _role_label(pair["from_role"]), "to_label": _role_label(pair["to_role"])}
        for pair in summary["latency"]["pairs"]
    ]
    context = {
        "title": _("Health KPIs"),
        "summary": summary,
        "cards": [
            {"code": "accuracy", "label": _("Status accuracy"), "verdict": verdicts["accuracy"], "cmp": "≥"},
            {"code": "latency", "label": _("Cross-role latency p95"), "verdict": verdicts["latency"], "cmp": "≤"},
            {
                "code": "interventions",
                "label": _("Manual interventions per day"),
                "verdict": verdicts["interventions"],
                "cmp": "≤",
            },
        ],
        "charts": charts,
        "pairs": pairs,
        "touchless": summary["touchless"],
        "paid_to_allocated": summary["paid_to_allocated"],
        "interception": summary["interception"],
        "on_time": summary["on_time"],
        "latency_p50": "—"
        if summary["latency"]["p50_seconds"] is None
        else f"{summary['latency']['p50_seconds']:.1f} s",
        "now_days": NOW_DAYS,
        "brands": brands,
        "brand": brand,
        "history_days": HISTORY_DAYS,
    }
    return render(request, "kpis/dashboard.html", context)
