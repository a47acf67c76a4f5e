"""Forge-specific sides of ``is_team_member`` the contract suite cannot state for all:
GitLab's inherited group membership, GitHub's refusal of a malformed team name."""

from __future__ import annotations

import pytest

from bot.errors import InvalidRequest
from tests.contract.harness_github import GitHubHarness
from tests.contract.harness_gitlab import GitLabHarness


def test_gitlab_members_of_a_parent_group_are_members_of_its_subgroups(tmp_path):
    harness = GitLabHarness(tmp_path)
    try:
        harness.set_team("acme", ["alice"])
        harness.set_team("acme/backend", ["bob"])
        forge = harness.forge
        assert forge.is_team_member(harness.repo, "acme/backend", "alice")  # inherited
        assert forge.is_team_member(harness.repo, "acme/backend", "bob")
        assert not forge.is_team_member(harness.repo, "acme", "bob")  # not upwards
    finally:
        harness.close()


def test_github_team_must_be_org_slash_slug(tmp_path):
    harness = GitHubHarness(tmp_path)
    try:
        before = len(harness.fake.calls)
        for bad in ("justateam", "acme/", "acme/a/b"):
            with pytest.raises(InvalidRequest):
                harness.forge.is_team_member(harness.repo, bad, "alice")
        assert len(harness.fake.calls) == before  # refused before anything was sent
    finally:
        harness.close()
