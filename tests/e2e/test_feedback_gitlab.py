"""End to end on the GitLab fake: diff notes and a red pipeline answered by the bot.

GitLab has no "review submitted" event: a review's line comments arrive as separate
Note Hooks (``DiffNote`` with a ``position``). The bot answers every unanswered line
comment when the first hook's job runs, so two notes of one review are one role run,
one commit and a reply in each discussion; the second hook finds them answered. A
Pipeline Hook for the bot's branch starts a fix-up round that reads the failing job's
trace through python-gitlab (``/pipelines/:id/jobs``, ``/jobs/:id/trace``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.forges.gitlab import GitLabForge
from tests.e2e.test_feedback_local import TESTS_GATE, fix_steps, requests_of
from tests.e2e.workflow_support import (
    BRANCH,
    bot_comments,
    branch_log,
    failed_jobs,
    jobs_idle,
    project_files,
    run_state,
    running_app,
    settings_for,
    status_comments,
    wait_for,
    wait_phase,
)
from tests.fakes.gitlab_api import GitLabFake
from tests.fakes.gitlab_hooks import GitLabHooks
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import CALC, RoleScript, phase_steps

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = "acme/calc"
BOT = "calc-bot"
SECRET = "gitlab-e2e-token-0123456789abcdef"
BRANCH_1 = BRANCH.format(n=1)


class GitLabSite:
    """The fake, the people's adapters, and the app's hook deliveries."""

    def __init__(self, tmp_path, model_url: str) -> None:
        self.fake = GitLabFake(tmp_path)
        self.git = self.fake.add_project(REPO)
        self.git.commit("main", project_files(model_url, TESTS_GATE), message="calc")
        self.fake.add_token("bot-token", BOT)
        self.fake.grant(REPO, BOT, 30)
        self.people: dict[str, GitLabForge] = {}
        for login, level in (("ann", 30), ("reviewer", 40)):
            self.fake.add_token(f"{login}-token", login)
            self.fake.grant(REPO, login, level)
            self.people[login] = GitLabForge(token=f"{login}-token", base_url=self.fake.url)
        self.viewer = self.people["ann"]
        self.settings = settings_for(
            tmp_path / "data",
            gitlab_webhook_token=SECRET,
            gitlab_token="bot-token",
            gitlab_url=self.fake.url,
        )
        self.jobs: list[int] = []

    def attach(self, client) -> None:
        self.client = client
        self.hooks = GitLabHooks(self.fake, REPO, client, SECRET)

    def deliver(self, event) -> None:
        answer = self.hooks.deliver(event).json()
        if answer.get("job_id") is not None:
            self.jobs.append(int(answer["job_id"]))

    def settle(self) -> None:
        """Wait until the deliveries' own jobs, and whatever they started, are done."""
        db = self.client.db

        def done() -> bool:
            marks = ", ".join("?" for _ in self.jobs) or "NULL"
            (seen,) = db.execute(
                f"SELECT count(*) FROM jobs WHERE id IN ({marks})", self.jobs
            ).fetchone()
            return seen >= len(set(self.jobs)) and jobs_idle(db)

        wait_for("the hooks to be handled", done, 60)

    def to_build(self):
        """Ann opens issue 1, the reviewer approves discovery; the state once build waits."""
        self.people["ann"].create_issue(REPO, "Subtract numbers", "sub(a, b)", ["agentforge"])
        self.deliver(self.hooks.issue_opened(1, "ann"))
        wait_phase(self.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        note = self.people["reviewer"].create_comment(REPO, 1, "/agentforge approve")
        self.deliver(self.hooks.note(self.fake.projects[REPO]["notes"][int(note.id)], iid=1,
                                     on_mr=False))  # fmt: skip
        data = wait_phase(self.viewer, REPO, 1, BOT, "build", "needs_approval")
        self.settle()
        return data


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[GitLabSite, RoleScript]]:
    model = OpenAIWireFake()
    try:
        script = RoleScript(model)
        for role in ("analyst", "developer"):
            script.set(role, phase_steps(role, 1))
        yield GitLabSite(tmp_path, model.base_url), script
        model.server.check_assertions()
    finally:
        model.close()


