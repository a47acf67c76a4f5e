"""The judge reads a push's approvals from its run (``bot.judging_runs.run_facts``):
an infrastructure approver's approval at the phase's head releases a held push; the
same approval at another head, another round or another repository's run does not."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.executor import Executor, OutcomeStatus
from bot.judging import judge_factory
from bot.judging_runs import run_facts
from handlers.workflow.state import Approval, PhaseRun, RunData
from tests.unit.executor.support import BOT, REPO
from tests.unit.executor.test_judging import branch_exists, event, push, site  # noqa: F401
from tests.unit.workflow.fakes import Clock, FakeRuns

HEAD = "a" * 40


def _runs(*, sha: str = HEAD, round_: int = 1, repo: str = REPO, by: str = "ops-lead"):
    runs = FakeRuns(Clock())
    now = datetime(2025, 1, 1, tzinfo=UTC)
    data = RunData(
        run_id="1-abc",
        forge="local",
        repo=repo,
        issue=1,
        branch="agentforge/issue-1",
        base="main",
        phases=[PhaseRun(name="build", role="devops", gates=["human"], head_sha=HEAD)],
        approvals=[
            Approval(phase="build", round=round_, by=by, sha=sha, via="comment", signal="c", at=now)
        ],
        started_at=now,
    )
    runs.create(
        run_id="1-abc",
        forge="local",
        repo=repo,
        issue_number=1,
        state="waiting",
        phase="build",
        branch=data.branch,
        data=data.to_data(),
    )
    return runs


def _deploy_push():
    action = push({"deploy/compose.yaml": "services: {}\n"}, role="devops")
    trailers = {**action.trailers, "Agentforge-Run": "1-abc", "Agentforge-Round": "1"}
    return action.model_copy(update={"trailers": trailers})


def _apply(site, runs):  # noqa: F811
    forge, _n, audit, clones = site
    judge = judge_factory(clones, bot_login=BOT, action_context=run_facts(runs))(event(), forge)
    return Executor(forge, judge=judge, audit=audit, clones_dir=clones).apply([_deploy_push()])


def test_an_infra_approval_at_the_phase_head_releases_the_push(site):  # noqa: F811
    [out] = _apply(site, _runs())
    assert out.status == OutcomeStatus.APPLIED, out.detail
    assert branch_exists(site[0])


def test_an_approval_at_another_head_round_or_repo_does_not(site):  # noqa: F811
    for runs in (_runs(sha="b" * 40), _runs(round_=2), _runs(repo="other/repo")):
        [out] = _apply(site, runs)
        assert out.status == OutcomeStatus.PENDING, out.detail
    assert not branch_exists(site[0])


def test_an_approval_by_someone_outside_approvers_infra_does_not(site):  # noqa: F811
    [out] = _apply(site, _runs(by="alice"))
    assert out.status == OutcomeStatus.PENDING
    assert "approvers.infra" in out.detail


def test_a_push_without_run_trailers_gets_no_facts():
    facts = run_facts(_runs())
    assert facts(event(), push({"deploy/x": "y\n"})) == {}
