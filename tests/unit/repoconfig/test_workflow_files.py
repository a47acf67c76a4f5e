"""Named workflows: shipped templates, .agentforge/workflows/*.yaml, labels, fix-ups."""

from __future__ import annotations

import pytest

from bot.errors import RepoConfigError
from bot.repoconfig import load_files, validate_files


def _problems(files):
    config, issues = validate_files(files)
    assert config is None
    return issues


def test_the_shipped_workflows_are_there_by_default_and_labels_pick_them():
    config = load_files({})
    assert sorted(config.workflows) == ["bugfix", "docs", "feature"]
    assert config.workflow_for_labels(["agentforge", "bug"]) == "bugfix"
    assert config.workflow_for_labels(["documentation"]) == "docs"
    assert config.workflow_for_labels(["agentforge"]) == "feature"
    bugfix = config.with_workflow("bugfix")
    assert bugfix.workflow_name == "bugfix" and bugfix.workflow.phases[0].name == "reproduce"
    assert config.with_workflow("nope") is config


def test_the_shipped_bugfix_reproduces_with_failing_tests_and_others_default_to_passing():
    config = load_files({})
    bugfix = config.workflows["bugfix"]
    assert [(p.name, p.new_tests) for p in bugfix.phases] == [
        ("reproduce", "fail"),
        ("fix", "pass"),
    ]
    assert {p.new_tests for p in config.workflows["feature"].phases} == {"pass"}


def test_a_bad_new_tests_value_names_its_file_and_line():
    files = {
        ".agentforge/workflows/bugfix.yaml": (
            "phases:\n  - name: reproduce\n    role: qa\n    new_tests: maybe\n"
        )
    }
    issues = _problems(files)
    assert [(i.file, i.line, i.field) for i in issues] == [
        (".agentforge/workflows/bugfix.yaml", 4, "phases[0].new_tests")
    ]


def test_workflow_yaml_is_the_feature_workflow():
    files = {".agentforge/workflow.yaml": "phases:\n  - name: only\n    role: developer\n"}
    config = load_files(files)
    assert [p.name for p in config.workflows["feature"].phases] == ["only"]
    assert config.workflow.phases[0].name == "only"


def test_a_repository_workflow_replaces_the_shipped_one():
    files = {".agentforge/workflows/docs.yaml": "phases:\n  - name: write\n    role: writer\n"}
    assert [p.name for p in load_files(files).workflows["docs"].phases] == ["write"]


def test_a_bad_workflow_file_is_reported_with_its_file_and_line():
    files = {
        ".agentforge/workflows/bugfix.yaml": (
            "phases:\n  - name: fix\n    role: developer\n    gaet: human\n"
        ),
        ".agentforge/workflows/docs.yaml": "phases:\n  - name: write\n    role: poet\n",
    }
    issues = _problems(files)
    found = {(i.file, i.line) for i in issues}
    assert (".agentforge/workflows/bugfix.yaml", 4) in found
    assert (".agentforge/workflows/docs.yaml", 3) in found


def test_a_label_mapping_to_an_unknown_workflow_names_its_line():
    files = {".agentforge/config.yaml": "workflows:\n  labels:\n    spike: research\n"}
    (issue,) = _problems(files)
    assert (issue.file, issue.line) == (".agentforge/config.yaml", 3)
    assert "research" in issue.message


def test_both_workflow_yaml_and_workflows_feature_yaml_is_an_error():
    files = {
        ".agentforge/workflow.yaml": "phases:\n  - name: a\n    role: developer\n",
        ".agentforge/workflows/feature.yaml": "phases:\n  - name: b\n    role: developer\n",
    }
    (issue,) = _problems(files)
    assert issue.file == ".agentforge/workflows/feature.yaml"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("fixups:\n  max_rounds: 11\n", 2),
        ("fixups:\n  role: poet\n", 2),
        ("fixups:\n  rounds: 2\n", 2),
    ],
)
def test_fixups_are_validated(text, line):
    with pytest.raises(RepoConfigError) as err:
        load_files({".agentforge/workflow.yaml": text})
    assert [i.line for i in err.value.issues] == [line]


def test_watchdog_limit_is_validated():
    with pytest.raises(RepoConfigError) as err:
        load_files({".agentforge/config.yaml": "watchdog:\n  stuck_after_minutes: 1\n"})
    assert err.value.issues[0].line == 2


def test_a_workflow_file_name_must_be_a_lowercase_name():
    files = {".agentforge/workflows/Big Fix.yaml": "phases:\n  - name: a\n    role: qa\n"}
    (issue,) = _problems(files)
    assert "lowercase" in issue.message
