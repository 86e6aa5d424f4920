"""`manage.py kpi_report [--days N] [--brand CODE] [--json]`: the three health KPIs with their
thresholds and pass/fail. A report, not a gate: the exit code is 0 whatever the figures. With
--brand, latency and interventions count that brand's orders; status accuracy stays the hub's."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kpis.selectors import FAIL, PASS, kpi_summary
from orders.models import Brand


def _fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "s":
        return f"{value:.1f} s"
    return f"{value:.2f} {unit}"


def summary_as_json(summary: dict) -> dict:
    def verdict(v):
        return {"value": v.value, "threshold": v.threshold, "unit": v.unit, "status": v.status}

    acc, lat, itv = summary["accuracy"], summary["latency"], summary["interventions"]
    return {
        "days": summary["days"],
        "brand": summary["brand"].code if summary.get("brand") else None,
        "since": summary["since"].isoformat(),
        "until": summary["until"].isoformat(),
        "all_pass": summary["all_pass"],
        "status_accuracy": {
            **verdict(summary["verdicts"]["accuracy"]),
            "compared": acc["compared"],
            "matched": acc["matched"],
            "runs": [{**r, "finished_at": r["finished_at"].isoformat()} for r in acc["runs"]],
        },
        "cross_role_latency": {
            **verdict(summary["verdicts"]["latency"]),
            "p50_seconds": lat["p50_seconds"],
            "samples": lat["samples"],
            "pairs": lat["pairs"],
        },
        "manual_interventions": {
            **verdict(summary["verdicts"]["interventions"]),
            "total": itv["total"],
            "max_per_day": itv["max_per_day"],
            "by_kind": itv["by_kind"],
            "per_day": [{"day": c["day"].isoformat(), "n": c["n"]} for c in itv["per_day"]],
        },
        # Beside the three, without a threshold: shipped on time at the first carrier scan, per shop.
        "on_time_at_first_scan": summary["on_time"],
    }


class Command(BaseCommand):
    help = "Print the three health KPIs (status accuracy, cross-role latency, manual interventions)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="the last N local days, today included (7)")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        parser.add_argument(
            "--brand", help="one brand's orders (its code): latency and interventions; accuracy stays the hub's"
        )

    def handle(self, *args, days: int, json: bool, brand: str | None = None, **options):
        if days < 1:
            raise CommandError("--days must be at least 1")
        brand_row = None
        if brand:
            brand_row = Brand.objects.filter(code=brand.strip()).first()
            if brand_row is None:
                known = ", ".join(Brand.objects.order_by("code").values_list("code", flat=True))
                raise CommandError(f"there is no brand {brand!r} (brands: {known or 'none'})")
        summary = kpi_summary(days, brand=brand_row)
        if json:
            self.stdout.write(_json_dumps(summary_as_json(summary)))
            return
        v = summary["verdicts"]
        labels = {
            "accuracy": _("Status accuracy"),
            "latency": _("Cross-role latency p95"),
            "interventions": _("Manual interventions per day"),
        }
        comparisons = {"accuracy": "≥", "latency": "≤", "interventions": "≤"}
        words = {PASS: "PASS", FAIL: "FAIL"}
        local = summary["since"].astimezone(summary["until"].tzinfo)
        self.stdout.write(_("KPIs over the last %(days)d days (since %(since)s)") % {"days": days, "since": local})
        if brand_row is not None:
            self.stdout.write(
                _("Brand %(name)s: latency and interventions of its orders; status accuracy is the hub's.")
                % {"name": brand_row.name}
            )
        self.stdout.write(f"{'KPI':<32} {'value':>12}  {'threshold':>14}  result")
        for code, verdict in v.items():
            threshold = f"{comparisons[code]} {_fmt(verdict.threshold, verdict.unit)}"
            self.stdout.write(
                f"{labels[code]:<32} {_fmt(verdict.value, verdict.unit):>12}  {threshold:>14}  "
                f"{words.get(verdict.status, 'NO DATA')}"
            )
        lat, itv = summary["latency"], summary["interventions"]
        self.stdout.write(
            _("Latency p50 %(p50)s over %(n)d acted notifications; interventions %(total)d, worst day %(max)d")
            % {
                "p50": _fmt(lat["p50_seconds"], "s"),
                "n": lat["samples"],
                "total": itv["total"],
                "max": itv["max_per_day"],
            }
        )


def _json_dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
