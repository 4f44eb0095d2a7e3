"""Trend charts: one point per measured run, nothing invented for runs with no data."""

from __future__ import annotations

from lxml import etree

from tongyuan.report.charts import line_chart


def _svg(markup: str) -> etree._Element:
    return etree.fromstring(markup.encode("utf-8"))


def test_points_follow_the_rates_and_skip_unmeasured_runs():
    svg = _svg(
        line_chart(
            [("2026-11-20", 0.99), ("2026-11-21", None), ("2026-11-22", 0.95)],
            title="完整性",
            key="completeness",
        )
    )
    points = svg.findall("circle")
    assert [p.get("data-rate") for p in points] == ["99.0%", "95.0%"]
    assert svg.get("data-points") == "2"
    assert float(points[0].get("cy")) < float(points[1].get("cy"))  # higher rate drawn higher
    assert len(svg.find("polyline").get("points").split()) == 2


def test_a_chart_without_data_says_so():
    svg = _svg(line_chart([("x", None)], title="签名有效性", key="signature"))
    assert svg.findall("circle") == [] and "暂无" in svg.find("text").text


def test_labels_are_escaped():
    svg = _svg(line_chart([("<b>&", 1.0)], title="<t>", key='"k'))
    assert svg.find("circle").get("data-label") == "<b>&" and svg.get("data-theme") == '"k'
