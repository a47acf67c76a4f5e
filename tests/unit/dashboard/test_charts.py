"""The inline SVG charts: values drawn, text escaped, empty data said in words."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from bot.dashboard import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # well-formed XML, or this raises


def test_bars_scale_to_a_round_axis_and_carry_their_values_as_tooltips() -> None:
    svg = parse(charts.stacked_bars(["01", "02", "03"], {"cost": [0.5, 0.0, 1.5]}, title="c"))
    rects = svg.findall(f"{SVG}rect")
    assert [r.find(f"{SVG}title").text for r in rects] == ["01: $0.50", "03: $1.50"]
    heights = [float(r.get("height")) for r in rects]
    assert heights[1] == pytest.approx(3 * heights[0])  # 1.5 is three times 0.5
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert "$2.00" in labels  # the axis top: the round number above 1.5


def test_stacked_series_have_a_legend() -> None:
    svg = parse(
        charts.stacked_bars(["a"], {"input": [10], "output": [5]}, title="t", fmt=charts.count)
    )
    tips = [
        r.find(f"{SVG}title").text
        for r in svg.findall(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    ]
    assert tips == ["a · input: 10", "a · output: 5"]
    assert {"input", "output"} <= {t.text for t in svg.findall(f"{SVG}text")}


@pytest.mark.parametrize(
    "chart",
    [
        lambda: charts.stacked_bars(["<b>"], {"x": [1.0]}, title="<script>t</script>"),
        lambda: charts.hbars([("<script>alert(1)</script>", 2.0)], title="h"),
        lambda: charts.timeline(
            [charts.Span("<i>p</i>", 'x" onload="y', datetime.now(UTC), None)],
            now=datetime.now(UTC),
            title="t",
        ),
    ],
)
def test_text_in_charts_is_escaped(chart) -> None:
    markup = str(chart())
    parse(markup)
    assert "<script>" not in markup and "<b>" not in markup and "<i>" not in markup
    assert 'onload="' not in markup


def test_empty_data_is_a_message_not_an_empty_chart() -> None:
    assert "nothing here" in charts.stacked_bars([], {}, title="t", empty="nothing here")
    assert "nothing" in charts.stacked_bars(["a"], {"x": [0]}, title="t", empty="nothing")
    assert "No data yet" in charts.hbars([], title="t")
    assert "No phases recorded yet" in charts.timeline([], now=datetime.now(UTC), title="t")


def test_timeline_places_bars_on_a_shared_time_axis() -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    spans = [
        charts.Span("discovery", "approved", t0, t0 + timedelta(minutes=10)),
        charts.Span("design", "running", t0 + timedelta(minutes=10), None),
    ]
    svg = parse(charts.timeline(spans, now=t0 + timedelta(minutes=40), title="t"))
    first, second = svg.findall(f"{SVG}rect")
    assert float(second.get("x")) > float(first.get("x"))
    assert float(second.get("width")) == pytest.approx(3 * float(first.get("width")))
    assert second.get("fill-opacity") == "0.55"  # still open
    texts = [t.text for t in svg.findall(f"{SVG}text")]
    assert "approved · 10m 0s" in texts and "running · 30m 0s…" in texts


@pytest.mark.parametrize(
    ("value", "top"), [(0.0, 1.0), (0.3, 0.5), (1.5, 2.0), (7, 10), (23, 25), (1234, 2000)]
)
def test_axis_maximum_is_a_round_number(value, top) -> None:
    assert charts._nice_max(value) == top


def test_formats() -> None:
    assert charts.usd(0.5) == "$0.50"
    assert charts.usd(1234.4) == "$1,234"
    assert charts.count(950) == "950" and charts.count(12_300) == "12.3k"
    assert charts.duration(42) == "42s" and charts.duration(3725) == "1h 2m"
