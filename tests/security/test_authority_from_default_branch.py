"""An MR that edits the rules it is judged by gets nothing from its edit.

- CODEOWNERS edited on the run's branch to make the approver an owner of everything:
  the owners still come from the default branch, so the real owner must approve.
- ``.agentforge/config.yaml`` edited on a branch to list its author in
  ``approvers.users`` (and to drop ``approvers.required``): the config the bot loads
  is the default branch's, so the author is no approver and nothing moved.
"""

from __future__ import annotations

from pathlib import Path

from bot.forge import Permission
from bot.repoconfig import AgentForgeConfig, Phase
from bot.repoconfig.schema import WorkflowConfig
from bot.services import ConfigCache, ForgeConfigSource
from tests.contract.harnesses import LocalHarness
from tests.unit.workflow.support import bot

BUILD = Phase(name="build", role="developer", gate="human")


def test_codeowners_edited_on_the_mr_branch_changes_no_owner():
    b = bot(AgentForgeConfig(workflow=WorkflowConfig(phases=[BUILD])))
    b.w.forge.base_tree[".github/CODEOWNERS"] = "app/ @bob\n"
    b.label()
    # alice (write, no owner) pushes a CODEOWNERS that makes her the owner of all.
    b.w.forge.human_push("agentforge/issue-7", ".github/CODEOWNERS", "* @alice\n", "alice")
    b.human_push()  # the push event: the gate waits at the new head
    b.approve("alice")
    phase = b.run().phase
    assert phase is not None and phase.name == "build" and phase.state == "needs_approval"
    assert any("code owners of `app/`" in p and "@bob" in p for p in phase.pending)
    b.approve("bob")
    assert b.run().outcome == "succeeded"


def test_config_edited_on_a_branch_adds_no_approver(tmp_path: Path):
    harness = LocalHarness(tmp_path)
    try:
        harness.push_branch(
            "main", {".agentforge/config.yaml": "approvers:\n  required: 2\n"}, base="main"
        )
        harness.grant("mallory", Permission.READ)
        harness.push_branch(
            "agentforge/issue-1",
            {".agentforge/config.yaml": "approvers:\n  users: [mallory]\n  required: 1\n"},
        )
        loaded = ForgeConfigSource(harness.forge, ConfigCache()).load(harness.repo, "main")
        assert loaded.config.approvers.users == []
        assert loaded.config.approvers.required == 2
        # The branch really holds the edit: only where it is read from differs.
        edited = harness.forge.get_file(
            harness.repo, ".agentforge/config.yaml", ref="agentforge/issue-1"
        )
        assert "mallory" in edited
    finally:
        harness.close()
