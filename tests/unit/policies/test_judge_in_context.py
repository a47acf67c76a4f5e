"""Policies as tables: (action, snapshot) -> verdict, no I/O."""

from __future__ import annotations

import pytest

from bot.actions import AddLabels, FileChange, OpenMR, PostComment, PushCommit
from bot.forge import Permission
from bot.repoconfig import RepoConfig
from policies.judge import DEFAULT_POLICIES, build_judge
from policies.permission import actor_permission
from policies.protected import infra_approval, protected_paths
from policies.snapshot import ChangedFile, Snapshot, diff_of_changes
from policies.verdict import Decision


def push(*paths: str, content: str = "x\n", role: str | None = None) -> PushCommit:
    trailers = {"Agentforge-Role": role, "Agentforge-Phase": "build"} if role else {}
    return PushCommit(
        repo="acme/app",
        branch="agentforge/issue-1",
        base="main",
        message="work",
        changes=[FileChange(path=p, content=content) for p in paths],
        trailers=trailers,
    )


def snap(**kw) -> Snapshot:
    kw.setdefault("actor", "alice")
    kw.setdefault("permission", Permission.WRITE)
    return Snapshot(**kw)


CONFIG = RepoConfig.model_validate(
    {
        "approvers": {"infra": ["ops-lead"]},
        "ci_writers": ["devops"],
        "protected_paths": [".github/workflows/**", ".gitlab-ci.yml", "secrets/**"],
        "policies": {"deny_paths": ["vendor/**"]},
    }
)


@pytest.mark.parametrize(
    ("path", "role", "decision", "words"),
    [
        ("src/app.py", "developer", Decision.ALLOW, ""),
        ("../outside.txt", "developer", Decision.DENY, "outside the repository"),
        ("/etc/passwd", "developer", Decision.DENY, "absolute"),
        ("src/../../x", "developer", Decision.DENY, ".."),
        (".git/hooks/pre-commit", "developer", Decision.DENY, ".git"),
        (".agentforge/config.yaml", "devops", Decision.DENY, "own configuration"),
        (".AgentForge/roles/qa.md", "developer", Decision.DENY, "own configuration"),
        (".github/workflows/ci.yml", "developer", Decision.DENY, "CI file"),
        (".GitHub/Workflows/ci.yml", "developer", Decision.DENY, "CI file"),
        (".gitlab-ci.yml", None, Decision.DENY, "CI file"),
        ("secrets/prod.env", "devops", Decision.DENY, "protected path"),
        ("vendor/lib.js", "developer", Decision.DENY, "deny_paths"),
        ("docs/read\u200bme.md", "writer", Decision.DENY, "U+200B"),
        ("docs/\u202eevil.md", "writer", Decision.DENY, "U+202E"),
        ("\uff0egithub/workflows/ci.yml", "devops", Decision.DENY, "look-alike"),
        ("cafe\u0301.md", "writer", Decision.DENY, "NFC"),
    ],
)
def test_protected_paths_table(path, role, decision, words) -> None:
    action = push(path, role=role)
    verdict = protected_paths(action, snap(config=CONFIG).for_action(action))
    assert verdict.decision == decision, verdict
    assert words in verdict.reason


def test_devops_may_write_ci_only_when_listed_and_then_needs_infra_approval() -> None:
    action = push(".github/workflows/ci.yml", role="devops")
    s = snap(config=CONFIG).for_action(action)
    assert s.role == "devops"
    assert protected_paths(action, s).decision == Decision.ALLOW
    held = infra_approval(action, s)
    assert held.decision == Decision.NEEDS_APPROVAL
    assert "ops-lead" in held.reason
    approved = infra_approval(
        action, Snapshot(**{**s.__dict__, "approvals": frozenset({"Ops-Lead"})})
    )
    assert approved.decision == Decision.ALLOW
    assert "approved by" in approved.reason
    not_listed = RepoConfig.model_validate({"ci_writers": []})
    assert protected_paths(action, snap(config=not_listed).for_action(action)).decision == (
        Decision.DENY
    )


@pytest.mark.parametrize(
    ("path", "decision"),
    [
        ("deploy/helm/values.yaml", Decision.NEEDS_APPROVAL),
        ("services/api/Dockerfile", Decision.NEEDS_APPROVAL),
        ("infra/main.tf", Decision.NEEDS_APPROVAL),
        ("src/deploy.py", Decision.SKIP),
    ],
)
def test_deployment_files_wait_for_infra_approvers(path, decision) -> None:
    action = push(path, role="devops")
    assert infra_approval(action, snap(config=CONFIG).for_action(action)).decision == decision


