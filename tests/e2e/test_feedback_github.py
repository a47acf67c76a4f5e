"""End to end on the GitHub fake: review threads and red check runs answered by the bot.

Signed webhooks (``pull_request_review`` submitted, ``check_run`` completed) go into the
real app; its workers answer through the real github3.py-based adapter against the
stateful GitHub fake: the review's line comments are read with the review's id and
answered in their threads, and an Actions check run's job log is downloaded the way
GitHub serves it (a redirect to the log file).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_feedback_local import TESTS_GATE, fix_steps, requests_of
from tests.e2e.test_workflow_github import BOT, REPO, GitHubSite
from tests.e2e.workflow_support import (
    BRANCH,
    bot_comments,
    branch_log,
    failed_jobs,
    running_app,
    status_comments,
    wait_for,
    wait_phase,
)
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import CALC, RoleScript, phase_steps

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BRANCH_1 = BRANCH.format(n=1)


@pytest.fixture
def script() -> Iterator[RoleScript]:
    fake = OpenAIWireFake()
    try:
        script = RoleScript(fake)
        for role in ("analyst", "developer"):
            script.set(role, phase_steps(role, 1))
        yield script
        fake.server.check_assertions()
    finally:
        fake.close()


def to_build(site: GitHubSite):
    """Ann opens issue 1, the reviewer approves discovery; the state once build waits."""
    site.people["ann"].create_issue(REPO, "Subtract numbers", "sub(a, b)", ["agentforge"])
    site.deliver(site.hooks.issue_opened(1, "ann"))
    wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
    site.comment("reviewer", 1, "/approve")
    data = wait_phase(site.viewer, REPO, 1, BOT, "build", "needs_approval")
    site.settle()
    return data


def test_a_review_with_two_line_comments_gets_one_commit_and_two_replies(tmp_path, script):
    site = GitHubSite(tmp_path, script.fake.base_url, TESTS_GATE)
    with running_app(site.settings(tmp_path / "data")) as client:
        site.attach(client)
        data = to_build(site)
        mr = data.mr
        before = branch_log(site.bare, BRANCH_1)
        fixed = CALC.replace('"""a minus b."""', '"""a minus b; the result may be negative."""')
        script.set("developer", fix_steps("calc.py", fixed, "sub's docstring names the sign."))

        review = site.fake.add_review_with_comments(
            REPO,
            mr,
            "reviewer",
            [
                ("calc.py", 10, "say that the result may be negative"),
                ("calc.py", 11, "and keep the one-line body"),
            ],
            body="Two notes.",
        )
        site.deliver(site.hooks.review_submitted(mr, review))
        site.settle()
        # A redelivery of the same review (GitHub retries on a timeout) does nothing.
        site.deliver(site.hooks.review_submitted(mr, review))
        site.settle()
        assert failed_jobs(client.db) == []
        after = site.state()

    new = branch_log(site.bare, BRANCH_1)[len(before) :]
    assert [c["trailers"].get("Agentforge-Fixup") for c in new] == ["review"]
    sha = new[0]["sha"]
    assert script.runs_of("developer") == 2
    comments = site.viewer.list_review_comments(REPO, mr)
    roots = [c for c in comments if not c.in_reply_to]
    replies = [c for c in comments if c.in_reply_to]
    assert len(roots) == 2 and len(replies) == 2
    assert sorted(r.in_reply_to for r in replies) == sorted(c.id for c in roots)
    assert all(r.author.login == BOT and sha[:10] in r.body for r in replies)
    assert after.phases[1].head_sha == sha and after.phases[1].state == "needs_approval"
    assert site.viewer.get_mr(REPO, mr).head_sha == sha


def test_a_red_check_run_is_fixed_from_its_actions_log_then_a_person_is_asked(tmp_path, script):
    site = GitHubSite(tmp_path, script.fake.base_url, TESTS_GATE)
    with running_app(site.settings(tmp_path / "data")) as client:
        site.attach(client)
        data = to_build(site)
        head = data.phases[1].head_sha
        fixed = CALC + '\n\ndef neg(a: int) -> int:\n    """-a."""\n    return -a\n'
        script.set("developer", fix_steps("calc.py", fixed, "Adds neg(a) for the new test."))

        red = site.fake.add_check_log(
            REPO, head, "pytest", "E   ImportError: cannot import name 'neg' from 'calc'\n"
        )
        site.deliver(site.hooks.check_run_completed(red, BRANCH_1))
        wait_for(
            "the fix-up commit",
            lambda: any(
                c["trailers"].get("Agentforge-Fixup") == "pipeline"
                for c in branch_log(site.bare, BRANCH_1)
            ),
        )
        site.settle()
        new_head = site.viewer.get_mr(REPO, data.mr).head_sha
        assert new_head != head

        again = site.fake.add_check_log(REPO, new_head, "pytest", "E   AssertionError: neg\n")
        site.deliver(site.hooks.check_run_completed(again, BRANCH_1))
        site.settle()
        assert failed_jobs(client.db) == []
        final_state = site.state()

    statuses = {c.id for c in status_comments(site.viewer, REPO, 1, BOT)}
    asks = [
        c
        for c in bot_comments(site.viewer, REPO, 1, BOT)
        if c.id not in statuses and "still fail" in c.body
    ]
    assert len(asks) == 1 and "`pytest`" in asks[0].body
    assert script.runs_of("developer") == 2
    assert any("cannot import name 'neg'" in r for r in requests_of(script, "developer on"))
    assert final_state.outcome is None and final_state.phases[1].state == "needs_approval"
