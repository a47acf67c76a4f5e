"""The executor: the one place that writes to a forge.

Handlers and agents *propose* :mod:`bot.actions`; the executor asks a judge (the
policies, see :mod:`policies.verdict`) about every action, applies the allowed ones
through the :class:`bot.forge.Forge` protocol and the git workspace, and reports one
:class:`ActionOutcome` per action::

    applied   the forge or the branch changed
    skipped   the wanted state was already there (nothing written)
    pending   the judge said needs approval (nothing written yet; the verdict names who
              may approve, and the workflow shows it until then)
    denied    the judge said deny (nothing written; reason kept)
    failed    the forge or git refused; ``error`` holds the typed error
    blocked   not tried, because an action it depends on did not land
              (an OpenMR whose PushCommit on the same branch failed, was denied or
              is pending)

The judge is built per event (:func:`executor_factory_from_settings` takes a
``judge_factory``; by default :func:`bot.judging.judge_factory`, never "allow all"),
so it sees the actor, their permission, the repository config at the default branch
and each push's diff. Denied and pending actions are audited like applied ones, with
the verdict and the policy that decided.

Every write is idempotent, so a retried job or a redelivered event converges on the
same forge state: marked comments are edited in place, an open MR for the branch is
reused, labels already present are not added again, and a push whose tree already
matches the branch commits nothing. One action failing does not stop the others.

:class:`ExecutingDispatcher` puts the executor behind any :class:`bot.jobs.dispatch.Dispatcher`,
so the worker (and the CI runner) apply what the handlers proposed without the queue
knowing about forges.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import TypeAdapter

from bot.actions import (
    LESSONS_PATH,
    Action,
    AddLabels,
    FileChange,
    MarkReady,
    OpenMR,
    PostComment,
    ProposeLesson,
    PushCommit,
    React,
    RemoveLabel,
    ReplyToReviewComment,
    SetCommitStatus,
    UpdateIssue,
    UpdateMR,
)
from bot.audit_forge import AUDIT_TRAILER
from bot.comment_size import fit, limit_for
from bot.errors import (
    AgentForgeError,
    ConfigError,
    ForgeError,
    InvalidRequest,
    PolicyDenied,
    RateLimited,
    Unavailable,
    WorkspaceError,
)
from bot.events import Event
from bot.forge import CommitState, Forge, find_comment, marker, markers_in
from bot.workspace import Identity, Workspace, cache_path
from policies.verdict import Decision, Judge, Verdict, allow_all

JudgeFactory = Callable[[Event, Forge], Judge]
"""``factory(event, forge) -> Judge``: the judge of one event's actions on its forge."""

DEFAULT_IDENTITY = Identity("AgentForge", "agentforge@users.noreply.invalid")
RETRYABLE = (Unavailable, RateLimited)
"""Errors after which a job is worth retrying (the writes are idempotent)."""

_ACTIONS: TypeAdapter[list[Action]] = TypeAdapter(list[Action])


class OutcomeStatus(StrEnum):
    """What happened to one proposed action."""

    APPLIED = "applied"
    SKIPPED = "skipped"
    PENDING = "pending"
    DENIED = "denied"
    FAILED = "failed"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class ExecutionContext:
    """Who and what an execution is for (bound into the audit log).

    Attributes:
        delivery_id: The delivery that led to the actions.
        job_id: The queue job (None in a CI runner).
        triggered_by: The login of the person or bot whose event it was.
        actor: The audit log's actor for the executor's writes.
    """

    delivery_id: str | None = None
    job_id: int | None = None
    triggered_by: str | None = None
    actor: str = "agentforge"

    @classmethod
    def from_event(cls, event: Event, job_id: int | None = None) -> ExecutionContext:
        """The context for executing what handlers proposed for ``event``."""
        return cls(delivery_id=event.delivery_id, job_id=job_id, triggered_by=event.actor.login)


