"""The example workflow users copy and README's Deploy snippets match what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.jobs.ci_dispatch import RUN_NAME_PREFIX
from bot.repoconfig import load_files
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / "action" / "workflows" / "agentforge.yml"
EVENTS = {
    "issues",
    "issue_comment",
    "pull_request_review",
    "pull_request_review_comment",
    "check_suite",
    "workflow_dispatch",
}


def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as true
    return data


def deploy_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Deploy\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.DOTALL)


def is_subset(small, big) -> bool:
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            k in big and is_subset(v, big[k]) for k, v in small.items()
        )
    return small == big


def test_the_example_workflow_listens_to_the_events_with_least_permissions() -> None:
    flow = workflow()
    assert set(flow["on"]) == EVENTS
    assert flow["permissions"] == {
        "contents": "write",
        "issues": "write",
        "pull-requests": "write",
        "checks": "read",
    }
    group = flow["concurrency"]["group"]
    assert "github.event.issue.number" in group and "github.event.pull_request.number" in group
    assert flow["concurrency"]["cancel-in-progress"] is False


def test_the_example_workflow_takes_what_the_server_dispatches() -> None:
    flow = workflow()
    from tests.fakes.github_actions import GitHubActionsRoutes

    declared = set(flow["on"]["workflow_dispatch"]["inputs"])
    default = GitHubActionsRoutes.add_workflow.__kwdefaults__["inputs"]
    assert declared == set(default) == {"event", "signature", "dispatch_id"}
    # The server finds its run by name: "agentforge <dispatch id>".
    assert f"format('{RUN_NAME_PREFIX}{{0}}', inputs.dispatch_id)" in flow["run-name"]


def test_the_example_workflow_pins_the_action_and_caches_per_repository() -> None:
    action = yaml.safe_load((ROOT / "action" / "action.yml").read_text())
    steps = workflow()["jobs"]["agentforge"]["steps"]
    (cache,) = [s for s in steps if s["uses"].startswith("actions/cache@")]
    assert "github.repository" in cache["with"]["key"]
    assert cache["with"]["restore-keys"].startswith("agentforge-${{ github.repository }}-")
    (ours,) = [s for s in steps if "/agentforge/action@" in s["uses"]]
    assert ours["uses"].endswith("@<full-commit-sha>")
    assert set(ours["with"]) <= set(action["inputs"])
    assert ours["with"]["data-dir"] == cache["with"]["path"]


def test_readme_deploy_snippets_are_the_shipped_ones() -> None:
    blocks = deploy_blocks()
    kinds = [kind for kind, _ in blocks]
    assert kinds == ["bash", "yaml", "yaml", "yaml"]
    (_, serve), (_, github), (_, gitlab), (_, dispatch) = blocks
    # Server: the options exist, and the lanes come from those settings.
    help_text = CliRunner().invoke(cli, ["serve", "--help"]).output
    for option in re.findall(r"(--[a-z-]+)", serve):
        assert option in help_text
    lanes = load_settings(workers_heavy=4, workers_light=2).lanes()
    assert lanes == {"light": 2, "heavy": 4}
    # GitHub: the README's core is part of the example workflow.
    shown = yaml.safe_load(github)
    shown["on"] = shown.pop(True)
    assert is_subset(shown, workflow())
    # GitLab: extends the template's job, installs a pinned copy.
    job = yaml.safe_load(gitlab)["agentforge"]
    template = yaml.safe_load((ROOT / "deploy" / "gitlab-ci.yml").read_text())
    assert job["extends"] in template
    assert re.search(r"@v\d", job["variables"]["AGENTFORGE_INSTALL"])
    # CI dispatch: a valid, strict repository config.
    config = load_files({".agentforge/config.yaml": dispatch}).config.dispatch
    assert (config.mode, config.workflow, config.ref) == ("ci", "agentforge.yml", "main")
