"""End to end on the GitHub fake: signed webhooks in, a ready pull request out.

The stateful GitHub fake holds the repository (a real bare git repository with the
project and its ``.agentforge/`` config on ``main``), the issue, comments, the pull
request, reviews and check runs; the real app takes deliveries built from the fake's
state the way GitHub sends them (:mod:`tests.fakes.github_hooks`), and its workers
drive the shipped workflow through the real github3.py-based adapter. People act
through the product's GitHub adapter with their own tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.forges.github import GitHubForge
from tests.e2e.workflow_support import (
    assert_ready_flow,
    bot_comments,
    failed_jobs,
    jobs_idle,
    project_files,
    run_state,
    running_app,
    scripted_model,
    settings_for,
    status_comments,
    wait_for,
    wait_outcome,
    wait_phase,
)
from tests.fakes import Fault
from tests.fakes.github_api import GitHubFake
from tests.fakes.github_hooks import GitHubHooks
from tests.fakes.role_script import RoleScript

pytestmark = pytest.mark.e2e

REPO = "acme/calc"
BOT = "calc-bot"
SECRET = "github-e2e-secret-0123456789abcdef"
PEOPLE = {"ann": "write", "reviewer": "write", "mallory": "read"}
TESTS_GATE = """\
version: 1
phases:
  - {name: discovery, role: analyst, outputs: ["docs/requirements/*.md"], gate: human}
  - {name: build, role: developer, outputs: ["**"], gate: [tests, human]}
"""
REVIEW_GATE = """\
version: 1
phases:
  - {name: discovery, role: analyst, outputs: ["docs/requirements/*.md"], gate: mr_approval}
  - {name: build, role: developer, outputs: ["**"], gate: human}
