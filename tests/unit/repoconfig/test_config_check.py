"""`.agentforge/` validation: every problem reported with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli, main
from bot.errors import RepoConfigError
from bot.repoconfig import Gate, load_repo_config, read_config_files, validate_files
from tests.conftest import ROOT


def write(root: Path, rel: str, text: str | bytes) -> None:
    path = root / ".agentforge" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def issues_of(root: Path):
    _, issues = validate_files(read_config_files(root))
    return issues


def test_this_repository_config_is_valid():
    cfg = load_repo_config(ROOT)
    assert [p.name for p in cfg.workflow.phases] == [
        "discovery",
        "design",
        "build",
        "validate",
        "launch",
        "document",
    ]
    assert set(cfg.roles) == {"analyst", "architect", "developer", "qa", "devops", "writer"}
    assert cfg.roles["developer"].template.strip()


def test_missing_directory_means_defaults(tmp_path):
    cfg = load_repo_config(tmp_path)
    assert cfg.workflow.phases[0].role == "analyst"
    assert cfg.workflow.phase("build").gate is Gate.TESTS
    assert cfg.config.approvers.min_permission == "write"


def test_unknown_key_reports_its_line(tmp_path):
    write(tmp_path, "config.yaml", "version: 1\napprovers:\n  users: [a]\n  min_permision: write\n")
    (issue,) = issues_of(tmp_path)
    assert (issue.file, issue.line, issue.field) == (
        ".agentforge/config.yaml",
        4,
        "approvers.min_permision",
    )


def test_bad_enum_value_reports_its_line(tmp_path):
    write(tmp_path, "config.yaml", "approvers:\n  min_permission: god\n")
    (issue,) = issues_of(tmp_path)
    assert (issue.line, issue.field) == (2, "approvers.min_permission")


def test_yaml_syntax_error_has_a_line(tmp_path):
    write(tmp_path, "workflow.yaml", "phases:\n  - name: a\n    role: [unclosed\n")
    (issue,) = issues_of(tmp_path)
    assert issue.file == ".agentforge/workflow.yaml"
    assert issue.line is not None and issue.line >= 3


def test_top_level_must_be_a_mapping(tmp_path):
    write(tmp_path, "config.yaml", "- just\n- a list\n")
    (issue,) = issues_of(tmp_path)
    assert issue.line == 1


def test_workflow_unknown_role_and_duplicate_phase(tmp_path):
    write(
        tmp_path,
        "workflow.yaml",
        "phases:\n  - name: a\n    role: analyst\n  - name: b\n    role: wizard\n",
    )
    (issue,) = issues_of(tmp_path)
    assert (issue.line, issue.field) == (5, "phases[1].role")

    write(tmp_path, "workflow.yaml", "phases:\n  - {name: a, role: qa}\n  - {name: a, role: qa}\n")
    assert len(issues_of(tmp_path)) == 1


def test_bad_gate_and_empty_phases(tmp_path):
    write(tmp_path, "workflow.yaml", "phases:\n  - name: a\n    role: qa\n    gate: maybe\n")
    (issue,) = issues_of(tmp_path)
    assert (issue.line, issue.field) == (4, "phases[0].gate")
    write(tmp_path, "workflow.yaml", "phases: []\n")
    assert issues_of(tmp_path)[0].field == "phases"


def test_custom_role_is_known_to_the_workflow(tmp_path):
    write(tmp_path, "roles/security.md", "---\ntools: [read_file]\n---\nReview {{ repo }}.\n")
    write(tmp_path, "workflow.yaml", "phases:\n  - {name: audit, role: security}\n")
    cfg = load_repo_config(tmp_path)
    assert cfg.roles["security"].tools == ["read_file"]
    assert "security" in cfg.role_names()


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("---\nname: other\n---\nbody\n", "name", 2),
        ("---\ntools: [read_file]\nwrites: 3\n---\nbody\n", "writes", 3),
        ("---\ncolour: red\n---\nbody\n", "colour", 2),
        ("---\ntools: [Read-File]\n---\nbody\n", "tools[0]", 2),
        ("---\n---\nHello {{ issue.title }\n", "template", 3),
        ("---\n---\n\n", "template", 3),
    ],
)
def test_role_file_problems(tmp_path, text, field, line):
    write(tmp_path, "roles/analyst.md", text)
    (issue,) = issues_of(tmp_path)
    assert (issue.file, issue.field, issue.line) == (".agentforge/roles/analyst.md", field, line)


def test_unclosed_front_matter(tmp_path):
    write(tmp_path, "roles/qa.md", "---\ntools: []\nbody without end\n")
    (issue,) = issues_of(tmp_path)
    assert issue.line == 1


def test_non_utf8_file_is_reported_not_raised(tmp_path):
    write(tmp_path, "config.yaml", b"version: 1\n\xff\xfe\n")
    (issue,) = issues_of(tmp_path)
    assert issue.file == ".agentforge/config.yaml"


def test_every_problem_is_reported_at_once(tmp_path):
    write(tmp_path, "config.yaml", "versoin: 1\n")
    write(tmp_path, "workflow.yaml", "phases:\n  - {name: a, role: nobody}\n")
    write(tmp_path, "roles/x.md", "---\nname: y\n---\nhi\n")
    files = {i.file for i in issues_of(tmp_path)}
    assert files == {
        ".agentforge/config.yaml",
        ".agentforge/workflow.yaml",
        ".agentforge/roles/x.md",
    }
    with pytest.raises(RepoConfigError) as info:
        load_repo_config(tmp_path)
    assert len(info.value.issues) == 3


def test_cli_check_ok_and_failing(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["config", "check", str(ROOT)])
    assert ok.exit_code == 0, ok.output

    write(tmp_path, "config.yaml", "approvers:\n  min_permission: god\n")
    bad = runner.invoke(cli, ["config", "check", str(tmp_path)])
    assert bad.exit_code == 1
    assert ".agentforge/config.yaml:2" in bad.output

    as_json = runner.invoke(cli, ["config", "check", "--json", str(tmp_path)])
    data = json.loads(as_json.output)
    assert data[0]["line"] == 2 and data[0]["field"] == "approvers.min_permission"


def test_cli_check_missing_path_is_a_usage_error(tmp_path, capsys):
    assert main(["config", "check", str(tmp_path / "nope")]) == 2


OUT_OF_MODEL_ORDER = "index:\n  max_file_bytes: -5\nversion: 1\napprovers:\n  min_permission: god\n"


def test_cli_check_lists_problems_in_line_order(tmp_path):
    # The model checks approvers before index; the file has index first.
    write(tmp_path, "config.yaml", OUT_OF_MODEL_ORDER)
    result = CliRunner().invoke(cli, ["config", "check", "--json", str(tmp_path)])
    assert result.exit_code == 1
    assert [i["line"] for i in json.loads(result.stdout)] == [2, 5]
    text = CliRunner().invoke(cli, ["config", "check", str(tmp_path)]).stdout.splitlines()
    assert [line.split(":")[1] for line in text] == ["2", "5"]


def test_cli_check_and_models_accept_the_same_paths(tmp_path, capsys):
    write(tmp_path, "config.yaml", OUT_OF_MODEL_ORDER)
    file = tmp_path / ".agentforge" / "config.yaml"
    runner = CliRunner()
    for target in (tmp_path, file):
        checked = runner.invoke(cli, ["config", "check", str(target)])
        assert checked.exit_code == 1, (target, checked.output)
        assert "min_permission" in checked.output
        assert main(["models", "--config", str(target)]) == 2
        assert "min_permission" in capsys.readouterr().err
    # A file is named as given, so the user finds it.
    by_file = runner.invoke(cli, ["config", "check", str(file)])
    assert by_file.stdout.startswith(f"{file}:2: index.max_file_bytes")
    file.write_text("version: 1\n")
    assert runner.invoke(cli, ["config", "check", str(file)]).stdout.strip() == f"ok: {file}"
    assert runner.invoke(cli, ["models", "--config", str(file)]).exit_code == 0


def test_cli_check_file_that_is_not_utf8(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_bytes(b"version: \xff\n")
    result = CliRunner().invoke(cli, ["config", "check", str(bad)])
    assert result.exit_code == 1 and str(bad) in result.stdout and "UTF-8" in result.stdout


def test_cli_show_prints_effective_config(tmp_path):
    result = CliRunner().invoke(cli, ["config", "show", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["workflow"]["phases"][2]["name"] == "build"


def test_model_layer_sections_are_located(tmp_path):
    write(
        tmp_path,
        "config.yaml",
        "version: 1\nmodels:\n  routes:\n    qa:\n      - provider: nowhere\n"
        "        model: x\nbudgets:\n  per_run_usd: -3\n",
    )
    found = {(i.line, i.field) for i in issues_of(tmp_path)}
    assert found == {(5, "models.routes.qa[0].provider"), (8, "budgets.per_run_usd")}
