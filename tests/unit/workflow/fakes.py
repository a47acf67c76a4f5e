"""In-memory fakes of the services the workflow engine uses.

- :class:`FakeForge`: issues, comments (with authors), MRs, reviews, permissions,
  checks, reactions and a tiny git (branches of commits with trailers and trees).
- :class:`FakeSink`: applies actions to the fake forge the way ``bot.executor`` does
  (marked comments find-or-create-or-edit, an open MR for the branch reused, a push
  based on the branch tip that commits nothing when the tree matches). It records
  every action and can crash after ``k`` applied actions (:class:`Crash`, a
  BaseException like a killed process, or a retryable ``Unavailable``).
- :class:`FakeRuns`: a dict-backed run store honouring versions and one active run
  per issue, thread-safe.
- :class:`FakeRoles`: scripted role results, recording each task.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.roles.contract import RoleResult, RoleTask, RoleUsage
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
    ReplyToReviewComment,
    UpdateMR,
)
from bot.errors import Conflict, NotFound, RepoConfigError
from bot.forge import (
    Comment,
    CommitStatus,
    Issue,
    MergeRequest,
    Permission,
    RepoInfo,
    Review,
    ReviewComment,
    User,
    find_comment,
    marker,
    markers_in,
)
from bot.repoconfig import AgentForgeConfig
from handlers.services import TERMINAL_STATES, ActionResult, BranchCommit, RunRecord, Services

REPO = "acme/app"
BOT = "agentforge-bot"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Crash(BaseException):
    """A simulated process death (not an Exception: nothing in the engine catches it)."""


class Clock:
    """A clock that moves ``step`` on every reading."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.t = start
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.t += self.step
            return self.t


@dataclass
class GitCommit:
    """One fake commit."""

    sha: str
    message: str
    trailers: dict[str, str]
    tree: dict[str, str]
    author: str