"""


class GitHubSite:
    """The fake, the people's adapters, and the app's webhook deliveries."""

    def __init__(self, tmp_path, model_url: str, workflow: str) -> None:
        self.fake = GitHubFake(tmp_path)
        self.git = self.fake.add_repo(REPO)
        self.git.commit("main", project_files(model_url, workflow), message="calc")
        self.fake.add_token("bot-token", BOT)
        self.fake.grant(REPO, BOT, "write")
        self.people: dict[str, GitHubForge] = {}
        for login, role in PEOPLE.items():
            self.fake.add_token(f"{login}-token", login)
            self.fake.grant(REPO, login, role)
            self.people[login] = GitHubForge(token=f"{login}-token", base_url=self.fake.url)
        self.viewer = self.people["ann"]
        self.bare = self.git.path
        self.hooks: GitHubHooks | None = None
        self.sent = 0

    def settings(self, data_dir):
        # No AGENTFORGE_BOT_LOGIN: the bot learns its login from the token (GET /user).
        return settings_for(
            data_dir,
            github_webhook_secret=SECRET,
            github_token="bot-token",
            github_url=self.fake.url,
        )

    def attach(self, client) -> None:
        self.client = client
        self.hooks = GitHubHooks(self.fake, REPO, client, SECRET)
        self.sent = 0
        self.jobs: list[int] = []

    def deliver(self, event) -> None:
        answer = self.hooks.deliver(event).json()
        if answer.get("job_id") is not None:
            self.jobs.append(int(answer["job_id"]))
        self.sent += 1

    def settle(self) -> None:
        """Wait until every delivery so far has been handled."""
        db = self.client.db

        def done() -> bool:
            # Jobs the bot made itself (continuations) count too, so wait for the
            # deliveries' own jobs by id: the queue may commit a row after it answered.
            (count,) = db.execute("SELECT count(*) FROM jobs").fetchone()
            if self.jobs:
                marks = ", ".join("?" for _ in self.jobs)
                (seen,) = db.execute(
                    f"SELECT count(*) FROM jobs WHERE id IN ({marks})", self.jobs
                ).fetchone()
                if seen < len(set(self.jobs)):
                    return False
            return count >= self.sent and jobs_idle(db)

        wait_for("the deliveries to be handled", done, 60)

    def comment(self, who: str, number: int, body: str, *, on_mr: bool = False) -> str:
        made = self.people[who].create_comment(REPO, number, body, is_mr=on_mr)
        self.deliver(self.hooks.comment_created(number, made.id))
        return made.id

    def state(self):
        return run_state(self.viewer, REPO, 1, BOT)


@pytest.fixture
def script() -> Iterator[RoleScript]:
    with scripted_model() as script:
        yield script


def test_issue_to_ready_pull_request_through_webhooks(tmp_path, script) -> None:
    site = GitHubSite(tmp_path, script.fake.base_url, TESTS_GATE)
    # The first status comment is created but GitHub's answer is lost (a 502 after the
    # write); opening the pull request fails five times, more than the adapter retries,
    # so the job itself is retried. Neither may leave a duplicate.
    site.fake.inject(Fault(status=502, method="POST", path="/issues/1/comments", after_apply=True))
    site.fake.inject(Fault(status=502, method="POST", path="/pulls"), times=5)
    with running_app(site.settings(tmp_path / "data")) as client:
        site.attach(client)
        issue = site.people["ann"].create_issue(
            REPO, "Subtract numbers", "calc needs sub(a, b).", labels=["agentforge"]
        )
        site.deliver(site.hooks.issue_opened(issue.number, "ann"))
        data = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        mr = data.mr
        assert mr is not None

        site.comment("mallory", 1, "/approve")  # read access only
        site.comment("reviewer", 1, "> /approve\n\nquoted, not a command")
        note = site.people["reviewer"].create_comment(REPO, 1, "reading it now")
        site.people["reviewer"].edit_comment(REPO, 1, note.id, "/approve")
        site.deliver(site.hooks.comment_edited(1, note.id, "reading it now"))
        site.settle()
        assert site.state().phases[0].state == "needs_approval"
        refusals = [c for c in bot_comments(site.viewer, REPO, 1, BOT) if "@mallory" in c.body]
        assert len(refusals) == 1 and "write" in refusals[0].body

        site.comment("reviewer", 1, "/approve")
        data = wait_phase(site.viewer, REPO, 1, BOT, "build", "needs_approval")
        head = data.phases[1].head_sha
        assert head and head == site.viewer.get_mr(REPO, mr).head_sha

        # CI fails on the head: the approval alone does not pass [tests, human].
        failing = site.fake.add_check_run(REPO, head, "pytest", conclusion="failure")
        site.deliver(site.hooks.check_run_completed(failing, "agentforge/issue-1"))
        site.comment("reviewer", mr, "/approve", on_mr=True)
        site.settle()
        held = site.state()
        assert held.phases[1].state == "needs_approval" and held.outcome is None
        assert "pytest" in status_comments(site.viewer, REPO, 1, BOT)[0].body
        assert site.viewer.get_mr(REPO, mr).draft

        # A re-run passes: the same check name, now green, at the same head.
        passing = site.fake.add_check_run(REPO, head, "pytest", conclusion="success")
        site.deliver(site.hooks.check_run_completed(passing, "agentforge/issue-1"))
        final = wait_outcome(site.viewer, REPO, 1, BOT)
        site.settle()
        assert failed_jobs(client.db) == []
        (retried,) = client.db.execute("SELECT count(*) FROM jobs WHERE attempts > 1").fetchone()

    assert final.outcome == "succeeded", final.error
    assert_ready_flow(
        site.viewer, REPO, 1, BOT, site.bare, [("discovery", "analyst"), ("build", "developer")]
    )
    assert retried >= 1  # the pull request's job was retried by the queue
    assert len(site.fake.calls_to("POST", r"/repos/acme/calc/pulls")) >= 6
    # The developer ran for the build, then once more for the fix-up round the red check
    # started (issue 13's pipeline feedback); the retried jobs ran no role again.
    assert script.runs_of("analyst") == 1 and script.runs_of("developer") == 2


def test_a_stale_approving_review_after_a_human_push_does_not_pass(tmp_path, script) -> None:
    site = GitHubSite(tmp_path, script.fake.base_url, REVIEW_GATE)
    with running_app(site.settings(tmp_path / "data")) as client:
        site.attach(client)
        site.people["ann"].create_issue(REPO, "Subtract numbers", "sub(a, b)", ["agentforge"])
        site.deliver(site.hooks.issue_opened(1, "ann"))
        data = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        mr, old_head = data.mr, data.phases[0].head_sha

        # Ann pushes a note to the bot's branch; the reviewer approves what they saw
        # before the push (GitHub records the review at the old commit).
        site.git.commit(
            "agentforge/issue-1",
            {"docs/notes.md": "# Notes\n\nKeep ints.\n"},
            message="notes from ann",
        )
        site.deliver(site.hooks.pull_synchronize(mr, old_head, "ann"))
        stale = site.fake.add_review(REPO, mr, "reviewer", "APPROVED", "lgtm", commit_id=old_head)
        site.deliver(site.hooks.review_submitted(mr, stale))
        site.settle()
        held = site.state()
        new_head = site.viewer.get_mr(REPO, mr).head_sha
        assert new_head != old_head
        assert held.phases[0].state == "needs_approval"
        assert held.phases[0].head_sha == new_head

        fresh = site.fake.add_review(REPO, mr, "reviewer", "APPROVED", "still good")
        site.deliver(site.hooks.review_submitted(mr, fresh))
        wait_phase(site.viewer, REPO, 1, BOT, "build", "needs_approval")
        site.comment("reviewer", mr, "/approve", on_mr=True)
        wait_outcome(site.viewer, REPO, 1, BOT)
        site.settle()
        assert failed_jobs(client.db) == []

    # The note is built on: the developer's commit comes after it, nothing force-pushed.
    assert_ready_flow(
        site.viewer,
        REPO,
        1,
        BOT,
        site.bare,
        [("discovery", "analyst"), ("build", "developer")],
        people=("Fake Forge",),
    )
