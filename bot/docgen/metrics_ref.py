"""The metrics table of ``docs/operations.md``, read from a live :class:`bot.metrics.Metrics`.

Every metric the registry would expose is listed with its exposed sample names, type,
labels and help text, plus what the ``Metrics`` class docstring says about the
attribute that holds it (the label values). Collectors registered by a ``watch_*``
method are included by registering them with an empty source first.
"""

from __future__ import annotations

import inspect
import re

from prometheus_client.metrics import MetricWrapperBase

from bot.docgen.fields import docstring_attributes
from bot.metrics import Metrics

_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
    "gauge": ("",),
}


def _live_metrics() -> Metrics:
    metrics = Metrics()
    for name, method in inspect.getmembers(metrics, inspect.ismethod):
        if name.startswith("watch_") and len(inspect.signature(method).parameters) == 1:
            method(dict)  # an empty source: the family is described, no samples
    metrics.watch_process("jobs", lambda: False, lambda: 0)  # the supervisor's child
    return metrics


def render_metrics() -> str:
    """The markdown table of every metric, in registration order."""
    metrics = _live_metrics()
    wrappers: dict[str, tuple[str, MetricWrapperBase]] = {
        # prometheus_client keeps a metric's name and label names only in these attributes.
        w._name: (attr, w)
        for attr, w in vars(metrics).items()
        if isinstance(w, MetricWrapperBase)
    }
    notes = docstring_attributes(Metrics)
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for family in metrics.registry.collect():
        attr, wrapper = wrappers.get(family.name, ("", None))
        labels = getattr(wrapper, "_labelnames", None) or getattr(family, "_labelnames", ())
        exposed = ", ".join(f"`{family.name}{s}`" for s in _SUFFIXES.get(family.type, ("",)))
        meaning = family.documentation
        # The class docstring adds the label values in parentheses; the rest repeats
        # the help text.
        values = re.search(r"\(([^)]*)\)", notes.get(attr, ""))
        if values:
            listed = values.group(1)
            meaning = f"{meaning} Values: {listed}{'' if listed.endswith('.') else '.'}"
        label_text = ", ".join(f"`{label}`" for label in labels) or "—"
        meaning = " ".join(meaning.split()).replace("|", "\\|")
        lines.append(f"| {exposed} | {family.type} | {label_text} | {meaning} |")
    return "\n".join(lines)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:{name}:start -->", f"<!-- generated:{name}:end -->"


def splice(page_text: str, name: str, generated: str, *, page: str) -> str:
    """``page_text`` with the part between its ``generated:<name>`` markers replaced.

    Raises:
        ValueError: the page lacks the start or end marker (the message shows both).
    """
    start, end = _markers(name)
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(page_text):
        raise ValueError(
            f"{page}: the generated {name} part needs the lines {start} and {end} around it"
        )
    return pattern.sub(lambda _: f"{start}\n{generated}\n{end}", page_text, count=1)
