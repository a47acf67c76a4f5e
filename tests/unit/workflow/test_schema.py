"""workflow.yaml: gate lists, thresholds, the trigger, and outputs vs protected paths."""

from __future__ import annotations

from bot.repoconfig import Gate, validate_files
from bot.repoconfig.schema import RepoConfig, WorkflowConfig


def test_gate_may_be_a_list_and_threshold_per_phase():
    cfg, issues = validate_files(
        {
            ".agentforge/workflow.yaml": (
                "confidence_threshold: 0.7\nphases:\n"
                "  - {name: build, role: developer, gate: [tests, human]}\n"
                "  - {name: docs, role: writer, gate: auto, confidence_threshold: 0.9}\n"
            )
        }
    )
    assert issues == []
    build, docs = cfg.workflow.phases
    assert build.gates == (Gate.TESTS, Gate.HUMAN) and docs.gates == (Gate.AUTO,)
    assert cfg.workflow.threshold_for(build) == 0.7
    assert cfg.workflow.threshold_for(docs) == 0.9


def test_bad_gate_in_a_list_is_one_problem_with_its_line():
    _, issues = validate_files(
        {
            ".agentforge/workflow.yaml": (
                "phases:\n  - name: a\n    role: qa\n    gate: [tests, maybe]\n"
            )
        }
    )
    (issue,) = issues
    assert (issue.line, issue.field) == (4, "phases[0].gate")
    _, issues = validate_files(
        {".agentforge/workflow.yaml": "phases:\n  - {name: a, role: qa, gate: []}\n"}
    )
    assert len(issues) == 1


def test_defaults_trigger_label_and_write_approvers():
    assert RepoConfig().trigger.label == "agentforge"
    assert RepoConfig().approvers.min_permission == "write"


def test_default_outputs_do_not_contradict_default_protected_paths():
    cfg, issues = validate_files({})
    assert issues == [] and cfg is not None
    assert WorkflowConfig().phase("launch").outputs == ["deploy/**"]


def test_an_output_inside_a_protected_path_is_reported_with_its_line():
    _, issues = validate_files(
        {
            ".agentforge/workflow.yaml": (
                "phases:\n  - name: launch\n    role: devops\n    outputs:\n"
                "      - deploy/**\n      - .github/workflows/ci.yml\n"
            )
        }
    )
    (issue,) = issues
    assert issue.file == ".agentforge/workflow.yaml"
    assert (issue.line, issue.field) == (6, "phases[0].outputs[1]")
    # Unprotecting the path in config.yaml resolves it.
    _, issues = validate_files(
        {
            ".agentforge/config.yaml": "protected_paths: ['.agentforge/**']\n",
            ".agentforge/workflow.yaml": (
                "phases:\n  - {name: launch, role: devops, outputs: [.github/workflows/ci.yml]}\n"
            ),
        }
    )
    assert issues == []
