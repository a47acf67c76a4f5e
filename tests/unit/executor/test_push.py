"""PushCommit through the git workspace into a local forge's bare repository."""

from __future__ import annotations

import pygit2
import pytest

from bot.actions import FileChange, OpenMR, PushCommit
from bot.errors import GitError, UnsafePath
from bot.executor import Executor, OutcomeStatus
from bot.workspace import Identity, Workspace
from policies.verdict import Verdict
from tests.unit.executor.support import REPO


def push(changes: dict[str, str | None], *, branch: str = "agentforge/issue-1", **kw) -> PushCommit:
    return PushCommit(
        repo=REPO,
        branch=branch,
        base=kw.pop("base", "main"),
        message=kw.pop("message", "Add requirements"),
        changes=[FileChange(path=p, content=c) for p, c in changes.items()],
        trailers=kw.pop("trailers", {"Agentforge-Run": "run-1", "Agentforge-Role": "analyst"}),
    )


def branch_log(local, branch: str) -> list[pygit2.Commit]:
    bare = pygit2.Repository(str(local.bare_path(REPO)))
    ref = bare.references.get(f"refs/heads/{branch}")
    if ref is None:
        return []
    return list(bare.walk(ref.target))


def read(local, branch: str, path: str) -> str | None:
    bare = pygit2.Repository(str(local.bare_path(REPO)))
    tree = bare.references[f"refs/heads/{branch}"].peel(pygit2.Commit).tree
    try:
        return bare[tree[path].id].data.decode()
    except KeyError:
        return None


def test_push_creates_branch_with_trailers_then_skips(local, tmp_path) -> None:
    executor = Executor(local, clones_dir=tmp_path / "clones")
    action = push({"docs/req.md": "# Requirements\n"})
    first = executor.apply([action])[0]
    assert first.status == OutcomeStatus.APPLIED, first.detail
    commits = branch_log(local, "agentforge/issue-1")
    assert len(commits) == 2  # main's commit + ours
    assert str(commits[0].id) == first.result["sha"]
    assert "Agentforge-Run: run-1" in commits[0].message
    assert read(local, "agentforge/issue-1", "docs/req.md") == "# Requirements\n"

    again = Executor(local, clones_dir=tmp_path / "clones").apply([action])[0]
    assert again.status == OutcomeStatus.SKIPPED
    assert len(branch_log(local, "agentforge/issue-1")) == 2


def test_second_push_builds_on_the_branch_and_deletes(local, tmp_path) -> None:
    executor = Executor(local, clones_dir=tmp_path / "clones")
    executor.apply([push({"a.md": "a\n", "b.md": "b\n"})])
    # A fresh clone cache must still build on the forge's branch, not on main.
    later = Executor(local, clones_dir=tmp_path / "other-clones")
    outcome = later.apply([push({"b.md": None, "c.md": "c\n"}, message="Revise")])[0]
    assert outcome.status == OutcomeStatus.APPLIED
    assert len(branch_log(local, "agentforge/issue-1")) == 3
    assert read(local, "agentforge/issue-1", "a.md") == "a\n"
    assert read(local, "agentforge/issue-1", "b.md") is None
    assert read(local, "agentforge/issue-1", "c.md") == "c\n"
    assert read(local, "main", "a.md") is None


def test_stale_cached_branch_is_reset_to_the_forge(local, tmp_path) -> None:
    clones = tmp_path / "clones"
    Executor(local, clones_dir=clones).apply([push({"a.md": "1\n"})])
    # Someone else pushes to the branch; the cached clone's local branch is now behind.
    other = Workspace.open(local.clone_url(REPO), tmp_path / "human")
    other.checkout("agentforge/issue-1")
    other.write_file("human.md", "mine\n")
    other.commit("Human edit", author=Identity("Human", "h@example.test"))
    other.push("agentforge/issue-1")
    outcome = Executor(local, clones_dir=clones).apply([push({"a.md": "2\n"})])[0]
    assert outcome.status == OutcomeStatus.APPLIED, outcome.detail
    assert read(local, "agentforge/issue-1", "human.md") == "mine\n"
    assert read(local, "agentforge/issue-1", "a.md") == "2\n"


@pytest.mark.parametrize("bad_path", ["../escape.md", ".git/config", "/etc/passwd"])
def test_unsafe_path_fails_and_blocks_the_mr(local, tmp_path, bad_path) -> None:
    actions = [
        push({bad_path: "x"}),
        OpenMR(repo=REPO, head="agentforge/issue-1", base="main", title="Requirements"),
        OpenMR(repo=REPO, head="other", base="main", title="Unrelated"),
    ]
    outcomes = Executor(local, clones_dir=tmp_path / "clones").apply(actions)
    assert outcomes[0].status == OutcomeStatus.FAILED
    assert isinstance(outcomes[0].error, UnsafePath)
    assert outcomes[1].status == OutcomeStatus.BLOCKED
    # Not dependent on the push: tried (and fails on the forge: no such branch).
    assert outcomes[2].status == OutcomeStatus.FAILED
    assert branch_log(local, "agentforge/issue-1") == []
    assert local.list_mrs(REPO, state="all") == []


def test_unknown_base_is_a_git_error(local, tmp_path) -> None:
    outcome = Executor(local, clones_dir=tmp_path / "c").apply([push({"a": "a"}, base="nope")])[0]
    assert isinstance(outcome.error, GitError)


def test_denied_push_blocks_its_mr(local, tmp_path) -> None:
    def judge(action):
        return Verdict.deny("protected path") if action.type == "push_commit" else Verdict.allow()

    actions = [
        push({"a.md": "a"}),
        OpenMR(repo=REPO, head="agentforge/issue-1", base="main", title="t"),
    ]
    outcomes = Executor(local, judge=judge, clones_dir=tmp_path / "c").apply(actions)
    assert [o.status for o in outcomes] == [OutcomeStatus.DENIED, OutcomeStatus.BLOCKED]
    assert branch_log(local, "agentforge/issue-1") == []


def test_push_then_mr_twice_gives_one_mr(local, tmp_path) -> None:
    actions = [
        push({"docs/req.md": "# R\n"}),
        OpenMR(repo=REPO, head="agentforge/issue-1", base="main", title="Requirements"),
    ]
    first = Executor(local, clones_dir=tmp_path / "c").apply(actions)
    second = Executor(local, clones_dir=tmp_path / "c").apply(actions)
    assert [o.status for o in first] == [OutcomeStatus.APPLIED, OutcomeStatus.APPLIED]
    assert [o.status for o in second] == [OutcomeStatus.SKIPPED, OutcomeStatus.SKIPPED]
    mrs = local.list_mrs(REPO, state="all")
    assert len(mrs) == 1
    assert mrs[0].draft is True
    assert second[1].result["number"] == mrs[0].number


def test_custom_workspace_factory_is_used(local, tmp_path) -> None:
    opened = []

    def factory(repo: str) -> Workspace:
        opened.append(repo)
        return Workspace.open(local.clone_url(repo), tmp_path / "mine")

    outcome = Executor(local, workspace_factory=factory).apply([push({"x.md": "x"})])[0]
    assert outcome.status == OutcomeStatus.APPLIED
    assert opened == [REPO]
    assert (tmp_path / "mine" / "x.md").read_text() == "x"
