"""One story on the local forge: issue, comment, branch with trailers, MR, review, events."""

from __future__ import annotations

from pathlib import Path

from bot.events import EventKind, ReviewState
from bot.forge import Permission, ensure_comment
from bot.forges.local import LocalForge
from bot.workspace import TRAILER_PHASE, TRAILER_ROLE, TRAILER_RUN, Identity, Workspace, cache_path

REPO = "acme/shop"


def test_issue_to_reviewed_mr(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# shop\n")
    owner = LocalForge(tmp_path / "forge", "olivia")
    owner.init_project(REPO, seed)
    owner.grant(REPO, "agentforge-bot", Permission.WRITE)
    owner.grant(REPO, "rev", Permission.MAINTAIN)
    bot = LocalForge(tmp_path / "forge", "agentforge-bot", is_bot=True)

    issue = owner.create_issue(REPO, "Add a cart", "As a shopper I want a cart.", ["agentforge"])
    status = ensure_comment(bot, REPO, issue.number, "status", "Phase discovery: working")

    ws_path = cache_path(tmp_path / "clones", "local", REPO)
    ws = Workspace.open(bot.clone_url(REPO), ws_path)
    ws.create_branch("agentforge/1-cart", "main")
    ws.write_file("docs/requirements/cart.md", "# Cart\n\n- add items\n")
    trailers = {TRAILER_RUN: "run-1", TRAILER_PHASE: "discovery", TRAILER_ROLE: "analyst"}
    sha = ws.commit(
        "Requirements for the cart", author=Identity("AgentForge", "bot@x"), trailers=trailers
    )
    assert ws.commit("again", author=Identity("AgentForge", "bot@x")) is None
    ws.push()

    mr = bot.open_mr(
        REPO,
        head="agentforge/1-cart",
        base="main",
        title="Cart: requirements",
        body=f"Closes #{issue.number}",
        draft=True,
    )
    bot.mark_ready(REPO, mr.number)
    LocalForge(tmp_path / "forge", "rev").submit_review(REPO, mr.number, "approved", "LGTM")
    ensure_comment(bot, REPO, issue.number, "status", "Phase discovery: in review")

    # Read everything back.
    assert bot.get_mr(REPO, mr.number).head_sha == sha
    [review] = bot.list_reviews(REPO, mr.number)
    assert (review.author.login, review.state, review.commit_id) == ("rev", "approved", sha)
    [comment] = bot.list_comments(REPO, issue.number)
    assert comment.id == status.id and "in review" in comment.body

    fresh = Workspace.open(bot.clone_url(REPO), tmp_path / "reader")
    info = fresh.commit_info("origin/agentforge/1-cart")
    assert {k: info.trailer(k) for k in trailers} == trailers
    assert fresh.changed_files("origin/main", "origin/agentforge/1-cart") == [
        "docs/requirements/cart.md"
    ]

    events = [e for _, e in bot.events()]
    story = [(e.kind, e.action, e.actor.login) for e in events]
    assert story == [
        (EventKind.ISSUE, "opened", "olivia"),
        (EventKind.ISSUE_COMMENT, "created", "agentforge-bot"),
        (EventKind.PUSH, "created", "agentforge-bot"),
        (EventKind.MR, "opened", "agentforge-bot"),
        (EventKind.MR, "ready_for_review", "agentforge-bot"),
        (EventKind.MR_REVIEW, "submitted", "rev"),
        (EventKind.ISSUE_COMMENT, "edited", "agentforge-bot"),
    ]
    push, opened, review_event = events[2], events[3], events[5]
    assert (push.ref, push.head_sha) == ("refs/heads/agentforge/1-cart", sha)
    assert (opened.head_ref, opened.base_ref, opened.draft, opened.is_mr) == (
        "agentforge/1-cart",
        "main",
        True,
        True,
    )
    assert review_event.review_state == ReviewState.APPROVED
    assert events[0].labels == ["agentforge"] and events[1].actor.is_bot
