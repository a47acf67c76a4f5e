"""The judge in context through the executor: facts from the forge and git, pure policies.

A local forge project seeded from a git repository (config on main, a symbolic link),
the production judge factory (:func:`bot.judging.judge_factory`), and the executor with
an audit log: what was refused is not on the forge, and the audit says why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest

from bot.actions import FileChange, OpenMR, PostComment, PushCommit
from bot.errors import Unavailable
from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef
from bot.executor import Executor, OutcomeStatus
from bot.forge import Permission
from bot.forges.local import LocalForge
from bot.judging import judge_factory
from bot.store.audit import AuditLog
from bot.store.db import Database
from tests.unit.executor.support import BOT, REPO, Flaky

GITHUB = "ghp_" + "R7nQ2sLk9VbX4mTz8WcJ5yHd3FpA6gUe1oKi"
CONFIG = (
    "policies:\n  deny_paths: ['src/legacy/**']\nci_writers: [devops]\n"
    "approvers:\n  infra: [ops-lead]\n"
)


def _seed(path: Path) -> Path:
    """A git repository with .agentforge/config.yaml and a symlink ``linked -> /etc``."""
    path.mkdir()
    repo = pygit2.init_repository(str(path), initial_head="main")
    (path / ".agentforge").mkdir()
    (path / ".agentforge" / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('hi')\n", encoding="utf-8")
    os.symlink("/etc", path / "linked")
    repo.index.add_all()
    repo.index.write()
    sig = pygit2.Signature("owner", "owner@localhost")
    repo.create_commit("HEAD", sig, sig, "seed", repo.index.write_tree(), [])
    return path


@pytest.fixture
def site(tmp_path: Path):
    owner = LocalForge(tmp_path / "forge", "owner")
    owner.init_project(REPO, _seed(tmp_path / "seed"))
    owner.grant(REPO, BOT, Permission.WRITE)
    owner.grant(REPO, "alice", Permission.WRITE)
    owner.grant(REPO, "reader", Permission.READ)
    bot = LocalForge(tmp_path / "forge", BOT, is_bot=True)
    issue = bot.create_issue(REPO, "Add a thing", "please")
    db = Database.open(tmp_path / "data")
    yield bot, issue.number, AuditLog(db), tmp_path / "clones"
    db.close()


def event(actor: str = "alice") -> Event:
    return Event(
        forge=ForgeKind.LOCAL,
        kind=EventKind.ISSUE_COMMENT,
        repo=RepoRef(full_name=REPO, default_branch="main"),
        actor=Actor(login=actor),
        number=1,
    )


def push(changes: dict[str, str | None], role: str = "developer") -> PushCommit:
    return PushCommit(
        repo=REPO,
        branch="agentforge/issue-1",
        base="main",
        message="work",
        changes=[FileChange(path=p, content=c) for p, c in changes.items()],
        trailers={"Agentforge-Role": role, "Agentforge-Phase": "build"},
    )


def executor(forge, audit, clones, actor: str = "alice") -> Executor:
    judge = judge_factory(clones, bot_login=BOT)(event(actor), forge)
    return Executor(forge, judge=judge, audit=audit, clones_dir=clones)


def branch_exists(forge: LocalForge) -> bool:
    bare = pygit2.Repository(str(forge.bare_path(REPO)))
    return bare.references.get("refs/heads/agentforge/issue-1") is not None


def test_allowed_push_lands_and_the_audit_names_the_policies(site) -> None:
    forge, _n, audit, clones = site
    [out] = executor(forge, audit, clones).apply([push({"src/new.py": "x = 1\n"})])
    assert out.status == OutcomeStatus.APPLIED, out.detail
    row = audit.entries()[-1]
    assert row.action == "push_commit.applied"
    assert row.detail["verdict"]["decision"] == "allow"
    assert "secret_scan" in row.detail["verdict"]["policy"]


def test_a_secret_blocks_the_push_and_is_never_recorded(site) -> None:
    forge, _n, audit, clones = site
    action = push({"src/conf.py": f'x = 1\nTOKEN = "{GITHUB}"\n'})
    [out] = executor(forge, audit, clones).apply([action])
    assert out.status == OutcomeStatus.DENIED
    assert "src/conf.py:2: GitHub Token" in out.detail
    assert not branch_exists(forge)
    row = audit.entries()[-1]
    assert row.action == "push_commit.denied"
    assert GITHUB not in row.model_dump_json()
    assert audit.verify().ok


def test_config_is_read_at_the_default_branch(site) -> None:
    forge, _n, audit, clones = site
    [out] = executor(forge, audit, clones).apply([push({"src/legacy/old.py": "x\n"})])
    assert out.status == OutcomeStatus.DENIED
    assert "deny_paths" in out.detail


def test_a_symlink_in_the_base_tree_is_refused(site) -> None:
    forge, _n, audit, clones = site
    [out] = executor(forge, audit, clones).apply([push({"linked/passwd": "root::0:0\n"})])
    assert out.status == OutcomeStatus.DENIED
    assert "symbolic link" in out.detail
    assert not branch_exists(forge)


def test_a_failed_permission_lookup_denies_code_changes_and_says_why(site) -> None:
    forge, n, audit, clones = site
    flaky = Flaky(forge, {"get_permission": Unavailable("the forge is down", forge="local")})
    outcomes = executor(flaky, audit, clones).apply(
        [push({"src/a.py": "x\n"}), PostComment(repo=REPO, number=n, body="I could not check")]
    )
    assert [o.status for o in outcomes] == [OutcomeStatus.DENIED, OutcomeStatus.APPLIED]
    assert "looking up the permission of alice" in outcomes[0].detail
    assert not branch_exists(forge)


def test_an_actor_below_the_minimum_cannot_make_the_bot_push(site) -> None:
    forge, _n, audit, clones = site
    [out] = executor(forge, audit, clones, actor="reader").apply([push({"src/a.py": "x\n"})])
    assert out.status == OutcomeStatus.DENIED
    assert "read permission" in out.detail


def test_deployment_changes_are_pending_and_block_their_mr(site) -> None:
    forge, _n, audit, clones = site
    outcomes = executor(forge, audit, clones).apply(
        [
            push({"deploy/compose.yaml": "services: {}\n"}, role="devops"),
            OpenMR(repo=REPO, head="agentforge/issue-1", base="main", title="Deploy"),
        ]
    )
    assert [o.status for o in outcomes] == [OutcomeStatus.PENDING, OutcomeStatus.BLOCKED]
    assert outcomes[0].verdict is not None
    assert "approvers.infra" in outcomes[0].detail
    assert [e.action for e in audit.entries()][-2:] == ["push_commit.pending", "open_mr.blocked"]
    assert not branch_exists(forge)


def test_the_bots_own_event_needs_no_permission_lookup(site) -> None:
    forge, _n, audit, clones = site
    flaky = Flaky(forge, {"get_permission": Unavailable("not a collaborator", forge="local")})
    [out] = executor(flaky, audit, clones, actor=BOT).apply([push({"src/b.py": "y = 2\n"})])
    assert out.status == OutcomeStatus.APPLIED, out.detail


def test_the_reconcile_sweep_pushes_as_the_bot_without_a_configured_login(site) -> None:
    # serve without AGENTFORGE_BOT_LOGIN: the sweep's actor is the synthetic sweeper,
    # which is no collaborator; its pushes are the bot's own (the server refuses sweeps).
    from bot.jobs.reconcile import SWEEPER

    forge, _n, audit, clones = site
    sweep = Event(
        forge=ForgeKind.LOCAL,
        kind=EventKind.RECONCILE,
        action="sweep",
        repo=RepoRef(full_name=REPO, default_branch="main"),
        actor=Actor(login=SWEEPER, is_bot=True),
    )
    flaky = Flaky(forge, {"get_permission": Unavailable("not a collaborator", forge="local")})
    judge = judge_factory(clones, bot_login=None)(sweep, flaky)
    [out] = Executor(flaky, judge=judge, audit=audit, clones_dir=clones).apply(
        [push({"src/c.py": "z = 3\n"})]
    )
    assert out.status == OutcomeStatus.APPLIED, out.detail
    # A person's event on the same path is still checked.
    [denied] = executor(forge, audit, clones, actor="reader").apply([push({"src/d.py": "w\n"})])
    assert denied.status == OutcomeStatus.DENIED