class FakeForge:
    """A stateful in-memory forge (one repository)."""

    name = "github"

    def __init__(self, clock: Clock, *, forge: str = "github") -> None:
        self.name = forge
        self.clock = clock
        self.lock = threading.RLock()
        self.ids = itertools.count(100)
        self.issues: dict[int, Issue] = {}
        self.comments: dict[int, list[Comment]] = {}
        self.mr_comments: dict[int, list[Comment]] = {}
        self.mrs: dict[int, MergeRequest] = {}
        self.reviews: dict[int, list[Review]] = {}
        self.permissions: dict[str, Permission] = {}
        self.teams: dict[str, set[str]] = {}
        self.checks: dict[str, list[CommitStatus]] = {}
        self.reactions: list[tuple[int, str | None, str]] = []
        self.base_tree: dict[str, str] = {"README.md": "# app\n"}
        self.branches: dict[str, list[GitCommit]] = {}
        self.main_sha = "0" * 40
        self.review_comments: dict[int, list[ReviewComment]] = {}
        self.check_logs: dict[tuple[str, str], str] = {}

    # --- setup helpers -----------------------------------------------------------------

    def add_issue(self, number: int, title: str, body: str, author: str, labels=()) -> Issue:
        issue = Issue(
            number=number,
            title=title,
            body=body,
            labels=list(labels),
            author=User(login=author),
            url=f"https://forge/{REPO}/issues/{number}",
        )
        self.issues[number] = issue
        self.comments.setdefault(number, [])
        return issue

    def human_comment(self, number: int, author: str, body: str, *, is_mr: bool = False):
        return self._create(number, body, User(login=author), is_mr=is_mr)

    def human_push(self, branch: str, path: str, content: str, author: str = "dana") -> str:
        with self.lock:
            tip = self.branches[branch][-1]
            tree = {**tip.tree, path: content}
            return self._commit(branch, f"edit {path}", {}, tree, author)

    # --- git ---------------------------------------------------------------------------

    def _commit(self, branch, message, trailers, tree, author) -> str:
        chain = self.branches.setdefault(branch, [])
        parent = chain[-1].sha if chain else self.main_sha
        sha = hashlib.sha1(f"{parent}{message}{sorted(tree.items())}".encode()).hexdigest()
        chain.append(GitCommit(sha, message, dict(trailers), dict(tree), author))
        for mr in list(self.mrs.values()):
            if mr.head_ref == branch:
                self.mrs[mr.number] = mr.model_copy(update={"head_sha": sha})
        return sha

    def tree(self, ref: str) -> dict[str, str] | None:
        if self.branches.get(ref):
            return self.branches[ref][-1].tree
        if ref == "main":
            return self.base_tree
        return None

    # --- Forge reads -------------------------------------------------------------------

    def get_repo(self, repo: str) -> RepoInfo:
        return RepoInfo(full_name=repo, default_branch="main", clone_url="file:///x")

    def get_issue(self, repo: str, number: int) -> Issue:
        if number not in self.issues:
            raise NotFound(f"issue {number}")
        return self.issues[number]

    def list_comments(self, repo: str, number: int, *, is_mr: bool = False) -> list[Comment]:
        with self.lock:
            store = self.mr_comments if is_mr else self.comments
            return list(store.get(number, []))

    def get_mr(self, repo: str, number: int) -> MergeRequest:
        if number not in self.mrs:
            raise NotFound(f"mr {number}")
        return self.mrs[number]

    def list_mrs(self, repo: str, *, state: str = "open", head: str | None = None):
        return [
            m
            for m in self.mrs.values()
            if (state == "all" or m.state == state) and (head is None or m.head_ref == head)
        ]

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        return list(self.reviews.get(number, []))

    def get_permission(self, repo: str, login: str) -> Permission:
        return self.permissions.get(login, Permission.NONE)

    def is_team_member(self, repo: str, team: str, login: str) -> bool:
        if team not in self.teams:
            raise NotFound(f"no team {team}")
        return login in self.teams[team]

    def list_checks(self, repo: str, sha: str) -> list[CommitStatus]:
        return list(self.checks.get(sha, []))

    def list_issues(self, repo: str, *, state: str = "open", labels=None) -> list[Issue]:
        return [
            i
            for i in self.issues.values()
            if (state == "all" or i.state == state)
            and all(label in i.labels for label in labels or [])
        ]

    def list_review_comments(self, repo, number, review_id=None) -> list[ReviewComment]:
        with self.lock:
            return [
                c
                for c in self.review_comments.get(number, [])
                if review_id is None or c.review_id == review_id
            ]

    def get_check_log(self, repo: str, sha: str, name: str) -> str | None:
        return self.check_logs.get((sha, name))

    def add_review_comment(self, number, author, path, line, body, *, review_id=None):
        with self.lock:
            cid = str(next(self.ids))
            comment = ReviewComment(
                id=cid,
                path=path,
                line=line,
                body=body,
                author=User(login=author),
                thread_id=cid,
                review_id=review_id,
                created_at=self.clock(),
            )
            self.review_comments.setdefault(number, []).append(comment)
            return comment

    def reply_to_review_comment(self, repo, number, comment_id, body, *, thread_id=None):
        with self.lock:
            root = next(c for c in self.review_comments[number] if c.id == comment_id)
            cid = str(next(self.ids))
            reply = ReviewComment(
                id=cid,
                path=root.path,
                line=root.line,
                body=body,
                author=User(login=BOT, is_bot=True),
                thread_id=root.thread_id,
                in_reply_to=root.id,
                created_at=self.clock(),
            )
            self.review_comments[number].append(reply)
            return Comment(id=cid, body=body, author=reply.author)

    def add_labels(self, repo, number, labels, *, is_mr=False) -> list[str]:
        issue = self.issues[number]
        now = [*issue.labels, *[label for label in labels if label not in issue.labels]]
        self.issues[number] = issue.model_copy(update={"labels": now})
        return now

    # --- Forge writes (only the sink calls these) --------------------------------------

    def _create(self, number: int, body: str, author: User, *, is_mr: bool) -> Comment:
        with self.lock:
            store = self.mr_comments if is_mr else self.comments
            now = self.clock()
            comment = Comment(
                id=str(next(self.ids)), body=body, author=author, created_at=now, updated_at=now
            )
            store.setdefault(number, []).append(comment)
            return comment

    def create_comment(self, repo: str, number: int, body: str, *, is_mr: bool = False):
        return self._create(number, body, User(login=BOT, is_bot=True), is_mr=is_mr)

    def edit_comment(self, repo, number, comment_id, body, *, is_mr=False) -> Comment:
        with self.lock:
            store = self.mr_comments if is_mr else self.comments
            for i, c in enumerate(store[number]):
                if c.id == comment_id:
                    if c.author.login != BOT:
                        raise Conflict("the bot cannot edit someone else's comment")
                    store[number][i] = c.model_copy(update={"body": body})
                    return store[number][i]
        raise NotFound(comment_id)