def test_two_diff_notes_of_a_review_get_one_commit_and_a_reply_in_each_discussion(site):
    site, script = site
    with running_app(site.settings) as client:
        site.attach(client)
        data = site.to_build()
        mr = data.mr
        before = branch_log(site.git.path, BRANCH_1)
        fixed = CALC.replace('"""a minus b."""', '"""a minus b; may be negative."""')
        script.set("developer", fix_steps("calc.py", fixed, "sub's docstring names the sign."))

        # The reviewer submits a review of two line comments: two Note Hooks.
        notes = [
            site.fake.add_diff_note(REPO, mr, "reviewer", "calc.py", 10, "say it may be negative"),
            site.fake.add_diff_note(REPO, mr, "reviewer", "calc.py", 11, "keep the body as is"),
        ]
        for note in notes:
            site.deliver(site.hooks.note(note, iid=mr, on_mr=True))
        site.settle()
        assert failed_jobs(client.db) == []
        after = run_state(site.viewer, REPO, 1, BOT)

    new = branch_log(site.git.path, BRANCH_1)[len(before) :]
    assert [c["trailers"].get("Agentforge-Fixup") for c in new] == ["review"]
    sha = new[0]["sha"]
    assert script.runs_of("developer") == 2  # the build, then one fix-up for both notes
    comments = site.viewer.list_review_comments(REPO, mr)
    roots = [c for c in comments if not c.in_reply_to]
    replies = [c for c in comments if c.in_reply_to]
    assert sorted(c.body for c in roots) == ["keep the body as is", "say it may be negative"]
    assert len(replies) == 2
    assert {r.thread_id for r in replies} == {c.thread_id for c in roots}
    assert all(r.author.login == BOT and sha[:10] in r.body for r in replies)
    assert after is not None and after.phases[1].head_sha == sha


def test_a_red_pipeline_is_fixed_from_the_job_trace_then_a_person_is_asked(site):
    site, script = site
    with running_app(site.settings) as client:
        site.attach(client)
        data = site.to_build()
        head = data.phases[1].head_sha
        fixed = CALC + '\n\ndef neg(a: int) -> int:\n    """-a."""\n    return -a\n'
        script.set("developer", fix_steps("calc.py", fixed, "Adds neg(a) for the new test."))

        def red(sha: str, trace: str) -> None:
            site.fake.add_job(REPO, sha, "pytest", "failed")
            pipeline = site.fake.add_pipeline(REPO, sha, "failed", ref=BRANCH_1)
            site.fake.add_job_log(REPO, sha, "pytest", trace=trace)
            site.deliver(site.hooks.pipeline(pipeline, "ann"))

        red(head, "E   ImportError: cannot import name 'neg' from 'calc'\n")
        wait_for(
            "the fix-up commit",
            lambda: any(
                c["trailers"].get("Agentforge-Fixup") == "pipeline"
                for c in branch_log(site.git.path, BRANCH_1)
            ),
        )
        site.settle()
        new_head = site.viewer.get_mr(REPO, data.mr).head_sha
        assert new_head != head
        red(new_head, "E   AssertionError: neg(0)\n")
        site.settle()
        assert failed_jobs(client.db) == []
        final_state = run_state(site.viewer, REPO, 1, BOT)

    statuses = {c.id for c in status_comments(site.viewer, REPO, 1, BOT)}
    asks = [
        c
        for c in bot_comments(site.viewer, REPO, 1, BOT)
        if c.id not in statuses and "still fail" in c.body
    ]
    assert len(asks) == 1 and "`pytest`" in asks[0].body
    assert script.runs_of("developer") == 2
    assert any("cannot import name 'neg'" in r for r in requests_of(script, "developer on"))
    assert final_state is not None and final_state.phases[1].state == "needs_approval"
