"""Inline SVG charts for the dashboard, drawn in Python: no chart library, no script.

Each function returns :class:`markupsafe.Markup` holding one ``<svg>`` element that a
template inserts as is. Every piece of text that ends up in the SVG (labels, tooltips,
titles) goes through :func:`markupsafe.escape` here, because the templates cannot escape
inside markup they are told is safe. Hovering a bar shows its ``<title>`` (a native SVG
tooltip), so the charts stay readable without JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

Fmt = Callable[[float], str]

PALETTE = ("#3b6fb6", "#e08a2e", "#4a9d5b", "#b5483f", "#7d5ba6", "#6f7f8f", "#c2a02b")
"""Series colours, in order."""

STATE_COLOURS = {
    "running": "#3b6fb6",
    "queued": "#6f7f8f",
    "awaiting_approval": "#e0a22e",
    "needs_approval": "#e0a22e",
    "waiting": "#e0a22e",
    "approved": "#4a9d5b",
    "done": "#4a9d5b",
    "succeeded": "#4a9d5b",
    "skipped": "#9aa5b1",
    "rejected": "#b5483f",
    "failed": "#b5483f",
    "dead": "#7a2a24",
    "cancelled": "#9aa5b1",
}
"""Bar colour of a phase or job state (other states are grey)."""

_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def usd(value: float) -> str:
    """A dollar amount for a chart label: cents below 100, whole dollars above."""
    return f"${value:,.2f}" if abs(value) < 100 else f"${value:,.0f}"


def count(value: float) -> str:
    """A token count for a chart label: 12, 3.4k, 1.2M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def duration(seconds: float) -> str:
    """A duration as ``45s``, ``12m 5s`` or ``3h 20m``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60}m"


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" aria-label="{escape(label)}" '
        f'class="chart" {_FONT}><title>{escape(label)}</title>'
    )
    # Safe by construction: every text piece above went through escape().
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704


def _empty(label: str, message: str, width: int = 640, height: int = 60) -> Markup:
    text = (
        f'<text x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" text-anchor="middle" '
        f'fill="#6f7f8f">{escape(message)}</text>'
    )
    return _svg(width, height, label, [text])


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of 10)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def stacked_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    fmt: Fmt = usd,
    width: int = 640,
    height: int = 220,
    empty: str = "No data yet",
) -> Markup:
    """Vertical bars, one per label, each stacking the series' values (a legend on top).

    Args:
        labels: X-axis labels (days, usually).
        series: Series name -> one value per label; one series draws plain bars.
        title: Accessible name of the chart.
        fmt: Formats values for the axis and the tooltips.
        width: Drawing width in SVG units (the chart scales down to its container).
        height: Drawing height.
        empty: Message when there is no label or every value is zero.
    """
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    if not labels or not any(totals):
        return _empty(title, empty, width)
    left, right, top, bottom = 56, 8, 22 if len(series) > 1 else 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max(totals))
    slot = plot_w / len(labels)
    bar_w = max(2.0, min(36.0, slot * 0.7))
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#9aa5b1"/>'
    ]
    for tick in range(5):
        value = top_value * tick / 4
        y = top + plot_h - plot_h * tick / 4
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e7eb"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#44505c">'
            f"{escape(fmt(value))}</text>"
        )
    label_every = max(1, round(len(labels) / 10))
    names = list(series)
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        for n, name in enumerate(names):
            value = series[name][i]
            if value <= 0:
                continue
            h = plot_h * value / top_value
            y -= h
            tip = f"{label} · {name}: {fmt(value)}" if len(names) > 1 else f"{label}: {fmt(value)}"
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
            )
        if i % label_every == 0:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'fill="#44505c">{escape(label)}</text>'
            )
    if len(names) > 1:
        for n, name in enumerate(names):
            lx = left + n * 130
            body.append(
                f'<rect x="{lx}" y="4" width="10" height="10" fill="{PALETTE[n % len(PALETTE)]}"/>'
                f'<text x="{lx + 14}" y="13" fill="#22303c">{escape(name)}</text>'
            )
    return _svg(width, height, title, body)


def hbars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    fmt: Fmt = usd,
    width: int = 640,
    empty: str = "No data yet",
) -> Markup:
    """Horizontal bars, one row per (label, value), longest scale at the largest value."""
    if not rows or not any(value for _, value in rows):
        return _empty(title, empty, width)
    row_h, label_w, value_w = 22, 200, 70
    height = row_h * len(rows) + 8
    largest = max(value for _, value in rows) or 1.0
    plot_w = width - label_w - value_w
    body = []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        w = max(1.0, plot_w * value / largest) if value > 0 else 0.0
        shown = label if len(label) <= 30 else label[:29] + "…"
        body.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" fill="#22303c">'
            f"{escape(shown)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}: {escape(fmt(value))}'
            "</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" fill="#44505c">{escape(fmt(value))}'
            "</text>"
        )
    return _svg(width, height, title, body)


@dataclass(frozen=True)
class Span:
    """One bar of a timeline: a phase from its start to its end (None: still open).

    Attributes:
        label: Row label (the phase name).
        state: Its state, which picks the colour.
        start: When it started (aware UTC).
        end: When it finished, or None while it is open.
        note: Extra tooltip text (role, gate).
    """

    label: str
    state: str
    start: datetime
    end: datetime | None
    note: str = ""


def timeline(
    spans: Sequence[Span], *, now: datetime, title: str, width: int = 760, empty: str = ""
) -> Markup:
    """A Gantt-like chart: a row per span, bars on a shared time axis, state and duration.

    Open spans run to ``now`` and are drawn hatched-light so they read as "still going".
    """
    if not spans:
        return _empty(title, empty or "No phases recorded yet", width)
    row_h, label_w, right = 30, 130, 200
    top, bottom = 8, 26
    height = top + row_h * len(spans) + bottom
    t0 = min(s.start for s in spans)
    t1 = max((s.end or now) for s in spans)
    total = max((t1 - t0).total_seconds(), 1.0)
    plot_w = width - label_w - right
    body = [
        f'<line x1="{label_w}" y1="{top + row_h * len(spans)}" x2="{label_w + plot_w}" '
        f'y2="{top + row_h * len(spans)}" stroke="#9aa5b1"/>'
    ]
    for frac in (0.0, 0.5, 1.0):
        x = label_w + plot_w * frac
        body.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="#44505c">'
            f"+{escape(duration(total * frac))}</text>"
        )
    for i, span in enumerate(spans):
        y = top + i * row_h
        end = span.end or now
        seconds = max((end - span.start).total_seconds(), 0.0)
        x = label_w + plot_w * (span.start - t0).total_seconds() / total
        w = max(3.0, plot_w * seconds / total)
        colour = STATE_COLOURS.get(span.state, "#6f7f8f")
        opacity = "0.55" if span.end is None else "1"
        state = span.state.replace("_", " ")
        tip = f"{span.label}: {state}, {duration(seconds)}"
        if span.end is None:
            tip += " so far"
        if span.note:
            tip += f" ({span.note})"
        status = f"{state} · {duration(seconds)}{'…' if span.end is None else ''}"
        body.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" fill="#22303c">'
            f"{escape(span.label)}</text>"
            f'<rect x="{x:.1f}" y="{y + 6}" width="{w:.1f}" height="{row_h - 12}" rx="3" '
            f'fill="{colour}" fill-opacity="{opacity}" class="span span-{escape(span.state)}">'
            f"<title>{escape(tip)}</title></rect>"
            f'<text x="{label_w + plot_w + 8}" y="{y + 19}" fill="#44505c">{escape(status)}</text>'
        )
    return _svg(width, height, title, body)