class FakeSink:
    """Applies actions to a :class:`FakeForge` like the executor; can crash on demand."""

    def __init__(self, forge: FakeForge) -> None:
        self.forge = forge
        self.log: list[tuple[Action, ActionResult]] = []
        self.crash_after: int | None = None
        self.crash_with: type[BaseException] = Crash
        self.applied = 0
        self.lock = threading.RLock()

    def apply(self, actions: list[Action]) -> list[ActionResult]:
        out = []
        for action in actions:
            with self.lock:
                result = self._one(action)
                self.log.append((action, result))
                self.applied += 1
                if self.crash_after is not None and self.applied >= self.crash_after:
                    self.crash_after = None
                    if self.crash_with is Crash:
                        raise Crash(f"crash after {type(action).__name__}")
                    raise self.crash_with("forge went away")
            out.append(result)
        return out

    def of(self, kind: type) -> list[Action]:
        return [a for a, _ in self.log if isinstance(a, kind)]

    def _one(self, a: Action) -> ActionResult:
        f = self.forge
        with f.lock:
            if isinstance(a, PostComment):
                if a.marker_key is None:
                    c = f.create_comment(a.repo, a.number, a.body, is_mr=a.is_mr)
                    return ActionResult(type=a.type, status="applied", result={"comment_id": c.id})
                body = (
                    a.body
                    if a.marker_key in markers_in(a.body)
                    else f"{a.body}\n\n{marker(a.marker_key)}"
                )
                found = find_comment(f, a.repo, a.number, a.marker_key, is_mr=a.is_mr)
                if found is None:
                    c = f.create_comment(a.repo, a.number, body, is_mr=a.is_mr)
                    return ActionResult(type=a.type, status="applied", result={"comment_id": c.id})
                if found.body == body:
                    return ActionResult(
                        type=a.type, status="skipped", result={"comment_id": found.id}
                    )
                f.edit_comment(a.repo, a.number, found.id, body, is_mr=a.is_mr)
                return ActionResult(type=a.type, status="applied", result={"comment_id": found.id})
            if isinstance(a, React):
                f.reactions.append((a.number, a.comment_id, a.reaction))
                return ActionResult(type=a.type, status="applied")
            if isinstance(a, AddLabels):
                if all(label in f.issues[a.number].labels for label in a.labels):
                    return ActionResult(type=a.type, status="skipped")
                f.add_labels(a.repo, a.number, a.labels)
                return ActionResult(type=a.type, status="applied")
            if isinstance(a, ReplyToReviewComment):
                for c in f.list_review_comments(a.repo, a.number):
                    if a.marker_key and a.marker_key in markers_in(c.body):
                        return ActionResult(type=a.type, status="skipped")
                body = f"{a.body}\n\n{marker(a.marker_key)}" if a.marker_key else a.body
                made = f.reply_to_review_comment(a.repo, a.number, a.comment_id, body)
                return ActionResult(type=a.type, status="applied", result={"comment_id": made.id})
            if isinstance(a, ProposeLesson):
                return self._push(
                    PushCommit(
                        repo=a.repo,
                        branch=a.branch,
                        base=a.base,
                        message=a.message,
                        changes=[FileChange(path=LESSONS_PATH, content=a.content)],
                        trailers=a.trailers,
                    )
                )
            if isinstance(a, PushCommit):
                return self._push(a)
            if isinstance(a, OpenMR):
                for mr in f.list_mrs(a.repo, state="open", head=a.head):
                    return ActionResult(type=a.type, status="skipped", result={"number": mr.number})
                number = next(f.ids)
                tip = f.branches.get(a.head) or []
                f.mrs[number] = MergeRequest(
                    number=number,
                    title=a.title,
                    body=a.body,
                    draft=a.draft,
                    head_ref=a.head,
                    base_ref=a.base,
                    head_sha=tip[-1].sha if tip else None,
                    author=User(login=BOT, is_bot=True),
                    url=f"https://forge/{REPO}/pull/{number}",
                )
                return ActionResult(
                    type=a.type, status="applied", result={"number": number, "url": "u"}
                )
            if isinstance(a, UpdateMR):
                mr = f.mrs[a.number]
                if a.body is None or mr.body == a.body:
                    return ActionResult(type=a.type, status="skipped", result={"number": a.number})
                f.mrs[a.number] = mr.model_copy(update={"body": a.body})
                return ActionResult(type=a.type, status="applied", result={"number": a.number})
            if isinstance(a, MarkReady):
                mr = f.mrs[a.number]
                if not mr.draft:
                    return ActionResult(type=a.type, status="skipped", result={"number": a.number})
                f.mrs[a.number] = mr.model_copy(update={"draft": False})
                return ActionResult(type=a.type, status="applied", result={"number": a.number})
        raise AssertionError(f"unexpected action {a!r}")

    def _push(self, a: PushCommit) -> ActionResult:
        f = self.forge
        tip = f.tree(a.branch)
        exists = tip is not None and a.branch in f.branches
        tree = dict(tip if exists else f.tree(a.base) or {})
        for change in a.changes:
            if change.content is None:
                tree.pop(change.path, None)
            else:
                tree[change.path] = change.content
        if exists and tree == tip:
            sha = f.branches[a.branch][-1].sha
            return ActionResult(type=a.type, status="skipped", result={"sha": sha})
        sha = f._commit(a.branch, a.message, a.trailers, tree, "AgentForge")
        return ActionResult(type=a.type, status="applied", result={"sha": sha, "branch": a.branch})


