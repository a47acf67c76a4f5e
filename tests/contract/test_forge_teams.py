"""Forge contract: team membership, for CODEOWNERS team owners (``@acme/backend``).

Written against the harness only, so it runs unchanged on every forge in
``harnesses.py``.
"""

from __future__ import annotations

import pytest

from bot.errors import NotFound

TEAM = "acme/backend"


def test_member_and_non_member(harness):
    harness.set_team(TEAM, ["alice", "bob"])
    harness.grant("carol", 30)
    f = harness.forge
    assert f.is_team_member(harness.repo, TEAM, "alice") is True
    assert f.is_team_member(harness.repo, TEAM, "bob") is True
    assert f.is_team_member(harness.repo, TEAM, "carol") is False


def test_unknown_account_is_no_member(harness):
    harness.set_team(TEAM, ["alice"])
    assert harness.forge.is_team_member(harness.repo, TEAM, "nobody-at-all") is False


def test_pending_invitation_is_no_member(harness):
    harness.set_team(TEAM, ["alice"], pending=["dave"])
    assert harness.forge.is_team_member(harness.repo, TEAM, "dave") is False
    assert harness.forge.is_team_member(harness.repo, TEAM, "alice") is True


def test_unknown_team_is_not_found(harness):
    harness.set_team(TEAM, ["alice"])
    with pytest.raises(NotFound):
        harness.forge.is_team_member(harness.repo, "acme/no-such-team", "alice")
