"""Verdict ordering: skip < allow < needs_approval < deny, worst wins."""

from __future__ import annotations

import pytest

from bot.actions import PostComment
from policies.verdict import Decision, Verdict, allow_all, combine, worst

SKIP, ALLOW = Verdict.skip("n/a"), Verdict.allow("ok")
ASK, DENY = Verdict.needs_approval("ask"), Verdict.deny("no")


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([], Decision.ALLOW),
        ([SKIP], Decision.SKIP),
        ([SKIP, ALLOW], Decision.ALLOW),
        ([ALLOW, ASK, SKIP], Decision.NEEDS_APPROVAL),
        ([DENY, ASK, ALLOW], Decision.DENY),
        ([ASK, DENY], Decision.DENY),
    ],
)
def test_worst_wins(verdicts, expected) -> None:
    assert worst(verdicts).decision == expected


def test_first_of_equals_wins_and_keeps_its_reason() -> None:
    assert worst([Verdict.deny("a", "p1"), Verdict.deny("b", "p2")]).policy == "p1"


@pytest.mark.parametrize(
    ("verdict", "permits"), [(SKIP, True), (ALLOW, True), (ASK, False), (DENY, False)]
)
def test_permits(verdict, permits) -> None:
    assert verdict.permits is permits


def test_combine_asks_every_judge() -> None:
    action = PostComment(repo="a/b", number=1, body="x")
    asked = []

    def j1(a):
        asked.append("j1")
        return ALLOW

    def j2(a):
        asked.append("j2")
        return DENY

    assert combine(j1, j2)(action) == DENY
    assert asked == ["j1", "j2"]
    assert allow_all(action).permits
    assert combine()(action).decision == Decision.ALLOW