class FakeReader:
    """Repository reads over the fake forge's git."""

    def __init__(self, forge: FakeForge) -> None:
        self.forge = forge

    def file_at(self, repo: str, ref: str, path: str) -> str | None:
        tree = self.forge.tree(ref)
        return None if tree is None else tree.get(path)

    def mr_changed_files(self, repo: str, number: int) -> list[str]:
        return []

    def diff(self, repo: str, base: str, head: str) -> str:
        import difflib

        def tree(ref: str) -> dict[str, str]:
            for chain in self.forge.branches.values():
                for c in chain:
                    if c.sha == ref:
                        return c.tree
            return self.forge.tree(ref) or {}

        old, new = tree(base), tree(head)
        out: list[str] = []
        for path in sorted(set(old) | set(new)):
            if old.get(path) != new.get(path):
                out += difflib.unified_diff(
                    (old.get(path) or "").splitlines(keepends=True),
                    (new.get(path) or "").splitlines(keepends=True),
                    f"a/{path}",
                    f"b/{path}",
                )
        return "".join(out)

    def changed_files(self, repo: str, base: str, head: str) -> list[str]:
        old, new = self._tree(base), self._tree(head)
        return sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))

    def _tree(self, ref: str) -> dict[str, str]:
        for chain in self.forge.branches.values():
            for c in chain:
                if c.sha == ref:
                    return c.tree
        return self.forge.tree(ref) or {}

    def branch_commits(self, repo: str, branch: str, base: str) -> list[BranchCommit]:
        with self.forge.lock:
            return [
                BranchCommit(sha=c.sha, message=c.message, trailers=c.trailers, author=c.author)
                for c in self.forge.branches.get(branch, [])
            ]


