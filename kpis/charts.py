"""A tiny server-rendered SVG line chart: no JavaScript, no outside library, no CDN.

`line_chart_svg` draws one series over days with its threshold as a dashed line; points on the
wrong side of the threshold are red, missing days leave a gap in the line.
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 320, 120
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 36, 8, 8, 18
OK_COLOUR, FAIL_COLOUR, LINE_COLOUR, THRESHOLD_COLOUR = "#1a7f37", "#cf222e", "#0969da", "#9a6700"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"


def line_chart_svg(
    points: list[tuple[str, float | None]],
    *,
    threshold: float | None,
    higher_is_better: bool,
    title: str,
    unit: str = "",
) -> SafeString:
    """`points` are (label, value or None), oldest first. `threshold`: the dashed line points are
    judged against (None: a figure without one, drawn plain)."""
    values = [v for _label, v in points if v is not None]
    bounds = [*values, *([threshold] if threshold is not None else [])] or [0.0]
    low = min(bounds)
    high = max(bounds)
    if high == low:
        high, low = high + 1, max(0.0, low - 1) if low >= 0 else low - 1
    margin = (high - low) * 0.1
    low, high = low - margin, high + margin
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / max(1, len(points) - 1)

    def x(i: int) -> float:
        return PAD_LEFT + i * step

    def y(v: float) -> float:
        return PAD_TOP + (high - v) / (high - low) * inner_h

    def failing(v: float) -> bool:
        if threshold is None:
            return False
        return v < threshold if higher_is_better else v > threshold

    parts = [
        format_html(
            '<svg class="oh-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
            'xmlns="http://www.w3.org/2000/svg"><title>{}</title>',
            WIDTH,
            HEIGHT,
            title,
            title,
        ),
        format_html(
            '<line class="oh-chart-axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d0d7de"/>',
            PAD_LEFT,
            HEIGHT - PAD_BOTTOM,
            WIDTH - PAD_RIGHT,
            HEIGHT - PAD_BOTTOM,
        ),
    ]
    for value in (high - margin, low + margin):
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="9" text-anchor="end" fill="#57606a">{}</text>',
                PAD_LEFT - 3,
                f"{y(value) + 3:.1f}",
                _fmt(value) + unit,
            )
        )
    if threshold is not None:
        ty = f"{y(threshold):.1f}"
        parts.append(
            format_html(
                '<line class="oh-chart-threshold" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" '
                'stroke-dasharray="4 3" data-threshold="{}"/>',
                PAD_LEFT,
                ty,
                WIDTH - PAD_RIGHT,
                ty,
                THRESHOLD_COLOUR,
                _fmt(threshold),
            )
        )
    # The line, broken where a day has no figure.
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, (_label, v) in enumerate(points):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
        else:
            segment.append(f"{x(i):.1f},{y(v):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(
                format_html(
                    '<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>', LINE_COLOUR, " ".join(seg)
                )
            )
    for i, (label, v) in enumerate(points):
        if v is None:
            continue
        bad = failing(v)
        parts.append(
            format_html(
                '<circle class="{}" cx="{}" cy="{}" r="{}" fill="{}"><title>{}: {}</title></circle>',
                "oh-chart-point oh-chart-fail" if bad else "oh-chart-point",
                f"{x(i):.1f}",
                f"{y(v):.1f}",
                3 if bad else 2,
                FAIL_COLOUR if bad else OK_COLOUR,
                label,
                _fmt(v) + unit,
            )
        )
    if points:
        for i in (0, len(points) - 1):
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="9" text-anchor="{}" fill="#57606a">{}</text>',
                    f"{x(i):.1f}",
                    HEIGHT - 4,
                    "start" if i == 0 else "end",
                    points[i][0],
                )
            )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(str(p) for p in parts))