def test_no_infra_approvers_configured_leaves_the_review_to_the_phase_gate() -> None:
    # The default launch phase writes deploy/**: with no one in approvers.infra the push
    # lands for the phase's own gate and the merge to review, instead of waiting forever.
    action = push("deploy/x.yaml", role="devops")
    verdict = infra_approval(action, snap().for_action(action))
    assert verdict.decision == Decision.ALLOW
    assert "approvers.infra lists no one" in verdict.reason


def test_a_ci_result_continues_the_run_whatever_the_ci_accounts_permission() -> None:
    action = push("src/app.py", role="developer")
    ci = snap(config=RepoConfig(), permission=Permission.NONE, actor="github-actions[bot]")
    ci = Snapshot(**{**ci.__dict__, "event_kind": "pipeline"})
    assert actor_permission(action, ci.for_action(action)).decision == Decision.ALLOW
    person = Snapshot(**{**ci.__dict__, "event_kind": "issue_comment"})
    assert actor_permission(action, person.for_action(action)).decision == Decision.DENY


@pytest.mark.parametrize(
    ("permission", "problems", "decision"),
    [
        (Permission.WRITE, (), Decision.ALLOW),
        (Permission.TRIAGE, (), Decision.ALLOW),
        (Permission.READ, (), Decision.DENY),
        (Permission.NONE, (), Decision.DENY),
        (None, ("looking up the permission of alice failed: 503",), Decision.DENY),
        (Permission.ADMIN, ("the AgentForge config is invalid",), Decision.DENY),
    ],
)
def test_actor_permission_gates_code_changes(permission, problems, decision) -> None:
    s = snap(permission=permission, problems=problems)
    for action in (push("src/a.py"), OpenMR(repo="acme/app", head="b", base="main", title="t")):
        verdict = actor_permission(action, s)
        assert verdict.decision == decision
        if problems:
            assert problems[0] in verdict.reason


def test_replies_are_not_gated_by_permission_so_refusals_can_be_explained() -> None:
    s = snap(permission=None, problems=("lookup failed",))
    judge = build_judge(s)
    assert judge(PostComment(repo="acme/app", number=1, body="hi")).permits
    assert judge(AddLabels(repo="acme/app", number=1, labels=["x"])).permits
    assert not judge(push("src/a.py")).permits


def test_min_permission_is_configurable() -> None:
    strict = RepoConfig.model_validate({"policies": {"min_permission": "maintain"}})
    verdict = actor_permission(push("a.py"), snap(permission=Permission.WRITE, config=strict))
    assert verdict.decision == Decision.DENY
    assert "maintain" in verdict.reason


def test_unreadable_config_refuses_every_path() -> None:
    action = push("src/a.py")
    verdict = protected_paths(action, snap(config=None).for_action(action))
    assert verdict.decision == Decision.DENY


def test_allow_verdict_names_the_policies_that_allowed() -> None:
    verdict = build_judge(snap())(push("src/a.py"))
    assert verdict.decision == Decision.ALLOW
    assert verdict.policy.split(",") == ["actor_permission", "protected_paths", "secret_scan"]
    skipped = build_judge(snap())(PostComment(repo="acme/app", number=1, body="x"))
    assert (skipped.decision, skipped.policy) == (Decision.ALLOW, "policies")


def test_worst_verdict_wins_across_policies() -> None:
    action = push("deploy/x.yaml", "../escape", role="devops")
    verdict = build_judge(snap(config=CONFIG), DEFAULT_POLICIES)(action)
    assert verdict.decision == Decision.DENY
    assert verdict.policy == "protected_paths"


def test_symlink_in_the_base_tree_is_outside_the_repository() -> None:
    action = push("linked/file.txt")
    s = snap(diff=(ChangedFile("linked/file.txt", ((1, "x"),), symlink="linked"),))
    verdict = protected_paths(action, s.for_action(action))
    assert verdict.decision == Decision.DENY
    assert "symbolic link" in verdict.reason


def test_diff_counts_only_added_lines_against_the_old_text() -> None:
    changes = [
        FileChange(path="a.py", content="one\ntwo\nthree\n"),
        FileChange(path="b.py", content=None),
        FileChange(path="c.py", content="new\n"),
    ]
    diff = diff_of_changes(changes, {"a.py": "one\nthree\n", "b.py": "gone\n"})
    assert diff[0].added == ((2, "two"),)
    assert diff[1].deleted and diff[1].added == ()
    assert diff[2].added == ((1, "new"),)


def test_snapshot_values_win_over_trailers() -> None:
    action = push("src/a.py", role="devops")
    s = snap(role="developer", phase="build").for_action(action)
    assert s.role == "developer"
