from __future__ import annotations

import re

from kpis.charts import line_chart_svg


def test_threshold_line_red_points_and_gaps():
    svg = str(
        line_chart_svg(
            [("03-01", 99.5), ("03-02", 98.0), ("03-03", None), ("03-04", 99.3), ("03-05", 99.4)],
            threshold=99.2,
            higher_is_better=True,
            title="Status accuracy <per day>",
            unit="%",
        )
    )
    assert svg.startswith('<svg class="oh-chart"') and svg.endswith("</svg>")
    assert 'data-threshold="99.2"' in svg
    assert svg.count("<circle") == 4
    assert svg.count("oh-chart-fail") == 1 and "03-02: 98%" in svg
    # The missing day breaks the line in two.
    assert svg.count("<polyline") == 2
    assert "&lt;per day&gt;" in svg and "<per day>" not in svg


def test_lower_is_better_and_all_points_the_same():
    svg = str(line_chart_svg([("a", 3.0), ("b", 3.0), ("c", 4.0)], threshold=3, higher_is_better=False, title="t"))
    assert svg.count("oh-chart-fail") == 1
    flat = str(line_chart_svg([("a", 0.0)], threshold=0, higher_is_better=False, title="t"))
    assert "nan" not in flat.lower() and re.search(r'cy="[\d.]+"', flat)
    empty = str(line_chart_svg([("a", None), ("b", None)], threshold=90, higher_is_better=False, title="t"))
    assert "<circle" not in empty and "data-threshold" in empty
