"""End to end on the local forge: the bot answering review comments and red pipelines.

The real app runs as ``agentforge serve --local DIR`` composes it, roles run on the
OpenAI-wire fake scripted per role, and people act only through the ``agentforge
local`` CLI: ``mr review --line`` leaves line comments with a review, ``status --log``
reports a CI result with its log the way a CI job would. Everything asserted is read
back from the forge (comments, review threads, commits and trailers) and from the
requests the model received.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.test_workflow_local import BOT, REPO, LocalSite
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
from tests.fakes.role_script import CALC, RoleScript, final, phase_steps

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BRANCH_1 = BRANCH.format(n=1)
TESTS_GATE = """\
version: 1
fixups:
  max_rounds: 1
  role: developer
phases:
  - name: discovery
    role: analyst
    outputs: ["docs/requirements/*.md"]
    gate: human
  - name: build
    role: developer
    outputs: ["**"]
    gate: [tests, human]
"""
"""The build waits for green checks; one fix-up round before a person is asked."""


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


def to_build(site: LocalSite) -> object:
    """Open issue 1, approve discovery; returns the state once build waits."""
    site.local(
        "issue", "open", "--title", "Subtract numbers", "--body", "calc needs sub(a, b).",
        "--label", "agentforge",
    )  # fmt: skip
    wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
    site.local("comment", "1", "--body", "/approve", user="reviewer")
    return wait_phase(site.viewer, REPO, 1, BOT, "build", "needs_approval")


def requests_of(script: RoleScript, role_phrase: str) -> list[str]:
    """Every request (as JSON text) of the conversations whose prompt has ``role_phrase``."""
    with script._lock:
        bodies = [json.dumps(body) for body in script.fake.requests]
    return [b for b in bodies if role_phrase in b]


def fix_steps(path: str, content: str, summary: str) -> list:
    """A fix-up conversation: read the file, write the fix, answer."""
    return [
        [("read_file", {"path": path})],
        [("write_file", {"path": path, "content": content})],
        final(summary, 0.85),
    ]


def test_review_comments_get_one_fix_commit_and_a_reply_in_each_thread(tmp_path, script):
    site = LocalSite(tmp_path, script.fake.base_url)
    with running_app(site.settings(tmp_path / "data")) as client:
        data = to_build(site)
        mr = data.mr
        site.settle(client)
        before = branch_log(site.bare, BRANCH_1)

        fixed = CALC.replace('"""a minus b."""', '"""a minus b (negative results allowed)."""')
        script.set(
            "developer",
            fix_steps("calc.py", fixed, "sub's docstring says negative results are allowed."),
        )
        # One review with two line comments: one role run, one commit, two replies.
        site.local(
            "mr", "review", str(mr), "--comment", "--body", "Two small things.",
            "--line", "calc.py:10:say that negative results are allowed",
            "--line", "calc.py:11:keep this one-liner, but mention the sign",
            user="reviewer",
        )  # fmt: skip
        threads = wait_for(
            "the replies in both threads",
            lambda: (
                (found := [c for c in site.viewer.list_review_comments(REPO, mr) if c.in_reply_to])
                and len(found) >= 2
                and found
            ),
        )
        site.settle(client)
        assert failed_jobs(client.db) == []
        after = site.state()

    new = branch_log(site.bare, BRANCH_1)[len(before) :]
    assert len(new) == 1, [c["message"] for c in new]
    [fix] = new
    assert fix["trailers"]["Agentforge-Fixup"] == "review"
    assert fix["trailers"]["Agentforge-Phase"] == "build"
    assert fix["trailers"]["Agentforge-Run"] == data.run_id
    assert script.runs_of("developer") == 2  # the build, then one fix-up for the review
    # Both comments reached the model in the one fix-up conversation.
    fixup = [
        r
        for r in requests_of(script, "You are the developer on")
        if "say that negative results are allowed" in r
    ]
    assert fixup and all("mention the sign" in r for r in fixup)
    comments = site.viewer.list_review_comments(REPO, mr)
    roots = [c for c in comments if not c.in_reply_to]
    assert len(roots) == 2
    assert sorted(c.in_reply_to for c in threads) == sorted(c.id for c in roots)
    for reply in threads:
        assert reply.author.login == BOT
        assert fix["sha"][:10] in reply.body
    assert "negative results allowed" in site.viewer.get_file(REPO, "calc.py", ref=BRANCH_1)
    # The push moved the head: the phase waits again, at the new head.
    assert after.phases[1].state == "needs_approval"
    assert after.phases[1].head_sha == fix["sha"]
    assert [f.kind for f in after.fixups] == ["review"]


def test_a_red_pipeline_gets_a_fix_up_round_then_a_question_to_a_person(tmp_path, script):
    site = LocalSite(tmp_path, script.fake.base_url, workflow=TESTS_GATE)
    log = tmp_path / "ci.log"
    with running_app(site.settings(tmp_path / "data")) as client:
        data = to_build(site)
        site.settle(client)
        first_head = data.phases[1].head_sha

        fixed = CALC + '\n\ndef neg(a: int) -> int:\n    """-a."""\n    return -a\n'
        script.set("developer", fix_steps("calc.py", fixed, "Adds neg(a), which the test imports."))
        log.write_text(
            "============ FAILURES ============\n"
            "E   ImportError: cannot import name 'neg' from 'calc'\n"
            "1 failed, 3 passed in 0.12s\n",
            encoding="utf-8",
        )
        site.local(
            "status", BRANCH_1, "--state", "failure", "--context", "pytest",
            "--description", "1 failed", "--log", str(log),
        )  # fmt: skip
        wait_for(
            "the fix-up commit",
            lambda: any(
                c["trailers"].get("Agentforge-Fixup") == "pipeline"
                for c in branch_log(site.bare, BRANCH_1)
            ),
        )
        site.settle(client)
        middle = site.state()
        second_head = middle.phases[1].head_sha
        assert second_head != first_head

        # Red again on the new head: the one round is used up, so a person is asked.
        log.write_text("E   AssertionError: neg(0) == 0 failed\n1 failed\n", encoding="utf-8")
        site.local(
            "status", BRANCH_1, "--state", "failure", "--context", "pytest",
            "--description", "still 1 failed", "--log", str(log),
        )  # fmt: skip
        statuses = {c.id for c in status_comments(site.viewer, REPO, 1, BOT)}
        question = wait_for(
            "the question to a person",
            lambda: [
                c for c in bot_comments(site.viewer, REPO, 1, BOT)
                if c.id not in statuses and "still fail" in c.body
            ],
        )  # fmt: skip
        site.settle(client)
        assert failed_jobs(client.db) == []
        final_state = site.state()

    fixups = [c for c in branch_log(site.bare, BRANCH_1) if c["trailers"].get("Agentforge-Fixup")]
    assert [c["trailers"]["Agentforge-Fixup"] for c in fixups] == ["pipeline"]
    assert fixups[0]["sha"] == second_head
    assert script.runs_of("developer") == 2  # the build and one fix-up, not a second
    # The fix-up read the failing job's log through the forge.
    assert any(
        "cannot import name 'neg'" in r for r in requests_of(script, "You are the developer on")
    )
    [ask] = question
    assert "`pytest`" in ask.body and "still 1 failed" in ask.body
    assert "1 fix-up round" in ask.body and "/reject" in ask.body
    assert final_state.outcome is None and final_state.phases[1].state == "needs_approval"
    assert "pytest" in status_comments(site.viewer, REPO, 1, BOT)[0].body
