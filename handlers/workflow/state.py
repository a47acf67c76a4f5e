"""A run's state: what the engine keeps in ``RunRecord.data`` and in the status marker.

:class:`RunData` is the whole state of one workflow run: its phases (each with its
state, round, commits, summary, confidence, usage...), the approvals given (each bound
to the MR head SHA it was given at), the branch, the MR and the status comment. It is
stored as JSON in the run store and, compacted, in a hidden marker at the end of the
bot's status comment::

    <!-- agentforge:state eJy...(base64url of zlib-compressed JSON) -->

so a bot restarted with an empty data directory can rebuild the run from the forge
(see :mod:`handlers.workflow.reconstruct`). A marker counts only in a comment whose
author is the bot itself; anyone can type one into their own comment.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PhaseState = Literal["waiting", "running", "needs_approval", "approved", "failed"]
"""``waiting``: not started. ``running``: its role works (or its push is applied).
``needs_approval``: its gate waits on people or CI. ``approved``: its gate passed.
``failed``: it could not finish (the run failed with it)."""

STATE_MARKER_RE = re.compile(r"<!--\s*agentforge:state\s+([A-Za-z0-9_-]+)\s*-->")
SCHEMA_VERSION = 1
_MARKER_SUMMARY_CHARS = 600


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Usage(_Model):
    """Tokens, calls, dollars and seconds a phase (or the run) spent."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0

    def plus(self, other: Usage) -> Usage:
        """The sum of two usages."""
        return Usage(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            seconds=self.seconds + other.seconds,
        )


class Claim(_Model):
    """Which job is working a running phase, since when (a stale claim is taken over)."""

    job: str
    at: datetime


class Approval(_Model):
    """One approval, bound to the MR head SHA it was given at.

    Attributes:
        phase: The phase approved.
        round: The phase's round it was given for.
        by: The approver's login.
        sha: The MR (or branch) head the approver saw.
        via: ``comment`` (``/approve``) or ``forge`` (GitLab's approval quick action).
        signal: The comment or approval event it came from (one signal, one effect).
        at: When it was recorded.
    """

    phase: str
    round: int
    by: str
    sha: str | None
    via: Literal["comment", "forge"]
    signal: str
    at: datetime


class PhaseRun(_Model):
    """One phase of a run.

    Attributes:
        name: Phase name (from the workflow file).
        role: The role that works it.
        gates: The phase's gates as configured (all must pass).
        state: See :data:`PhaseState`.
        round: 1 for the first attempt, 2 after one ``/reject``...
        claim: The job working it while ``running``.
        result: Whether the role's result is recorded (the push may still be pending).
        pushed: Whether the result's push has landed (or there was nothing to push).
        commits: Commits the phase added to the branch.
        artifacts: Paths the phase wrote.
        summary: The role's summary.
        confidence: The role's confidence, 0-1.
        covered: Acceptance criterion id -> tests covering it.
        questions: Questions the role asked a person.
        usage: What the phase spent.
        head_sha: The MR head the gate is evaluated at.
        waiting_since: When the gate started waiting (an ``/approve`` written before
            that could not have seen this phase's result).
        hold: Why the gate holds (failing checks...), for the status comment.
        pending: What the gate still waits for, in words.
        awaiting: The gates that have not passed yet (``human``, ``tests``...).
        error: Why the phase failed.
        started_at: When the role started.
        finished_at: When the gate passed or the phase failed.
        feedback: What the role is asked to take into account in this round (a
            ``/reject``'s text, ``/retry``'s answers, review comments, a failing log).
        previous_commits: The rejected round's commits (their diff goes to the role).
    """

    name: str
    role: str
    gates: list[str]
    state: PhaseState = "waiting"
    round: int = 1
    claim: Claim | None = None
    result: bool = False
    pushed: bool = False
    commits: list[str] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list)
    summary: str = ""
    confidence: float | None = None
    covered: dict[str, list[str]] = Field(default_factory=dict)
    questions: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    head_sha: str | None = None
    waiting_since: datetime | None = None
    hold: str | None = None
    pending: list[str] = Field(default_factory=list)
    awaiting: list[str] = Field(default_factory=list)
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    feedback: str | None = None
    previous_commits: list[str] = Field(default_factory=list)


class Fixup(_Model):
    """One piece of follow-up work outside the phase plan: review threads answered, or a
    red pipeline fixed up.

    Attributes:
        kind: ``review`` or ``pipeline``.
        key: What it answered (the review id, or ``<sha>:<check>``): one fix-up per key.
        phase: The phase that was current.
        commit: The fix commit, if the role changed files.
        at: When it was recorded.
    """

    kind: Literal["review", "pipeline"]
    key: str
    phase: str
    commit: str | None = None
    at: datetime