class FakeRuns:
    """A dict-backed run store with compare-and-set on versions."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.runs: dict[str, RunRecord] = {}
        self.phases: dict[tuple[str, str], dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.cas_lost = 0

    def get(self, run_id: str) -> RunRecord | None:
        return self.runs.get(run_id)

    def active_for_issue(self, forge: str, repo: str, issue_number: int) -> RunRecord | None:
        for r in self.runs.values():
            if (r.forge, r.repo, r.issue_number) == (forge, repo, issue_number) and not r.terminal:
                return r
        return None

    def latest_for_issue(self, forge, repo, issue_number):
        found = [
            r
            for r in self.runs.values()
            if (r.forge, r.repo, r.issue_number) == (forge, repo, issue_number)
        ]
        return max(found, key=lambda r: r.started_at) if found else None

    def for_mr(self, forge, repo, mr_number):
        found = [
            r
            for r in self.runs.values()
            if (r.forge, r.repo, r.mr_number) == (forge, repo, mr_number)
        ]
        return max(found, key=lambda r: r.started_at) if found else None

    def create(self, *, run_id, forge, repo, issue_number, state, phase, branch, data):
        with self.lock:
            if run_id in self.runs or (
                state not in TERMINAL_STATES and self.active_for_issue(forge, repo, issue_number)
            ):
                raise Conflict("run exists")
            now = self.clock()
            record = RunRecord(
                id=run_id,
                forge=forge,
                repo=repo,
                issue_number=issue_number,
                state=state,
                phase=phase,
                branch=branch,
                data=data,
                started_at=now,
                updated_at=now,
            )
            self.runs[run_id] = record
            return record

    def compare_and_set(self, run_id, expected_version, **changes):
        with self.lock:
            current = self.runs.get(run_id)
            if current is None or current.version != expected_version or current.terminal:
                self.cas_lost += 1
                return None
            update = {k: v for k, v in changes.items() if v is not None}
            update.update(version=current.version + 1, updated_at=self.clock())
            record = current.model_copy(update=update)
            self.runs[run_id] = record
            return record

    def record_phase(self, run_id, name, *, role, state, gate, mr_number=None):
        self.phases[(run_id, name)] = {"role": role, "state": state, "gate": gate}

    def add_artifact(self, run_id, phase, path, *, kind, commit_sha):
        return None

    def list_runs(self, *, forge, repo=None, states=None):
        found = [
            r
            for r in self.runs.values()
            if r.forge == forge
            and (repo is None or r.repo == repo)
            and (states is None or r.state in states)
        ]
        return sorted(found, key=lambda r: r.started_at, reverse=True)


class FakeConfig:
    """Returns a fixed config, or raises the error it was given."""

    def __init__(self, config: AgentForgeConfig | None = None) -> None:
        self.config = config or AgentForgeConfig()
        self.error: RepoConfigError | None = None

    def load(self, repo: str, default_branch: str | None = None) -> AgentForgeConfig:
        if self.error is not None:
            raise self.error
        return self.config


class FakeContext:
    """Keeps indexed discussions in a list."""

    def __init__(self) -> None:
        self.indexed: list[dict[str, Any]] = []

    def add_discussion(self, repo, **kwargs) -> None:
        self.indexed.append({"repo": repo, **kwargs})


class FakeFeedback:
    """An in-memory feedback store using the bot's own similarity (bot/feedback.py)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, str, str, str]] = []

    def add(self, repo, run_id, phase, role, text, kind) -> None:
        row = (repo, run_id, phase, role, text, kind)
        if not any(r[0] == repo and r[1] == run_id and r[4:] == row[4:] for r in self.records):
            self.records.append(row)

    def similar(self, repo, text):
        from bot.feedback import SIMILARITY_THRESHOLD, similarity, terms
        from handlers.services import FeedbackRecord

        out = []
        for r_repo, run_id, phase, role, r_text, kind in self.records:
            score = similarity(terms(text), terms(r_text))
            if r_repo == repo and score >= SIMILARITY_THRESHOLD:
                out.append(
                    FeedbackRecord(
                        repo=repo,
                        run_id=run_id,
                        phase=phase,
                        role=role,
                        kind=kind,
                        text=r_text,
                        score=score,
                    )
                )
        return sorted(out, key=lambda r: r.score, reverse=True)


