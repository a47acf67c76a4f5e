"""Which queue a job goes to, and how urgent it is: decided at intake from the Event.

Two kinds of work share the server. People's commands (``/approve``, ``/cancel``,
``/status``...) and gate checks (a push, a pipeline, a review) take a moment; role runs
(a phase's agent, its tool and test runs) take minutes. Each kind has its own **queue**
and its own worker lane with its own concurrency limit (``AGENTFORGE_WORKERS_LIGHT``,
``AGENTFORGE_WORKERS_HEAVY``), so a burst of new issues fills the heavy lane while the
light lane keeps answering people. Inside a lane, a lower **priority** number is leased
first; per-subject arrival order still comes first (a subject's jobs run one at a time,
oldest first, across both queues).

=================================================  ======  ========
event                                              queue   priority
=================================================  ======  ========
comment whose first command is a command            light   0
review (an approval on the forge is a gate signal)  light   0
continuation of a run (a phase a command unlocked)  heavy   0
issue opened / labelled / reopened (a new run)      heavy   1
other comments (may start a review fix-up)          heavy   1
MR updated, push, pipeline, other issue changes     light   1
the periodic reconcile sweep (:mod:`bot.jobs.reconcile`)  heavy   2
=================================================  ======  ========

The sweep may resume a phase, so it runs in the heavy lane, after everything else there.

A light job never runs a role itself: when the engine would start a phase's role in a
light job it records a continuation instead (``Services.continuations``), which the
worker turns into a heavy job for the same subject in the transaction that finishes
the light one (see :mod:`bot.jobs.followups`).

Classification is cheap: it reads the parsed event's kind and action and, for comments,
the first command line (:func:`handlers.commands.first_command`, a regex pass).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import Event, EventKind
from handlers.commands import KNOWN_COMMANDS, first_command

LIGHT = "light"
"""Commands and gate checks: short jobs, answered first."""
HEAVY = "heavy"
"""Role runs: long jobs, in their own lane."""
QUEUES = (LIGHT, HEAVY)

PRIORITY_COMMAND = 0
"""People's commands (and the phase a command unlocked, on the heavy queue)."""
PRIORITY_WORK = 1
"""New runs and the events that re-check gates."""
PRIORITY_RECONCILE = 2
"""Re-checking state that nobody asked about: only when nothing else waits."""


@dataclass(frozen=True)
class Placement:
    """Where a job waits: its queue and its priority (lower runs first)."""

    queue: str = HEAVY
    priority: int = PRIORITY_WORK


_NEW_RUN_ACTIONS = frozenset({"opened", "labeled", "reopened"})


def classify(event: Event) -> Placement:
    """The queue and priority of the job for ``event`` (see the module table)."""
    kind = event.kind
    if kind == EventKind.RECONCILE:
        return Placement(HEAVY, PRIORITY_RECONCILE)
    if kind in (EventKind.ISSUE_COMMENT, EventKind.MR_COMMENT):
        if event.action == "created" and first_command(event.comment, KNOWN_COMMANDS):
            return Placement(LIGHT, PRIORITY_COMMAND)
        return Placement(HEAVY, PRIORITY_WORK)
    if kind == EventKind.MR_REVIEW:
        return Placement(LIGHT, PRIORITY_COMMAND)
    if kind == EventKind.ISSUE and event.action in _NEW_RUN_ACTIONS:
        return Placement(HEAVY, PRIORITY_WORK)
    return Placement(LIGHT, PRIORITY_WORK)
