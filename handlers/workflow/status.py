"""The live status comment: one per run, edited in place as the run moves on.

It shows a checklist of the phases with their state, the time each took, tokens and
cost so far against the up-front estimate, links to the commits, the commands that
work right now, and ends with the hidden state marker (see :mod:`.state`). The body
is a pure function of the run's state, so rendering it twice gives the same text and
the executor skips an edit that would change nothing.
"""

from __future__ import annotations

from datetime import datetime

from handlers.workflow.state import PhaseRun, RunData, encode_marker

STATUS_MARKER_PREFIX = "status."
"""Marker keys of status comments: ``status.<run id>``."""

_ICONS = {
    "waiting": "⬜",
    "running": "🔄",
    "needs_approval": "⏸️",
    "approved": "✅",
    "failed": "❌",
}
_WORDS = {
    "waiting": "waiting",
    "running": "running",
    "needs_approval": "needs approval",
    "approved": "approved",
    "failed": "failed",
}
_COMMAND_HELP = {
    "approve": "`/approve` — approve the current phase, or release its held push (approvers only)",
    "reject": "`/reject <why>` — run the current phase again with your feedback",
    "retry": "`/retry` — run the failed phase again",
    "cancel": "`/cancel` — stop the run",
    "status": "`/status` — show where the run stands",
    "help": "`/help` — list the commands",
}


def status_key(run_id: str) -> str:
    """The marker key of a run's status comment."""
    return f"{STATUS_MARKER_PREFIX}{run_id}"


def commit_url(forge: str, html_url: str | None, sha: str) -> str | None:
    """The web URL of a commit, or None when the repository's URL is unknown."""
    if not html_url:
        return None
    sep = "/-/commit/" if forge == "gitlab" else "/commit/"
    return f"{html_url.rstrip('/')}{sep}{sha}"


def _elapsed(phase: PhaseRun, now: datetime) -> str:
    if phase.started_at is None:
        return ""
    end = phase.finished_at or (now if phase.state == "running" else phase.waiting_since) or now
    seconds = max(0, int((end - phase.started_at).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _usd(value: float) -> str:
    return f"${value:,.4f}" if 0 < value < 0.01 else f"${value:,.2f}"


def _phase_line(data: RunData, phase: PhaseRun, html_url: str | None, now: datetime) -> str:
    icon = _ICONS[phase.state]
    word = _WORDS[phase.state]
    parts = [f"- [{'x' if phase.state == 'approved' else ' '}] {icon} **{phase.name}**"]
    parts.append(f"({phase.role}) — {word}")
    if phase.round > 1:
        parts.append(f"· round {phase.round}")
    elapsed = _elapsed(phase, now)
    if elapsed:
        parts.append(f"· {elapsed}")
    if phase.usage.calls or phase.usage.input_tokens:
        tokens = phase.usage.input_tokens + phase.usage.output_tokens
        parts.append(f"· {tokens:,} tokens, {_usd(phase.usage.cost_usd)}")
    links = []
    for sha in phase.commits[-3:]:
        url = commit_url(data.forge, html_url, sha)
        links.append(f"[`{sha[:7]}`]({url})" if url else f"`{sha[:7]}`")
    if links:
        parts.append("· " + " ".join(links))
    line = " ".join(parts)
    details = []
    if phase.state == "needs_approval":
        if phase.hold:
            details.append(f"  - 🚫 held: {phase.hold}")
        for item in phase.pending:
            details.append(f"  - waiting for {item}")
    if phase.state == "failed" and phase.error:
        details.append(f"  - {phase.error}")
    if phase.questions and phase.state in ("failed", "needs_approval"):
        details.extend(f"  - ❓ {q}" for q in phase.questions[:5])
    return "\n".join([line, *details])


def render(
    data: RunData,
    *,
    now: datetime,
    commands: list[str],
    html_url: str | None = None,
    mr_ref: str | None = None,
) -> str:
    """The status comment's body (marker included).

    Args:
        data: The run.
        now: The current time (for the running phase's elapsed time).
        commands: Command names that work right now (shown with a line of help).
        html_url: The repository's web URL (for commit links).
        mr_ref: How to name the MR (``#12`` / ``!12``), when there is one.
    """
    headline = {
        "succeeded": "✅ Done: the merge request is ready for review and merge.",
        "failed": "❌ The run failed.",
        "cancelled": "⏹️ The run was cancelled.",
    }.get(data.outcome or "", "")
    if not headline:
        phase = data.phase
        if phase is None:
            headline = "Finishing up."
        elif phase.state == "needs_approval":
            headline = f"⏸️ **{phase.name}** is waiting for its gate."
        else:
            headline = f"🔄 Working on **{phase.name}**."
    lines = [f"### AgentForge run for #{data.issue}", "", headline, ""]
    lines[1:1] = ["", f"**Workflow:** `{data.workflow}`"]
    if data.error and data.outcome == "failed":
        lines += [f"> {data.error}", ""]
    for phase in data.phases:
        lines.append(_phase_line(data, phase, html_url, now))
    usage = data.usage
    tokens = usage.input_tokens + usage.output_tokens
    spend = f"**Spent:** {tokens:,} tokens, {_usd(usage.cost_usd)}"
    if data.estimate_usd is not None:
        spend += f" (estimated {_usd(data.estimate_usd)} for the whole run)"
    lines += ["", spend]
    where = f"**Branch:** `{data.branch}`"
    if data.mr is not None:
        where += f" · **MR:** {mr_ref or data.mr}"
    lines.append(where)
    if commands:
        lines += ["", "**Commands now** (comment on this issue or the MR):"]
        lines += [f"- {_COMMAND_HELP.get(name, f'`/{name}`')}" for name in commands]
    elif data.outcome == "failed":
        lines += ["", "Fix what the message says, then remove and add the label again."]
    lines += ["", encode_marker(data)]
    return "\n".join(lines)
