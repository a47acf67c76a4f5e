"""Oversized outgoing bodies: cut under the forge's limit, hidden markers kept whole."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.actions import PostComment, UpdateIssue
from bot.comment_size import GITHUB_LIMIT, GITLAB_LIMIT, SizeLimit, fit, limit_for
from bot.errors import InvalidRequest
from bot.executor import Executor, OutcomeStatus
from bot.forge import Permission, markers_in
from bot.forges.local import LocalForge
from handlers.workflow.state import RunData, decode_marker, encode_marker
from tests.unit.executor.support import BOT, REPO


@pytest.fixture
def local(tmp_path: Path) -> LocalForge:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# app\n", encoding="utf-8")
    owner = LocalForge(tmp_path / "forge", "owner")
    owner.init_project(REPO, seed)
    owner.grant(REPO, BOT, Permission.WRITE)
    return LocalForge(tmp_path / "forge", BOT, is_bot=True)


def test_the_forges_documented_limits():
    assert GITHUB_LIMIT.chars == 65_536
    assert GITLAB_LIMIT.chars == 1_000_000
    assert GITLAB_LIMIT.bytes == 1_048_576
    assert limit_for("github") is GITHUB_LIMIT
    assert limit_for("gitlab") is GITLAB_LIMIT
    assert limit_for("something-new") is GITHUB_LIMIT  # unknown: the strictest


def test_a_body_that_fits_is_unchanged():
    body = "short\n\n<!-- agentforge:status.r1 -->"
    assert fit(body, GITHUB_LIMIT) == body
    exact = "x" * GITHUB_LIMIT.chars
    assert fit(exact, GITHUB_LIMIT) == exact


@pytest.mark.parametrize(
    "limit",
    [SizeLimit(chars=2_000), GITHUB_LIMIT, SizeLimit(chars=5_000, bytes=6_000)],
    ids=["small", "github", "bytes"],
)
@pytest.mark.parametrize("filler", ["a", "é", "🌈"], ids=["ascii", "latin", "astral"])
def test_a_long_body_is_cut_with_a_note_and_every_marker_survives(limit, filler):
    data = RunData(
        run_id="r-1",
        forge="local",
        repo=REPO,
        issue=7,
        branch="agentforge/issue-7",
        base="main",
        phases=[],
        started_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    state = encode_marker(data)
    body = (
        "## Status\n" + filler * (limit.chars * 3) + f"\n\n{state}\n<!-- agentforge:status.r-1 -->"
    )
    out = fit(body, limit)
    assert limit.fits(out)
    assert "cut to fit the forge's size limit" in out
    assert out.startswith("## Status\n")
    assert "status.r-1" in markers_in(out)
    assert state in out  # the state marker whole, so the run can be rebuilt from it
    assert decode_marker(out).run_id == "r-1"


def test_the_cut_never_leaves_an_open_html_comment_or_code_fence():
    limit = SizeLimit(chars=1_000)
    body = "intro\n```text\n" + "log line\n" * 50 + "<!-- a person's note " + "z" * 2_000
    out = fit(body + "\n<!-- agentforge:k -->", limit)
    visible = out.split("> ✂️")[0]
    assert visible.count("```") % 2 == 0
    assert visible.rfind("<!--") < visible.rfind("-->") or "<!--" not in visible
    assert "k" in markers_in(out)


def test_markers_that_alone_exceed_the_limit_are_refused():
    body = "text " + "<!-- agentforge:" + "k" * 3_000 + " -->"
    with pytest.raises(InvalidRequest):
        fit(body, SizeLimit(chars=1_000))


def test_the_executor_posts_edits_and_opens_within_the_limit(local):
    executor = Executor(local, bot_login=local.user)
    number = local.create_issue(REPO, "big", "body").number
    huge = "x" * 200_000
    (first,) = executor.apply(
        [PostComment(repo=REPO, number=number, body=huge, marker_key="status.r9")]
    )
    assert first.status == OutcomeStatus.APPLIED
    # The same oversized body again: the cut is stable, so nothing is edited.
    (again,) = executor.apply(
        [PostComment(repo=REPO, number=number, body=huge, marker_key="status.r9")]
    )
    assert again.status == OutcomeStatus.SKIPPED
    (posted,) = [c for c in local.list_comments(REPO, number) if "status.r9" in markers_in(c.body)]
    assert GITHUB_LIMIT.fits(posted.body)
    (updated,) = executor.apply([UpdateIssue(repo=REPO, number=number, body=huge)])
    assert updated.status == OutcomeStatus.APPLIED
    assert GITHUB_LIMIT.fits(local.get_issue(REPO, number).body)
    (same,) = executor.apply([UpdateIssue(repo=REPO, number=number, body=huge)])
    assert same.status == OutcomeStatus.SKIPPED