DEFAULT_OUTPUTS = {
    "analyst": (
        "docs/requirements/issue-7.md",
        "# Requirements\n\n- AC-1: totals add up\n- AC-2: empty cart is zero\n",
    ),
    "architect": ("docs/design/issue-7.md", "# Design\n"),
    "developer": ("app/cart.py", "def total(xs):\n    return sum(xs)\n"),
    "qa": ("tests/test_cart.py", "def test_total():\n    assert True\n"),
    "devops": ("deploy/app.yaml", "replicas: 1\n"),
    "writer": ("docs/cart.md", "# Cart\n"),
}


@dataclass
class FakeRoles:
    """Scripted role runner: each role returns a completed result writing one file."""

    results: dict[str, list[RoleResult]] = field(default_factory=dict)
    tasks: list[RoleTask] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    progress_calls: int = 2

    def run(self, task: RoleTask, *, config, ref, progress=None) -> RoleResult:
        with self.lock:
            self.tasks.append(task)
            self.refs.append(ref)
            queued = self.results.get(task.role)
            result = queued.pop(0) if queued else None
        from agents.roles.contract import RoleProgress

        for step in range(self.progress_calls):
            if progress is not None:
                progress(RoleProgress(role=task.role, step=step + 1, kind="step", text="thinking"))
        if result is not None:
            return result
        path, content = DEFAULT_OUTPUTS.get(task.role, (f"{task.role}.md", "x\n"))
        covered = {"AC-1": ["tests/test_cart.py::test_total"]} if task.role == "qa" else {}
        return RoleResult(
            role=task.role,
            status="completed",
            changes=[FileChange(path=path, content=content + f"round {task.round}\n")],
            summary=f"{task.role} did the {task.phase} work.",
            confidence=0.9,
            covered=covered,
            usage=RoleUsage(calls=2, input_tokens=1000, output_tokens=200, cost_usd=0.01),
        )


@dataclass
class FakeIssueJobs:
    """The queue's view of each issue's work: issues whose work is in flight."""

    busy: set[int] = field(default_factory=set)
    asked: list[tuple[str, str, int]] = field(default_factory=list)

    def in_flight(self, forge: str, repo: str, issue: int) -> bool:
        self.asked.append((forge, repo, issue))
        return issue in self.busy


@dataclass
class World:
    """Everything one test needs: the fakes and the services built from them."""

    clock: Clock
    forge: FakeForge
    sink: FakeSink
    runs: FakeRuns
    roles: FakeRoles
    config: FakeConfig
    heartbeats: list[int] = field(default_factory=list)
    context: FakeContext = field(default_factory=FakeContext)
    feedback: FakeFeedback = field(default_factory=FakeFeedback)
    jobs: FakeIssueJobs = field(default_factory=FakeIssueJobs)

    def services(self) -> Services:
        return Services(
            forge=self.forge,
            runs=self.runs,
            repo=FakeReader(self.forge),
            config=self.config,
            roles=self.roles,
            context=self.context,
            actions=self.sink,
            clock=self.clock,
            heartbeat=lambda: self.heartbeats.append(1),
            bot_login=BOT,
            feedback=self.feedback,
            jobs=self.jobs,
        )


def world(config: AgentForgeConfig | None = None, *, forge: str = "github") -> World:
    """A fresh world: issue #7 by ``erin`` (triage: may start runs), approver ``alice``
    (write), ``mallory`` (read)."""
    clock = Clock()
    f = FakeForge(clock, forge=forge)
    f.add_issue(7, "Cart totals", "As a shopper I want totals.", "erin")
    f.permissions.update(
        {
            "alice": Permission.WRITE,
            "bob": Permission.MAINTAIN,
            "erin": Permission.TRIAGE,
            "mallory": Permission.READ,
        }
    )
    return World(clock, f, FakeSink(f), FakeRuns(clock), FakeRoles(), FakeConfig(config))
