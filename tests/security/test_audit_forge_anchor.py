"""Deleting the newest audit rows is found on the forge, even with the anchor file gone.

Every commit the bot pushes carries ``Agentforge-Audit: <seq> <hash>`` (the audit head
at the push); ``agentforge audit verify --forge-repo`` checks it against the log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.actions import FileChange, PostComment, PushCommit
from bot.audit_forge import AUDIT_TRAILER, ForgeAnchor, check, parse_trailer, read_anchor
from bot.cli import main
from bot.executor import Executor, OutcomeStatus
from bot.forge import Permission
from bot.forges.local import LocalForge
from bot.store.audit import ANCHOR_FILE, AuditLog
from bot.store.db import Database
from bot.workspace import Workspace

REPO = "acme/app"
BOT = "agentforge-bot"


@pytest.fixture
def local(tmp_path: Path) -> LocalForge:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# app\n", encoding="utf-8")
    owner = LocalForge(tmp_path / "forge", "owner")
    owner.init_project(REPO, seed)
    owner.grant(REPO, BOT, Permission.WRITE)
    return LocalForge(tmp_path / "forge", BOT, is_bot=True)


def push(executor: Executor, n: int) -> str:
    (outcome,) = executor.apply(
        [
            PushCommit(
                repo=REPO,
                branch="agentforge/issue-7",
                base="main",
                message=f"change {n}",
                changes=[FileChange(path=f"app/f{n}.py", content=f"x = {n}\n")],
                trailers={"Agentforge-Phase": "build"},
            )
        ]
    )
    assert outcome.status == OutcomeStatus.APPLIED, outcome.detail
    return outcome.result["sha"]


@pytest.fixture
def pushed(tmp_path, local):
    """Three pushes and some comments audited in a data directory; the log's rows."""
    data = tmp_path / "data"
    with Database.open(data) as db:
        executor = Executor(
            local, audit=AuditLog(db), clones_dir=tmp_path / "clones", bot_login=BOT
        )
        number = local.create_issue(REPO, "x", "y").number
        for n in range(3):
            executor.apply([PostComment(repo=REPO, number=number, body=f"note {n}")])
            push(executor, n)
        rows = AuditLog(db).entries(limit=1000)
    return data, rows


def verify(capsys, data: Path, local: LocalForge, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setenv("AGENTFORGE_LOCAL_DIR", str(local.directory))
    code = main(
        ["audit", "verify", "--data-dir", str(data), "--forge", "local", "--forge-repo", REPO]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_every_push_carries_the_audit_head_at_that_moment(tmp_path, local, pushed):
    _data, rows = pushed
    ws = Workspace.open(local.clone_url(REPO), tmp_path / "check")
    commits = ws.log("refs/remotes/origin/agentforge/issue-7", limit=3)
    anchors = [parse_trailer(c.trailer(AUDIT_TRAILER)) for c in commits]
    by_seq = {r.seq: r.hash for r in rows}
    assert all(a is not None and by_seq[a[0]] == a[1] for a in anchors)
    # Newest commit first: each names a later row than the one before it.
    assert [a[0] for a in anchors] == sorted((a[0] for a in anchors), reverse=True)
    assert commits[0].trailer("Agentforge-Phase") == "build"  # the action's trailers kept


def test_an_intact_log_verifies_against_the_forge(capsys, local, pushed, monkeypatch):
    data, _rows = pushed
    code, out, err = verify(capsys, data, local, monkeypatch)
    assert code == 0, err
    assert "forge anchor ok" in out


def test_deleting_the_newest_rows_and_the_anchor_file_is_found_on_the_forge(
    capsys, local, pushed, monkeypatch
):
    data, _rows = pushed
    anchored = read_anchor(local.clone_url(REPO), REPO)
    assert anchored is not None
    with Database.open(data) as db:
        db.execute("DELETE FROM audit_log WHERE seq >= ?", [anchored.seq - 1])
    (data / ANCHOR_FILE).unlink()  # the attacker rewrote the host-side anchor too
    code, _out, err = verify(capsys, data, local, monkeypatch)
    assert code == 1
    assert "truncated" in err and f"row {anchored.seq}" in err


def test_a_rewritten_anchored_row_is_a_mismatch(local, pushed):
    data, _rows = pushed
    anchored = read_anchor(local.clone_url(REPO), REPO)
    forged = ForgeAnchor(REPO, anchored.seq, "f" * 64, anchored.commit, anchored.branch)
    with Database.open_readonly(data) as db:
        result = check(AuditLog(db, anchor=None), forged, forge="local", repo=REPO)
    assert not result.ok and result.reason == "anchor_mismatch"


def test_pushes_without_any_anchor_on_the_forge_are_reported(local, pushed):
    data, _rows = pushed
    with Database.open_readonly(data) as db:
        result = check(AuditLog(db, anchor=None), None, forge="local", repo=REPO)
    assert not result.ok and result.reason == "anchor_missing"
    with Database.open_readonly(data) as db:
        other = check(AuditLog(db, anchor=None), None, forge="local", repo="acme/other")
    assert other.ok  # the bot never pushed there: nothing to anchor


@pytest.mark.parametrize(
    "value", [None, "", "12", "x " + "a" * 64, "12 " + "a" * 63, "12 " + "A" * 64]
)
def test_malformed_trailers_are_ignored(value):
    assert parse_trailer(value) is None
