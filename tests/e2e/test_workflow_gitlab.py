"""End to end on the GitLab fake: hooks in, a ready merge request (``Draft:`` gone) out.

The stateful GitLab fake holds the project (a real bare git repository with the
project's ``.agentforge/`` config on ``main``), issue, notes, the MR and its
approvals; python-gitlab in the product's adapter talks to it. Hooks are built from
the fake's state the way GitLab sends them (:mod:`tests.fakes.gitlab_hooks`). The
first gate is passed the GitLab way: the reviewer's note ``/approve`` on the MR is a
quick action, so GitLab approves and sends a Merge Request Hook ``action: approved``
(no Note Hook); the second by ``/agentforge approve`` on the issue (a Note Hook).
"""

from __future__ import annotations

import pytest

from bot.errors import InvalidRequest
from bot.forges.gitlab import GitLabForge
from tests.e2e.workflow_support import (
    assert_ready_flow,
    failed_jobs,
    jobs_idle,
    project_files,
    running_app,
    settings_for,
    wait_for,
    wait_outcome,
    wait_phase,
)
from tests.fakes.gitlab_api import GitLabFake
from tests.fakes.gitlab_hooks import GitLabHooks
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import RoleScript, phase_steps

pytestmark = pytest.mark.e2e

REPO = "acme/calc"
BOT = "calc-bot"
SECRET = "gitlab-e2e-token-0123456789abcdef"


def test_issue_to_ready_merge_request_through_hooks(tmp_path) -> None:
    model = OpenAIWireFake()
    script = RoleScript(model)
    for role in ("analyst", "developer"):
        script.set(role, phase_steps(role, 1))
    fake = GitLabFake(tmp_path)
    git = fake.add_project(REPO)
    git.commit("main", project_files(model.base_url), message="calc")
    fake.add_token("bot-token", BOT)
    fake.grant(REPO, BOT, 30)
    people = {}
    for login, level in (("ann", 30), ("reviewer", 40)):
        fake.add_token(f"{login}-token", login)
        fake.grant(REPO, login, level)
        people[login] = GitLabForge(token=f"{login}-token", base_url=fake.url)
    viewer = people["ann"]
    settings = settings_for(
        tmp_path / "data",
        gitlab_webhook_token=SECRET,
        gitlab_token="bot-token",
        gitlab_url=fake.url,
    )
    sent = 0
    try:
        with running_app(settings) as client:
            hooks = GitLabHooks(fake, REPO, client, SECRET)

            def deliver(event) -> None:
                nonlocal sent
                hooks.deliver(event)
                sent += 1

            def settle() -> None:
                def done() -> bool:
                    (count,) = client.db.execute("SELECT count(*) FROM jobs").fetchone()
                    return count >= sent and jobs_idle(client.db)

                wait_for("the hooks to be handled", done, 60)

            issue = people["ann"].create_issue(
                REPO, "Subtract numbers", "sub(a, b)", labels=["agentforge"]
            )
            deliver(hooks.issue_opened(issue.number, "ann"))
            data = wait_phase(viewer, REPO, 1, BOT, "discovery", "needs_approval")
            mr = data.mr
            assert viewer.get_mr(REPO, mr).draft

            # The quick action: GitLab stores no note, approves, and sends the MR hook.
            # (The adapter says so: the text held only quick actions, no note was stored.)
            with pytest.raises(InvalidRequest, match="quick actions"):
                people["reviewer"].create_comment(REPO, mr, "/approve", is_mr=True)
            assert [a.author.login for a in viewer.list_reviews(REPO, mr)] == ["reviewer"]
            deliver(hooks.mr_approved(mr, "reviewer"))
            wait_phase(viewer, REPO, 1, BOT, "build", "needs_approval")

            # GitLab refuses a second approval by the same user: approve on the issue.
            note = people["reviewer"].create_comment(REPO, 1, "/agentforge approve")
            deliver(hooks.note(fake.projects[REPO]["notes"][int(note.id)], iid=1, on_mr=False))
            final = wait_outcome(viewer, REPO, 1, BOT)
            settle()
            assert failed_jobs(client.db) == []
    finally:
        model.close()

    assert final.outcome == "succeeded", final.error
    assert [a.via for a in final.approvals] == ["forge", "comment"]
    assert_ready_flow(
        viewer, REPO, 1, BOT, git.path, [("discovery", "analyst"), ("build", "developer")]
    )
    ready = viewer.get_mr(REPO, mr)
    assert not ready.draft and not ready.title.lower().startswith(("draft:", "[draft]"))
    assert script.runs_of("analyst") == 1 and script.runs_of("developer") == 1