@dataclass(frozen=True)
class ActionOutcome:
    """The result of one proposed action.

    Attributes:
        index: Position of the action in the list given to :meth:`Executor.apply`.
        action: The action.
        status: What happened.
        detail: A sentence for people ("label ready already present").
        result: What was written or found (comment id, MR number, commit sha...).
        verdict: The judge's verdict (None when the action was never judged).
        error: The typed error of a ``failed`` action.
    """

    index: int
    action: Action
    status: OutcomeStatus
    detail: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None
    error: AgentForgeError | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (for job results and the runner's output)."""
        out: dict[str, Any] = {
            "index": self.index,
            "type": self.action.type,
            "repo": self.action.repo,
            "status": self.status.value,
            "detail": self.detail,
            "result": self.result,
        }
        if self.verdict is not None:
            out["verdict"] = {
                "decision": self.verdict.decision.name.lower(),
                "reason": self.verdict.reason,
                "policy": self.verdict.policy,
            }
        if self.error is not None:
            out["error"] = {"type": type(self.error).__name__, "message": str(self.error)}
        return out


class AuditSink(Protocol):
    """Where executed actions are recorded (:class:`bot.store.audit.AuditLog` fits)."""

    def append(
        self, actor: str, action: str, subject: str | None = None, detail: dict | None = None
    ) -> Any:
        """Append one entry."""
        ...


WorkspaceFactory = Callable[[str], Workspace]
"""``factory(repo) -> Workspace``: an up-to-date clone of ``repo`` to push from."""

_CLONE_LOCKS: dict[Path, threading.Lock] = {}
_CLONE_LOCKS_GUARD = threading.Lock()


def _clone_lock(path: Path) -> threading.Lock:
    # Workers share cached clones; one git operation at a time per clone directory.
    with _CLONE_LOCKS_GUARD:
        return _CLONE_LOCKS.setdefault(path.resolve(), threading.Lock())


def cached_workspaces(forge: Forge, clones_dir: Path) -> WorkspaceFactory:
    """A factory opening (cloning once, then fetching) ``clones_dir/<forge>/<repo>``."""

    def open_workspace(repo: str) -> Workspace:
        return Workspace.open(forge.clone_url(repo), cache_path(clones_dir, forge.name, repo))

    return open_workspace


def parse_actions(data: list[dict[str, Any]]) -> list[Action]:
    """Actions back from their JSON form (as stored in a job result).

    Raises:
        InvalidRequest: an entry is not a known action.
    """
    try:
        return _ACTIONS.validate_python(data)
    except ValueError as exc:
        raise InvalidRequest(f"reading proposed actions from a job result: {exc}") from exc


class Executor:
    """Applies allowed actions to one forge.

    Args:
        forge: Where to write.
        judge: ``judge(action) -> Verdict``; every action is allowed by default.
        audit: Where applied, denied and failed actions are recorded (optional).
        workspace_factory: Opens the clone a :class:`PushCommit` works in; by default a
            cached clone under ``clones_dir``.
        clones_dir: Cache of clones for the default factory (a temporary directory
            when not given).
        identity: Author and committer of the bot's commits.
        bot_login: The account the forge adapter writes as (asked of
            :meth:`bot.forge.Forge.whoami` when first needed if not given): marked
            comments are looked for only among its own comments.
    """

    def __init__(
        self,
        forge: Forge,
        *,
        judge: Judge | None = None,
        audit: AuditSink | None = None,
        workspace_factory: WorkspaceFactory | None = None,
        clones_dir: Path | None = None,
        identity: Identity = DEFAULT_IDENTITY,
        bot_login: str | None = None,
    ) -> None:
        self.forge = forge
        self.bot_login = bot_login
        self.judge = judge or allow_all
        self.audit = audit
        self.identity = identity
        self._clones_dir = clones_dir
        self._workspace_factory = workspace_factory

    def apply(
        self, actions: list[Action], ctx: ExecutionContext | None = None
    ) -> list[ActionOutcome]:
        """Judge and apply ``actions`` in order; one outcome per action.

        Raises:
            StoreError: the audit log could not be written (fail closed: stop).
            Exception: a judge's own bug; a judge refusing raises or returns deny.
        """
        ctx = ctx or ExecutionContext()
        outcomes: list[ActionOutcome] = []
        unlanded: set[tuple[str, str]] = set()  # (repo, branch) of pushes that did not land
        for index, action in enumerate(actions):
            if isinstance(action, OpenMR) and (action.repo, action.head) in unlanded:
                outcome = ActionOutcome(
                    index,
                    action,
                    OutcomeStatus.BLOCKED,
                    f"the push to {action.head} did not land, so no MR is opened for it",
                )
            else:
                outcome = self._one(index, action)
            if isinstance(action, PushCommit) and outcome.status in (
                OutcomeStatus.FAILED,
                OutcomeStatus.DENIED,
                OutcomeStatus.PENDING,
                OutcomeStatus.BLOCKED,
            ):
                unlanded.add((action.repo, action.branch))
            self._record(outcome, ctx)
            outcomes.append(outcome)
        return outcomes

    # --- one action -------------------------------------------------------------------

    def _one(self, index: int, action: Action) -> ActionOutcome:
        try:
            verdict = self.judge(action)
        except PolicyDenied as exc:
            verdict = Verdict.deny(str(exc), type(exc).__name__)
        if not verdict.permits:
            pending = verdict.decision == Decision.NEEDS_APPROVAL
            word = "needs approval" if pending else "denied"
            detail = f"{word}: {verdict.reason}" if verdict.reason else word
            status = OutcomeStatus.PENDING if pending else OutcomeStatus.DENIED
            return ActionOutcome(index, action, status, detail, verdict=verdict)
        try:
            status, detail, result = self._apply(action)
        except (ForgeError, WorkspaceError) as exc:
            return ActionOutcome(
                index, action, OutcomeStatus.FAILED, str(exc), verdict=verdict, error=exc
            )
        return ActionOutcome(index, action, status, detail, result, verdict=verdict)

    def _apply(self, action: Action) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        appliers: dict[type, Callable[[Any], tuple[OutcomeStatus, str, dict[str, Any]]]] = {
            PostComment: self._comment,
            AddLabels: self._add_labels,
            RemoveLabel: self._remove_label,
            React: self._react,
            PushCommit: self._push,
            OpenMR: self._open_mr,
            UpdateMR: self._update_mr,
            UpdateIssue: self._update_issue,
            MarkReady: self._mark_ready,
            SetCommitStatus: self._commit_status,
            ReplyToReviewComment: self._review_reply,
            ProposeLesson: self._propose_lesson,
        }
        return appliers[type(action)](action)

    def _comment(self, a: PostComment) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        forge = self.forge
        if a.marker_key is None:
            made = forge.create_comment(a.repo, a.number, self._fit(a.body), is_mr=a.is_mr)
            return OutcomeStatus.APPLIED, "comment posted", {"comment_id": made.id}
        try:
            tag = marker(a.marker_key)
        except ValueError as exc:
            raise InvalidRequest(
                f"posting a marked comment on {a.repo}#{a.number}: {exc}", forge=forge.name
            ) from exc
        # Same body rule as bot.forge.ensure_comment, so both find each other's comments.
        body = a.body if a.marker_key in markers_in(a.body) else f"{a.body}\n\n{tag}"
        body = self._fit(body)
        # Only the bot's own comments: a marker someone typed or copied into their
        # comment must not make the bot edit it (the forge would refuse) or skip a post.
        existing = find_comment(
            forge, a.repo, a.number, a.marker_key, is_mr=a.is_mr, author=self._own_login()
        )
        if existing is None:
            made = forge.create_comment(a.repo, a.number, body, is_mr=a.is_mr)
            return OutcomeStatus.APPLIED, "marked comment posted", {"comment_id": made.id}
        if existing.body == body:
            return (
                OutcomeStatus.SKIPPED,
                "marked comment already up to date",
                {"comment_id": existing.id},
            )
        forge.edit_comment(a.repo, a.number, existing.id, body, is_mr=a.is_mr)
        return OutcomeStatus.APPLIED, "marked comment edited", {"comment_id": existing.id}

    def _fit(self, body: str) -> str:
        # Under the forge's size limit, hidden markers kept whole (bot.comment_size).
        return fit(body, limit_for(self.forge.name))

    def _audit_head(self) -> tuple[int, str] | None:
        head = getattr(self.audit, "head", None)
        return head() if callable(head) else None

    def _own_login(self) -> str:
        if self.bot_login is None:
            self.bot_login = self.forge.whoami().login
        return self.bot_login

    def _labels_now(self, repo: str, number: int, is_mr: bool) -> list[str]:
        if is_mr:
            return list(self.forge.get_mr(repo, number).labels)
        return list(self.forge.get_issue(repo, number).labels)

    def _add_labels(self, a: AddLabels) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        present = self._labels_now(a.repo, a.number, a.is_mr)
        missing = [label for label in dict.fromkeys(a.labels) if label not in present]
        if not missing:
            return OutcomeStatus.SKIPPED, "labels already present", {"labels": present}
        now = self.forge.add_labels(a.repo, a.number, missing, is_mr=a.is_mr)
        return OutcomeStatus.APPLIED, f"added {', '.join(missing)}", {"labels": now}

    def _remove_label(self, a: RemoveLabel) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        present = self._labels_now(a.repo, a.number, a.is_mr)
        if a.label not in present:
            return OutcomeStatus.SKIPPED, f"label {a.label} not present", {"labels": present}
        now = self.forge.remove_label(a.repo, a.number, a.label, is_mr=a.is_mr)
        return OutcomeStatus.APPLIED, f"removed {a.label}", {"labels": now}

    def _react(self, a: React) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        # Forges keep one reaction per user and emoji, so reacting again changes nothing.
        self.forge.add_reaction(
            a.repo, a.number, a.reaction, comment_id=a.comment_id, is_mr=a.is_mr
        )
        return OutcomeStatus.APPLIED, f"reacted {a.reaction}", {}

    def _open_mr(self, a: OpenMR) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        for mr in self.forge.list_mrs(a.repo, state="open", head=a.head):
            if mr.head_ref == a.head and mr.base_ref == a.base:
                return (
                    OutcomeStatus.SKIPPED,
                    f"MR !{mr.number} already open",
                    {
                        "number": mr.number,
                        "url": mr.url,
                    },
                )
        mr = self.forge.open_mr(
            a.repo, head=a.head, base=a.base, title=a.title, body=self._fit(a.body), draft=a.draft
        )
        return (
            OutcomeStatus.APPLIED,
            f"MR !{mr.number} opened",
            {"number": mr.number, "url": mr.url},
        )

    def _update_mr(self, a: UpdateMR) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        mr = self.forge.get_mr(a.repo, a.number)
        body = self._fit(a.body) if a.body is not None else None
        wanted = {"title": a.title, "body": body, "state": a.state}
        changes = {k: v for k, v in wanted.items() if v is not None and getattr(mr, k) != v}
        if not changes:
            return OutcomeStatus.SKIPPED, "MR already as wanted", {"number": mr.number}
        self.forge.update_mr(a.repo, a.number, **changes)
        return OutcomeStatus.APPLIED, f"updated {', '.join(changes)}", {"number": mr.number}

    def _update_issue(self, a: UpdateIssue) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        issue = self.forge.get_issue(a.repo, a.number)
        body = self._fit(a.body) if a.body is not None else None
        wanted = {"title": a.title, "body": body, "state": a.state}
        changes = {k: v for k, v in wanted.items() if v is not None and getattr(issue, k) != v}
        if not changes:
            return OutcomeStatus.SKIPPED, "issue already as wanted", {"number": issue.number}
        self.forge.update_issue(a.repo, a.number, **changes)
        return OutcomeStatus.APPLIED, f"updated {', '.join(changes)}", {"number": issue.number}

    def _mark_ready(self, a: MarkReady) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        if not self.forge.get_mr(a.repo, a.number).draft:
            return OutcomeStatus.SKIPPED, "MR is not a draft", {"number": a.number}
        self.forge.mark_ready(a.repo, a.number)
        return OutcomeStatus.APPLIED, "MR marked ready", {"number": a.number}

    def _commit_status(self, a: SetCommitStatus) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        try:
            state = CommitState(a.state)
        except ValueError:
            known = ", ".join(s.value for s in CommitState)
            raise InvalidRequest(
                f"setting status {a.context} on {a.repo}@{a.sha[:12]}: state {a.state!r} "
                f"is not one of {known}",
                forge=self.forge.name,
            ) from None
        for status in self.forge.list_commit_statuses(a.repo, a.sha):
            if (status.context, status.state, status.description, status.target_url) == (
                a.context,
                state,
                a.description,
                a.target_url,
            ):
                return OutcomeStatus.SKIPPED, "status already reported", {"sha": a.sha}
        self.forge.set_commit_status(
            a.repo,
            a.sha,
            state,
            context=a.context,
            description=a.description,
            target_url=a.target_url,
        )
        return OutcomeStatus.APPLIED, f"{a.context}: {state.value}", {"sha": a.sha}

    def _push(self, a: PushCommit) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        if self._workspace_factory is None:
            if self._clones_dir is None:
                self._clones_dir = Path(tempfile.mkdtemp(prefix="agentforge-clones-"))
            self._workspace_factory = cached_workspaces(self.forge, self._clones_dir)
        lock = (
            _clone_lock(cache_path(self._clones_dir, self.forge.name, a.repo))
            if self._clones_dir is not None
            else threading.Lock()
        )
        with lock:
            ws = self._workspace_factory(a.repo)
            try:
                ws.commit_info(f"refs/remotes/origin/{a.branch}")
                exists = True
            except WorkspaceError:
                exists = False
            # Always start from the forge's copy: a cached local branch may be stale.
            ws.create_branch(a.branch, a.branch if exists else a.base, reset=True)
            for change in a.changes:
                if change.content is None:
                    ws.delete_file(change.path)
                else:
                    ws.write_file(change.path, change.content)
            trailers = dict(a.trailers)
            anchored = self._audit_head()
            if anchored is not None:
                # The audit head when this commit was made, on the forge where the bot
                # cannot take it back without a visible force-push (bot.audit_forge).
                trailers[AUDIT_TRAILER] = f"{anchored[0]} {anchored[1]}"
            sha = ws.commit(a.message, author=self.identity, trailers=trailers or None)
            if sha is None and exists:
                return (
                    OutcomeStatus.SKIPPED,
                    f"{a.branch} already has these changes",
                    {
                        "branch": a.branch,
                        "sha": ws.head_sha(),
                    },
                )
            ws.push(a.branch)
        what = f"pushed {sha[:12]} to {a.branch}" if sha else f"created {a.branch} at {a.base}"
        return OutcomeStatus.APPLIED, what, {"branch": a.branch, "sha": sha or ws.head_sha()}

    def _review_reply(self, a: ReplyToReviewComment) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        body = a.body
        if a.marker_key is not None:
            tag = marker(a.marker_key)
            body = a.body if a.marker_key in markers_in(a.body) else f"{a.body}\n\n{tag}"
            thread = _thread_of(self.forge, a)
            for comment in self.forge.list_review_comments(a.repo, a.number):
                if comment.thread_id == thread and a.marker_key in markers_in(comment.body):
                    return (
                        OutcomeStatus.SKIPPED,
                        "reply already in the thread",
                        {"comment_id": comment.id},
                    )
        made = self.forge.reply_to_review_comment(
            a.repo, a.number, a.comment_id, self._fit(body), thread_id=a.thread_id
        )
        return OutcomeStatus.APPLIED, "replied in the review thread", {"comment_id": made.id}

    def _propose_lesson(self, a: ProposeLesson) -> tuple[OutcomeStatus, str, dict[str, Any]]:
        # The judge allowed this action as what it is: the engine's lessons proposal. Its
        # one file is fixed by the action type, so it never carries another path.
        push = PushCommit(
            repo=a.repo,
            branch=a.branch,
            base=a.base,
            message=a.message,
            changes=[FileChange(path=LESSONS_PATH, content=a.content)],
            trailers=a.trailers,
            reason=a.reason,
        )
        return self._push(push)

    # --- audit ------------------------------------------------------------------------

    def _record(self, outcome: ActionOutcome, ctx: ExecutionContext) -> None:
        if self.audit is None or outcome.status == OutcomeStatus.SKIPPED:
            return
        detail = outcome.to_dict()
        detail.update(
            forge=self.forge.name,
            delivery_id=ctx.delivery_id,
            job_id=ctx.job_id,
            triggered_by=ctx.triggered_by,
            reason=outcome.action.reason,
        )
        self.audit.append(
            ctx.actor,
            f"{outcome.action.type}.{outcome.status.value}",
            f"{self.forge.name}:{subject_of(outcome.action)}",
            detail,
        )


def subject_of(action: Action) -> str:
    """What an action is about, for logs: ``repo#7``, ``repo@branch``, ``repo@sha``."""
    if isinstance(action, PushCommit):
        return f"{action.repo}@{action.branch}"
    if isinstance(action, OpenMR):
        return f"{action.repo}@{action.head}"
    if isinstance(action, ProposeLesson):
        return f"{action.repo}@{action.branch}"
    if isinstance(action, SetCommitStatus):
        return f"{action.repo}@{action.sha[:12]}"
    return f"{action.repo}#{action.number}"


def _thread_of(forge: Forge, a: ReplyToReviewComment) -> str:
    """The thread a reply goes to (the action's, else the replied comment's, else its id)."""
    if a.thread_id:
        return a.thread_id
    for comment in forge.list_review_comments(a.repo, a.number):
        if comment.id == a.comment_id:
            return comment.thread_id
    return a.comment_id


# --- behind a dispatcher ------------------------------------------------------------


ExecutorFactory = Callable[[Event], Executor]
"""``factory(event) -> Executor`` for the event's forge."""


class ExecutingDispatcher:
    """Runs an inner dispatcher, then applies the actions it proposed.

    The job result gains ``outcomes`` (one :meth:`ActionOutcome.to_dict` per action)
    and ``executed``. When an action failed with a retryable error (forge unavailable,
    rate limited) the error is raised after every other action ran, so the worker
    retries the job; the retry skips what already landed.

    Args:
        inner: The dispatcher that runs the handlers (e.g. ``InProcessDispatcher``).
        executor_factory: Builds the executor for an event's forge.
        raise_retryable: Raise a retryable error after executing (False where nothing
            would retry, as in a CI runner: the outcomes are returned instead).
    """

    def __init__(
        self, inner: Any, executor_factory: ExecutorFactory, *, raise_retryable: bool = True
    ) -> None:
        self.inner = inner
        self.executor_factory = executor_factory
        self.raise_retryable = raise_retryable

    def dispatch(self, job: Any, event: Event) -> dict[str, Any]:
        """Dispatch, then execute; see :meth:`bot.jobs.dispatch.Dispatcher.dispatch`."""
        result = dict(self.inner.dispatch(job, event))
        actions = parse_actions(result.get("actions") or [])
        if not actions:
            result["executed"] = False
            return result
        try:
            executor = self.executor_factory(event)
        except ConfigError as exc:
            result.update(executed=False, reason=f"cannot write to {event.forge.value}: {exc}")
            # The setting to fix, for callers that must say it (``agentforge run``).
            result["missing_setting"] = getattr(exc, "variable", None)
            return result
        # Job id 0 stands for "no queue job" (the CI runner).
        ctx = ExecutionContext.from_event(event, job_id=getattr(job, "id", None) or None)
        outcomes = executor.apply(actions, ctx)
        result["executed"] = True
        # Outcomes of actions applied during the run (through the services' action
        # sink) come first, then those of the actions proposed at the end.
        result["outcomes"] = [*result.get("outcomes", []), *(o.to_dict() for o in outcomes)]
        for outcome in outcomes if self.raise_retryable else ():
            if isinstance(outcome.error, RETRYABLE):
                raise outcome.error
        return result


def executor_factory_from_settings(
    settings: Any,
    *,
    audit: AuditSink | None = None,
    judge: Judge | None = None,
    judge_factory: JudgeFactory | None = None,
    runs: Any = None,
) -> ExecutorFactory:
    """A factory building one forge adapter per forge name (from ``settings``), reused.

    Args:
        settings: Process settings (credentials, clones directory, bot login).
        audit: Where outcomes are recorded.
        judge: One judge for every event (tests and tools that judge without context).
        judge_factory: Builds the judge of each event; the default,
            :func:`bot.judging.judge_factory`, gathers the actor's permission, the
            config at the default branch and each push's diff. Used when ``judge`` is
            None, so production never applies actions unjudged.
        runs: The run store; with it the default judge reads each push's phase, role
            and approvals from the run (:func:`bot.judging_runs.run_facts`), so an
            infrastructure approver's ``/approve`` releases a held push.

    Raises (when called):
        ConfigError: the event's forge has no credentials configured.
    """
    from bot.forges import make_forge

    if judge is None and judge_factory is None:
        from bot.judging import judge_factory as shell_judges

        facts = None
        if runs is not None:
            from bot.judging_runs import run_facts

            facts = run_facts(runs)
        judge_factory = shell_judges(
            settings.clones_dir, bot_login=settings.bot_login, action_context=facts
        )

    forges: dict[str, Forge] = {}
    guard = threading.Lock()
    identity = (
        Identity(settings.bot_login, f"{settings.bot_login}@users.noreply.invalid")
        if settings.bot_login
        else DEFAULT_IDENTITY
    )

    def factory(event: Event) -> Executor:
        name = event.forge.value
        with guard:
            if name not in forges:
                forges[name] = make_forge(name, settings)
            forge = forges[name]
        chosen = judge if judge is not None else judge_factory(event, forge)  # type: ignore[misc]
        return Executor(
            forge,
            judge=chosen,
            audit=audit,
            clones_dir=settings.clones_dir,
            identity=identity,
            bot_login=settings.bot_login,
        )

    return factory


def forge_configured(settings: Any) -> bool:
    """Whether ``settings`` hold credentials for GitHub or GitLab, or a local forge."""
    return bool(
        settings.github_token
        or (settings.github_app_id and settings.github_app_installation_id)
        or settings.gitlab_token
        or getattr(settings, "local_dir", None)
    )


def build_dispatcher(settings: Any, db: Any = None) -> Any:
    """The server's dispatcher: handlers with services, then the executor.

    See :func:`bot.services.build_dispatcher`; without ``db`` the run store and audit
    log live in a throw-away in-memory database. Without forge credentials the jobs
    record why nothing was written.
    """
    from bot.services import build_dispatcher as with_services
    from bot.store.db import Database

    return with_services(settings, db if db is not None else Database.in_memory())
