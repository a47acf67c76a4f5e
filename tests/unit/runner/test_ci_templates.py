"""The GitHub Action and the GitLab CI template: valid YAML, wired to what `run` reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.runner import READ_ENV, ci_settings

ROOT = Path(__file__).resolve().parents[3]
ACTION = ROOT / "action" / "action.yml"
GITLAB = ROOT / "deploy" / "gitlab-ci.yml"
_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_VAR = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_action_is_a_composite_that_runs_agentforge() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert any(str(s.get("uses", "")).startswith("actions/setup-python@") for s in steps)
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert install["env"]["AGENTFORGE_SOURCE"] == "${{ github.action_path }}/.."
    runs = [s for s in steps if s.get("run", "").strip().startswith("agentforge run")]
    assert len(runs) == 1
    assert all(s.get("shell") == "bash" for s in steps if "run" in s)


def test_action_inputs_are_declared_used_and_mapped_to_read_env() -> None:
    action = load(ACTION)
    declared = set(action["inputs"])
    assert {"github-token", "anthropic-api-key", "openai-api-key", "data-dir"} <= declared
    text = ACTION.read_text(encoding="utf-8")
    used = {m.split(".", 1)[1] for m in _EXPR.findall(text) if m.startswith("inputs.")}
    assert used == declared
    run_step = next(s for s in action["runs"]["steps"] if s.get("run") == "agentforge run")
    assert set(run_step["env"]) <= READ_ENV
    mapped = {_EXPR.search(v).group(1).split(".", 1)[1] for v in run_step["env"].values()}
    assert mapped == declared - {"python-version"}


def test_action_never_interpolates_inputs_into_scripts() -> None:
    # Inputs reach shell code only through env, never as ${{ }} inside `run:`.
    for step in load(ACTION)["runs"]["steps"]:
        assert not _EXPR.search(step.get("run", ""))


def test_gitlab_template_rules_and_script() -> None:
    template = load(GITLAB)
    job = template[".agentforge"]
    assert set(template) == {".agentforge"}  # no global keys leak into the includer
    conditions = " ".join(rule["if"] for rule in job["rules"])
    for source in ("trigger", "merge_request_event", "push"):
        assert f'$CI_PIPELINE_SOURCE == "{source}"' in conditions
    assert job["script"][-1] == "agentforge run"


def test_gitlab_template_references_only_variables_run_reads_or_defines() -> None:
    job = load(GITLAB)[".agentforge"]
    own = set(job["variables"])
    text = " ".join([*(r["if"] for r in job["rules"]), *job["script"]])
    referenced = set(_VAR.findall(text))
    assert referenced
    assert referenced <= READ_ENV | own
    assert own - {"AGENTFORGE_INSTALL"} <= READ_ENV


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_data_dir_input_means_the_default(value, monkeypatch) -> None:
    monkeypatch.setenv("AGENTFORGE_DATA_DIR", value)
    assert ci_settings({"AGENTFORGE_DATA_DIR": value}).data_dir == Path(".agentforge-data")
