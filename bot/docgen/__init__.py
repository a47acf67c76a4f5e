"""Generated documentation: pages (or parts of pages) written from the code itself.

``python -m bot.docgen`` rewrites each of them:

- ``docs/configuration.md`` — every key of ``.agentforge/config.yaml``,
  ``workflow.yaml``, a role file's front matter and the ``AGENTFORGE_*`` settings, from
  the pydantic models (:mod:`bot.docgen.config_ref`);
- the metrics table in ``docs/operations.md``, between its ``generated:metrics``
  markers, from :class:`bot.metrics.Metrics` (:mod:`bot.docgen.metrics_ref`).

``tests/unit/test_docs_config_reference.py`` renders them in memory and fails, naming
this command, when a page on disk differs. Nothing here is imported by the bot at run
time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.docgen.config_ref import COMMAND, render_configuration
from bot.docgen.metrics_ref import render_metrics, splice

ROOT = Path(__file__).resolve().parents[2]
"""The repository's top directory (the docs live in ``ROOT/docs``)."""


def generated(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file's path and the text it must have now.

    Args:
        root: The repository's top directory.

    Raises:
        ValueError: a page that receives a generated part lacks its markers.
    """
    operations = root / "docs" / "operations.md"
    current = operations.read_text(encoding="utf-8") if operations.exists() else ""
    return {
        root / "docs" / "configuration.md": render_configuration(),
        operations: splice(current, "metrics", render_metrics(), page=operations.name),
    }


def main(root: Path = ROOT, out: Callable[[str], object] = print) -> int:
    """Write every generated page that changed; print what was written.

    Returns:
        The number of files rewritten.
    """
    changed = 0
    for path, text in generated(root).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.write_text(text, encoding="utf-8")
        changed += 1
        out(f"wrote {path.relative_to(root)}")
    if not changed:
        out(f"generated docs are current ({COMMAND})")
    return changed
