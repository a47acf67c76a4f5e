"""Forge contract: line comments on MRs, replies in their threads, and check logs.

Written against the harness only, so it runs unchanged on every forge in
``harnesses.py``.
"""

from __future__ import annotations

import pytest

from bot.errors import NotFound
from bot.forge import CHECK_LOG_CHARS, Permission


def _mr(harness):
    sha = harness.push_branch("feature/t", {"app.py": "x = 1\ny = 2\n"})
    mr = harness.forge.open_mr(harness.repo, head="feature/t", base="main", title="T")
    return mr, sha


def test_line_comments_are_listed_with_path_line_author_and_thread(harness):
    mr, _ = _mr(harness)
    harness.grant("rita", Permission.WRITE)
    rid = harness.review_with_comments(
        mr.number, "rita", [("app.py", 1, "name it total"), ("app.py", 2, "and test it")]
    )
    comments = harness.forge.list_review_comments(harness.repo, mr.number)
    assert [(c.path, c.line, c.body) for c in comments] == [
        ("app.py", 1, "name it total"),
        ("app.py", 2, "and test it"),
    ]
    assert {c.author.login for c in comments} == {"rita"}
    assert all(c.in_reply_to is None for c in comments)
    assert len({c.thread_id for c in comments}) == 2
    if rid is not None:  # GitHub and the local forge keep the review; GitLab does not
        assert all(c.review_id == rid for c in comments)
        assert len(harness.forge.list_review_comments(harness.repo, mr.number, rid)) == 2


def test_a_reply_lands_in_the_thread_of_the_comment(harness):
    mr, _ = _mr(harness)
    harness.grant("rita", Permission.WRITE)
    harness.review_with_comments(mr.number, "rita", [("app.py", 1, "name it total")])
    (first,) = harness.forge.list_review_comments(harness.repo, mr.number)
    made = harness.forge.reply_to_review_comment(
        harness.repo, mr.number, first.id, "Renamed in abc1234", thread_id=first.thread_id
    )
    assert made.body == "Renamed in abc1234" and made.author.login == harness.bot_login
    comments = harness.forge.list_review_comments(harness.repo, mr.number)
    reply = next(c for c in comments if c.id == made.id)
    assert reply.thread_id == first.thread_id and reply.in_reply_to == first.id
    assert (reply.path, reply.line) == ("app.py", 1)
    # Without the thread id, the adapter finds the thread itself.
    again = harness.forge.reply_to_review_comment(harness.repo, mr.number, first.id, "And tested")
    listed = {c.id: c for c in harness.forge.list_review_comments(harness.repo, mr.number)}
    assert listed[again.id].thread_id == first.thread_id


def test_replying_to_an_unknown_comment_is_not_found(harness):
    mr, _ = _mr(harness)
    with pytest.raises(NotFound):
        harness.forge.reply_to_review_comment(harness.repo, mr.number, "999999", "hello")


def test_a_failing_checks_log_is_read_tail_first(harness):
    _, sha = _mr(harness)
    harness.fail_check(sha, "unit", "collecting...\nFAILED test_app.py::test_total\n")
    log = harness.forge.get_check_log(harness.repo, sha, "unit")
    assert log is not None and "FAILED test_app.py::test_total" in log
    assert harness.forge.get_check_log(harness.repo, sha, "no-such-check") is None


def test_a_long_log_keeps_its_end(harness):
    _, sha = _mr(harness)
    harness.fail_check(sha, "lint", "x" * (CHECK_LOG_CHARS * 2) + "\nTHE ERROR AT THE END\n")
    log = harness.forge.get_check_log(harness.repo, sha, "lint")
    assert log.endswith("THE ERROR AT THE END\n")
    assert len(log) <= CHECK_LOG_CHARS + 100
