"""End to end on the GitLab fake: CODEOWNERS sections with approval counts and groups.

``CODEOWNERS`` on ``main`` (GitLab syntax) has a ``[Docs]`` section owned by the
group ``@acme/writers``, a ``[Code][2]`` section needing two of ``@lead`` and the
group ``@acme/core`` for Python files, and an optional ``^[Ops]`` section. Group
membership is read through the GitLab adapter (``/groups/:path/members/all/:id``);
the first approval is GitLab's own (the ``/approve`` quick action's Merge Request
Hook), the others ``/agentforge approve`` notes on the issue.
"""

from __future__ import annotations

import pytest

from bot.forges.gitlab import GitLabForge
from tests.e2e.workflow_support import (
    bot_comments,
    failed_jobs,
    jobs_idle,
    project_files,
    running_app,
    settings_for,
    status_comments,
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
CODEOWNERS = """\
[Docs] @acme/writers
docs/
[Code][2] @lead @acme/core
*.py
^[Ops] @ops
deploy/
"""


def test_sections_counts_and_groups_decide_who_approves(tmp_path) -> None:
    model = OpenAIWireFake()
    script = RoleScript(model)
    for role in ("analyst", "developer"):
        script.set(role, phase_steps(role, 1))
    fake = GitLabFake(tmp_path)
    git = fake.add_project(REPO)
    git.commit("main", {**project_files(model.base_url), "CODEOWNERS": CODEOWNERS}, message="calc")
    fake.add_token("bot-token", BOT)
    fake.grant(REPO, BOT, 30)
    people = {}
    for login, level in (("ann", 30), ("reviewer", 40), ("lead", 40), ("dev2", 30)):
        fake.add_token(f"{login}-token", login)
        fake.grant(REPO, login, level)
        people[login] = GitLabForge(token=f"{login}-token", base_url=fake.url)
    fake.add_group("acme/writers", ["reviewer"])
    fake.add_group("acme/core", ["dev2"])
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

            def approve_on_issue(who: str) -> None:
                note = people[who].create_comment(REPO, 1, "/agentforge approve")
                deliver(hooks.note(fake.projects[REPO]["notes"][int(note.id)], iid=1, on_mr=False))

            def status() -> str:
                return status_comments(viewer, REPO, 1, BOT)[0].body

            people["ann"].create_issue(REPO, "Subtract numbers", "sub(a, b)", ["agentforge"])
            deliver(hooks.issue_opened(1, "ann"))
            data = wait_phase(viewer, REPO, 1, BOT, "discovery", "needs_approval")
            assert "[Docs]" in status() and "@acme/writers" in status()

            # GitLab's own approval by a member of @acme/writers passes [Docs].
            fake.approve(REPO, data.mr, "reviewer")
            deliver(hooks.mr_approved(data.mr, "reviewer"))
            wait_phase(viewer, REPO, 1, BOT, "build", "needs_approval")
            assert "[Code]" in status() and "2 needed" in status()

            approve_on_issue("lead")  # one of two code owners
            wait_for("lead's approval to count", lambda: "(1 so far)" in status())
            assert viewer.get_mr(REPO, data.mr).draft
            approve_on_issue("ann")  # the starter, on code: refused, politely
            wait_for(
                "the self-approval refusal",
                lambda: any(
                    "@ann" in c.body and "self_approval" in c.body
                    for c in bot_comments(viewer, REPO, 1, BOT)
                ),
            )
            approve_on_issue("dev2")  # a member of @acme/core: the second code owner
            final = wait_outcome(viewer, REPO, 1, BOT)
            settle()
            assert failed_jobs(client.db) == []
    finally:
        model.close()

    assert final.outcome == "succeeded", final.error
    assert sorted(a.by for a in final.approvals) == ["dev2", "lead", "reviewer"]
    looked_up = fake.calls_to("GET", r"/api/v4/groups/acme%2Fcore/members/all/\d+")
    assert looked_up, "the group membership was read through the GitLab API"
