"""What ``agentforge demo`` prints: live lines while the run goes, then a summary.

Every value shown is read back from the product's own records: phase states, gates,
usage and cost from the run's status comment marker; model steps and tool calls from
the engine's role progress records; commits and files from the forge's git repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

_STATE_MARK = {
    "waiting": "·",
    "running": "▶",
    "needs_approval": "⏸",
    "approved": "✔",
    "failed": "✘",
}


def usd(value: float | None) -> str:
    """Dollars, with more digits for small amounts."""
    if value is None:
        return "unknown"
    return f"${value:,.4f}" if 0 < value < 0.01 else f"${value:,.2f}"


@dataclass
class Live:
    """Prints what changed in the run since the last look.

    Args:
        console: Where lines go.
    """

    console: Console
    _phases: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    _mr: int | None = None

    def say(self, text: str) -> None:
        """One line about something the demo did."""
        self.console.print(f"  [cyan]{escape(text)}[/cyan]", highlight=False)

    def step(self, text: str) -> None:
        """A set-up step done."""
        self.console.print(f"[green]✔[/green] {escape(text)}", highlight=False)

    def progress(self, phase: str | None, progress: Any) -> None:
        """One model step or tool call of a running role."""
        u = progress.usage
        tokens = u.input_tokens + u.output_tokens
        what = progress.text if progress.kind != "step" else f"model step {progress.step}"
        self.console.print(
            f"    [dim]{progress.role} · {escape(what)} · {u.calls} calls, {tokens:,} tokens, "
            f"{usd(u.cost_usd)}[/dim]",
            highlight=False,
        )

    def run(self, data: Any) -> None:
        """Phase changes, gates waiting, the MR opening."""
        if data.mr is not None and data.mr != self._mr:
            self._mr = data.mr
            self.say(f"the bot opened MR !{data.mr} (draft) from {data.branch}")
        for p in data.phases:
            seen = (p.state, tuple(p.pending))
            if self._phases.get(p.name) == seen:
                continue
            self._phases[p.name] = seen
            if p.state == "waiting":
                continue
            line = f"{_STATE_MARK.get(p.state, '?')} [bold]{p.name}[/bold] ({p.role}) {p.state}"
            if p.state in ("approved", "needs_approval") and p.usage.calls:
                line += (
                    f" · {p.usage.calls} calls, "
                    f"{p.usage.input_tokens + p.usage.output_tokens:,} tokens, "
                    f"{usd(p.usage.cost_usd)}"
                )
            self.console.print(line, highlight=False)
            if p.state == "needs_approval" and p.pending:
                self.say("waiting for: " + "; ".join(x.replace("`", "") for x in p.pending))
            if p.state == "failed" and p.error:
                self.console.print(f"  [red]{escape(p.error)}[/red]", highlight=False)


def estimate_table(estimate: Any) -> Table:
    """The up-front estimate per phase (:class:`agents.costs.RunEstimate`)."""
    table = Table(title="Estimated model cost (before the run)", title_justify="left")
    for name in ("phase", "role", "model", "calls", "tokens in / out", "cost"):
        table.add_column(name, justify="right" if name in ("calls", "cost") else "left")
    for p in estimate.phases:
        table.add_row(
            p.phase,
            p.role,
            p.model,
            str(p.calls),
            f"{p.input_tokens:,} / {p.output_tokens:,}",
            usd(p.usd),
        )
    table.add_row("total", "", "", "", "", usd(estimate.usd))
    return table


def phases_table(data: Any) -> Table:
    """Each phase's outcome, usage and commits."""
    table = Table(title="Phases", title_justify="left")
    for name in ("phase", "role", "state", "model calls", "tokens in / out", "cost", "commits"):
        table.add_column(name)
    for p in data.phases:
        table.add_row(
            p.name,
            p.role,
            p.state,
            str(p.usage.calls),
            f"{p.usage.input_tokens:,} / {p.usage.output_tokens:,}",
            usd(p.usage.cost_usd),
            ", ".join(c[:10] for c in p.commits) or "-",
        )
    return table
