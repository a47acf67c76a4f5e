"""What a phase hands its role, and how its result becomes a commit.

- :func:`build_task` gathers the role's inputs: the issue (untrusted data), the
  discussion so far (the bot's own markers stripped), the earlier phases' artifacts read
  from the run's branch, the repository's lessons, the phase's outputs.
- :func:`push_action` turns the role's change set into one :class:`PushCommit` on the
  run's branch with the ``Agentforge-*`` trailers. The executor bases it on the branch's
  current tip (a person's commit on the branch is built on, never force-pushed over)
  and commits nothing when the tree already matches (a retried push is a no-op).
"""

from __future__ import annotations

from agents.roles.contract import Discussion, IssueBrief, RoleTask
from agents.roles.validate import is_test_file
from bot.actions import FileChange, PushCommit
from bot.forge import Forge, Issue
from bot.repoconfig.schema import WorkflowConfig
from handlers.services import BranchCommit, RepoReader
from handlers.workflow.state import PhaseRun, RunData, strip_markers

TRAILER_RUN = "Agentforge-Run"
TRAILER_PHASE = "Agentforge-Phase"
TRAILER_ROLE = "Agentforge-Role"
TRAILER_ROUND = "Agentforge-Round"
LESSONS_FILE = ".agentforge/lessons.md"
_ARTIFACT_BUDGET = 200_000
_DISCUSSION_LIMIT = 50


def issue_brief(issue: Issue) -> IssueBrief:
    """The issue as the role sees it."""
    return IssueBrief(
        number=issue.number,
        title=issue.title,
        body=issue.body or "",
        labels=list(issue.labels),
        author=issue.author.login,
        url=issue.url,
    )


def discussion(
    forge: Forge, data: RunData, bot_login: str | None, *, status_comment_id: str | None
) -> list[Discussion]:
    """Comments on the issue and the MR, oldest first, without the bot's status comment."""
    out: list[Discussion] = []
    sources = [(data.issue, False)] + ([(data.mr, True)] if data.mr is not None else [])
    for number, is_mr in sources:
        for comment in forge.list_comments(data.repo, number, is_mr=is_mr):
            if comment.id == status_comment_id:
                continue
            body = strip_markers(comment.body).strip()
            if body:
                out.append(Discussion(author=comment.author.login, body=body, on_mr=is_mr))
    return out[-_DISCUSSION_LIMIT:]


def build_task(
    data: RunData,
    phase: PhaseRun,
    *,
    outputs: list[str],
    issue: Issue,
    forge: Forge,
    reader: RepoReader,
    bot_login: str | None,
    role: str | None = None,
    task: str = "",
    feedback: str | None = None,
    workflow: WorkflowConfig | None = None,
) -> RoleTask:
    """The role's task for ``phase`` (earlier artifacts are read from the branch).

    ``feedback`` defaults to the phase's own (a ``/reject`` or ``/retry``); the rejected
    round's diff goes along as ``previous_diff``. ``role`` and ``task`` let a fix-up give
    another role (the developer) the phase's context with its own instructions.
    ``workflow`` (the run's) says what the phase's tests must do (:func:`test_rules`).
    """
    artifacts: dict[str, str] = {}
    budget = _ARTIFACT_BUDGET
    if data.commits:
        for earlier in data.phases[: data.current]:
            for path in earlier.artifacts:
                text = reader.file_at(data.repo, data.branch, path)
                if text is None or len(text) > budget:
                    continue
                artifacts[path] = text
                budget -= len(text)
    lessons = reader.file_at(data.repo, data.base, LESSONS_FILE) or ""
    new_tests, must_pass = test_rules(workflow, data, phase)
    return RoleTask(
        role=role or phase.role,
        task=task,
        feedback=feedback if feedback is not None else phase.feedback,
        previous_diff=previous_diff(data, phase, reader) if role is None else None,
        repo=data.repo,
        forge=data.forge,
        run_id=data.run_id,
        phase=phase.name,
        issue=issue_brief(issue),
        outputs=list(outputs),
        artifacts=artifacts,
        discussion=discussion(forge, data, bot_login, status_comment_id=data.status_comment_id),
        round=phase.round,
        lessons=lessons,
        base_ref=data.base,
        new_tests=new_tests,
        must_pass=must_pass,
    )


def test_rules(
    workflow: WorkflowConfig | None, data: RunData, phase: PhaseRun
) -> tuple[str, list[str]]:
    """What ``phase``'s tests must do: its ``new_tests`` rule, and the test files earlier
    phases of the run wrote to reproduce a bug (``new_tests: fail``), which must pass
    from now on."""
    if workflow is None:
        return "pass", []
    cfg = workflow.phase(phase.name)
    must_pass: list[str] = []
    for earlier in data.phases:
        if earlier.name == phase.name:
            break
        earlier_cfg = workflow.phase(earlier.name)
        if earlier_cfg is not None and earlier_cfg.new_tests == "fail":
            must_pass += [p for p in earlier.artifacts if is_test_file(p)]
    return (cfg.new_tests if cfg is not None else "pass"), sorted(set(must_pass))


def previous_diff(data: RunData, phase: PhaseRun, reader: RepoReader) -> str | None:
    """The diff of the rejected round's commits (None in a first round)."""
    if not phase.previous_commits:
        return None
    shas = [c.sha for c in reader.branch_commits(data.repo, data.branch, data.base)]
    first, last = phase.previous_commits[0], phase.previous_commits[-1]
    if first not in shas:
        return None  # rewritten history: the old commits are gone
    index = shas.index(first)
    before = shas[index - 1] if index > 0 else data.base
    return reader.diff(data.repo, before, last) or None


def trailers(data: RunData, phase: PhaseRun) -> dict[str, str]:
    """The trailers every commit of ``phase`` carries."""
    return {
        TRAILER_RUN: data.run_id,
        TRAILER_PHASE: phase.name,
        TRAILER_ROLE: phase.role,
        TRAILER_ROUND: str(phase.round),
    }


def push_action(data: RunData, phase: PhaseRun, changes: list[FileChange]) -> PushCommit:
    """The phase's commit on the run's branch."""
    first = (phase.summary.strip().splitlines() or ["phase output"])[0][:72]
    message = f"agentforge({phase.name}): {first}\n\n{phase.summary.strip()}\n\nRefs #{data.issue}"
    return PushCommit(
        repo=data.repo,
        branch=data.branch,
        base=data.base,
        message=message.strip(),
        changes=changes,
        trailers=trailers(data, phase),
        reason=f"phase {phase.name} of run {data.run_id} ({phase.role})",
    )


def commits_of(data: RunData, phase: PhaseRun, commits: list[BranchCommit]) -> list[str]:
    """Shas on the branch that carry ``phase``'s trailers for its current round."""
    want = trailers(data, phase)
    return [
        c.sha
        for c in commits
        if c.trailers.get(TRAILER_RUN) == want[TRAILER_RUN]
        and c.trailers.get(TRAILER_PHASE) == want[TRAILER_PHASE]
        and c.trailers.get(TRAILER_ROUND, "1") == want[TRAILER_ROUND]
    ]
