"""The run's draft merge request: its title and its living description.

The description is rebuilt from the run's state after every phase (``UpdateMR``): each
phase's summary, the acceptance criteria with the tests that cover them (uncovered ones
flagged), and links to the artifacts the phases wrote. ``Closes #N`` links the issue,
so merging the MR closes it.
"""

from __future__ import annotations

import re

from handlers.workflow.state import RunData

_CRITERION = re.compile(r"^\s*(?:[-*]\s*)?(?:\*\*)?(AC-\d+)(?:\*\*)?\s*[:.)\-—]\s*(.+?)\s*$")


def find_criteria(text: str) -> dict[str, str]:
    """Acceptance criteria written as ``AC-1: text`` lines (list items too)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _CRITERION.match(line)
        if match and match.group(1) not in found:
            found[match.group(1)] = match.group(2).strip("* ")
    return found


def title(issue_number: int, issue_title: str) -> str:
    """The MR's title."""
    return f"AgentForge: {issue_title.strip()[:200]} (#{issue_number})"


def file_url(forge: str, html_url: str | None, branch: str, path: str) -> str | None:
    """A web link to ``path`` on ``branch``, or None when the URL is unknown."""
    if not html_url:
        return None
    sep = "/-/blob/" if forge == "gitlab" else "/blob/"
    return f"{html_url.rstrip('/')}{sep}{branch}/{path}"


def _criterion_key(ac: str) -> int:
    return int(ac.split("-", 1)[1]) if ac.split("-", 1)[1].isdigit() else 0


def body(data: RunData, *, html_url: str | None = None) -> str:
    """The MR description for the run's state."""
    lines = [
        f"Closes #{data.issue}",
        "",
        "This merge request is written by AgentForge, phase by phase. Each phase ends at "
        "a gate; comment `/approve` here or on the issue to move it on. A human merges it.",
        "",
        "## Phases",
        "",
    ]
    for phase in data.phases:
        mark = {"approved": "✅", "failed": "❌", "needs_approval": "⏸️", "running": "🔄"}.get(
            phase.state, "⬜"
        )
        lines.append(f"### {mark} {phase.name} ({phase.role})")
        lines.append("")
        lines.append(phase.summary.strip() if phase.summary.strip() else "_not run yet_")
        if phase.confidence is not None and phase.result:
            lines.append("")
            lines.append(f"Confidence: {phase.confidence:.2f}")
        lines.append("")
    covered: dict[str, list[str]] = {}
    for phase in data.phases:
        for ac, tests in phase.covered.items():
            covered.setdefault(ac, [])
            covered[ac].extend(t for t in tests if t not in covered[ac])
    criteria = sorted(set(data.criteria) | set(covered), key=_criterion_key)
    if criteria:
        lines += ["## Acceptance criteria", "", "| criterion | covered by |", "|---|---|"]
        for ac in criteria:
            text = data.criteria.get(ac, "")
            label = f"**{ac}** {text}".strip().replace("|", "\\|")
            tests = covered.get(ac, [])
            cell = ", ".join(f"`{t}`" for t in tests) if tests else "⚠️ **not covered**"
            lines.append(f"| {label} | {cell} |")
        lines.append("")
    artifacts = [(p.name, path) for p in data.phases for path in p.artifacts]
    if artifacts:
        lines += ["## Artifacts", ""]
        for phase_name, path in artifacts[:100]:
            url = file_url(data.forge, html_url, data.branch, path)
            shown = f"[`{path}`]({url})" if url else f"`{path}`"
            lines.append(f"- {shown} ({phase_name})")
        if len(artifacts) > 100:
            lines.append(f"- … and {len(artifacts) - 100} more")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