class RunData(_Model):
    """The engine's whole state of one run (``RunRecord.data``, and the status marker).

    Attributes:
        v: Schema version of this model.
        run_id: The run's id.
        forge: ``github``, ``gitlab`` or ``local``.
        repo: Repository full name.
        issue: The issue number.
        branch: The run's branch (``agentforge/issue-<N>``).
        base: The branch it was cut from (the default branch).
        mr: The draft MR's number, once opened.
        mr_url: Its web URL.
        status_comment_id: The live status comment's id, once posted.
        phases: Every phase of the workflow, in order.
        current: Index of the phase being worked or awaiting its gate
            (``len(phases)`` once the last gate passed).
        approvals: Approvals given, each bound to a head SHA.
        consumed: Signals (comment ids, approval events) already acted on.
        started_by: Who started the run.
        trigger: How (``label``, ``command``, or ``ok-to-run``: an approver let an
            untrusted starter's run start).
        estimate_usd: The up-front cost estimate.
        criteria: Acceptance criteria found in the phases' documents, id -> text.
        outcome: ``succeeded``, ``failed`` or ``cancelled`` once the run ended.
        error: Why the run failed.
        started_at: When the run started.
        finished_at: When it ended.
        workflow: The workflow the run follows (``feature``, ``bugfix``, ``docs``...).
        fixups: Review and pipeline fix-ups done, oldest first.
        continues: The failed run this one continues (``/retry``), if any.
    """

    v: int = SCHEMA_VERSION
    run_id: str
    forge: str
    repo: str
    issue: int
    branch: str
    base: str
    mr: int | None = None
    mr_url: str | None = None
    status_comment_id: str | None = None
    phases: list[PhaseRun]
    current: int = 0
    approvals: list[Approval] = Field(default_factory=list)
    consumed: list[str] = Field(default_factory=list)
    started_by: str = ""
    trigger: str = ""
    estimate_usd: float | None = None
    criteria: dict[str, str] = Field(default_factory=dict)
    outcome: str | None = None
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    workflow: str = "feature"
    fixups: list[Fixup] = Field(default_factory=list)
    continues: str | None = None

    # --- reading -----------------------------------------------------------------------

    @property
    def phase(self) -> PhaseRun | None:
        """The current phase, or None once every gate has passed."""
        return self.phases[self.current] if self.current < len(self.phases) else None

    @property
    def usage(self) -> Usage:
        """What the run spent so far."""
        total = Usage()
        for phase in self.phases:
            total = total.plus(phase.usage)
        return total

    @property
    def commits(self) -> list[str]:
        """Every commit the run added, oldest first."""
        return [sha for phase in self.phases for sha in phase.commits]

    def approvals_for(self, phase: PhaseRun) -> list[Approval]:
        """Approvals given for ``phase``'s current round."""
        return [a for a in self.approvals if a.phase == phase.name and a.round == phase.round]

    # --- storing -----------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        """JSON-able form for ``RunRecord.data``."""
        return self.model_dump(mode="json")

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RunData:
        """Back from ``RunRecord.data``.

        Raises:
            pydantic.ValidationError: the data is not a run's state.
        """
        return cls.model_validate(data)


# --- the hidden marker ---------------------------------------------------------------------


def encode_marker(data: RunData) -> str:
    """The hidden marker for the status comment: compact, machine-readable state."""
    compact = data.model_copy(
        update={
            "consumed": data.consumed[-20:],
            "phases": [
                p.model_copy(update={"summary": p.summary[:_MARKER_SUMMARY_CHARS]})
                for p in data.phases
            ],
        }
    )
    raw = json.dumps(compact.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"))
    packed = base64.urlsafe_b64encode(zlib.compress(raw.encode(), 9)).decode().rstrip("=")
    return f"<!-- agentforge:state {packed} -->"


def decode_marker(text: str | None) -> RunData | None:
    """The run state in the last state marker of ``text``, or None if there is none
    or it does not decode (a damaged or forged marker is no state at all)."""
    found = STATE_MARKER_RE.findall(text or "")
    if not found:
        return None
    packed = found[-1]
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
        return RunData.model_validate(json.loads(raw))
    except (binascii.Error, zlib.error, ValueError, ValidationError):
        return None


def strip_markers(text: str) -> str:
    """``text`` without state markers (so quoting the bot never smuggles one along)."""
    return STATE_MARKER_RE.sub("", text)
