"""End to end on the local forge: the conversation commands of issue 13.

The real app runs as ``agentforge serve --local DIR`` composes it (the local forge's
outbox feeds the intake, workers run the shipped workflow handlers, roles run on the
OpenAI-wire fake scripted per role by :class:`RoleScript`); people act only through the
``agentforge local`` CLI as different users. Everything asserted is read back from the
forge: comments and their markers, labels, the branch's commits and trailers, and the
model requests the wire fake recorded.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.intake.local_feed import CURSOR_NAME
from bot.jobs.reconcile import delivery
from handlers.workflow.state import decode_marker
from tests.e2e.test_workflow_local import BOT, REPO, LocalSite
from tests.e2e.workflow_support import (
    BRANCH,
    bot_comments,
    branch_log,
    branches,
    failed_jobs,
    jobs_idle,
    read_json,
    run_state,
    running_app,
    status_comments,
    wait_for,
    wait_outcome,
    wait_phase,
)
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import (
    Hold,
    ModelFailure,
    RoleScript,
    final,
    phase_steps,
    requirements,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BRANCH_1 = BRANCH.format(n=1)
LESSONS = ".agentforge/lessons.md"


@pytest.fixture
def script() -> Iterator[RoleScript]:
    fake = OpenAIWireFake()
    try:
        yield RoleScript(fake)
        fake.server.check_assertions()
    finally:
        fake.close()


def open_issue(site: LocalSite, *labels: str) -> None:
    """The reporter opens issue 1 with ``labels``."""
    args = ["issue", "open", "--title", "Subtract numbers", "--body", "calc needs sub(a, b)."]
    for label in labels:
        args += ["--label", label]
    site.local(*args)


def comment(site: LocalSite, body: str, user: str = "reviewer") -> None:
    """``user`` comments ``body`` on issue 1."""
    site.local("comment", "1", "--body", body, user=user)


def replies(site: LocalSite) -> list[str]:
    """The bot's comments on issue 1 that are not the status comment."""
    status = {c.id for c in status_comments(site.viewer, REPO, 1, BOT)}
    return [c.body for c in bot_comments(site.viewer, REPO, 1, BOT) if c.id not in status]


def commits(site: LocalSite) -> list[dict]:
    """The bot's commits on the run's branch, oldest first (none before it exists)."""
    return branch_log(site.bare, BRANCH_1) if BRANCH_1 in branches(site.bare) else []


def model_text(script: RoleScript) -> str:
    """Every request the model received, as one string."""
    with script._lock:
        return "\n".join(json.dumps(body) for body in script.fake.requests)


def test_reject_feedback_reaches_the_role_and_makes_a_new_round(tmp_path, script) -> None:
    script.set("analyst", phase_steps("analyst", 1))
    site = LocalSite(tmp_path, script.fake.base_url)
    feedback = "state what sub(0, 0) returns and cover zero explicitly"
    with running_app(site.settings(tmp_path / "data")) as client:
        open_issue(site, "agentforge")
        first = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        [round_1] = commits(site)
        assert round_1["trailers"]["Agentforge-Phase"] == "discovery"
        assert round_1["trailers"]["Agentforge-Round"] == "1"
        assert feedback not in model_text(script)

        # The second round writes a different document (the same one would commit nothing).
        revised = requirements(1, "Subtract numbers") + "3. AC-3: `sub(0, 0)` returns `0`.\n"
        script.set(
            "analyst",
            [
                [("read_file", {"path": "docs/requirements/issue-1.md"})],
                [("write_file", {"path": "docs/requirements/issue-1.md", "content": revised})],
                final("Requirements with the zero case (AC-3).", 0.9),
            ],
        )
        comment(site, f"/reject {feedback}")
        wait_for("the second round", lambda: len(commits(site)) == 2)
        data = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        site.settle(client)
        assert failed_jobs(client.db) == []

    assert script.runs_of("analyst") == 2 and script.runs_of("developer") == 0
    # The feedback went to the model in the second round's conversation.
    second_round = [
        body
        for body in script.fake.requests
        if "You are the analyst on" in json.dumps(body) and feedback in json.dumps(body)
    ]
    assert second_round, "the /reject feedback never reached the model"
    old, new = commits(site)
    assert old["sha"] == round_1["sha"]  # built on, never force-pushed over
    assert new["trailers"]["Agentforge-Phase"] == "discovery"
    assert new["trailers"]["Agentforge-Run"] == first.run_id
    assert int(new["trailers"]["Agentforge-Round"]) > int(old["trailers"]["Agentforge-Round"])
    assert data.run_id == first.run_id and data.outcome is None
    assert data.phases[0].round == 2
    assert "AC-3" in site.viewer.get_file(REPO, "docs/requirements/issue-1.md", ref=BRANCH_1) or ""


def test_retry_after_a_failed_phase_runs_it_again_and_succeeds(tmp_path, script) -> None:
    # The model refuses the analyst's first request (an HTTP 400 is no transient error):
    # the role fails, so the phase and the run fail.
    script.set("analyst", [ModelFailure(400, "this model does not take tool calls today")])
    site = LocalSite(tmp_path, script.fake.base_url)
    with running_app(site.settings(tmp_path / "data")) as client:
        open_issue(site, "agentforge")
        failed = wait_outcome(site.viewer, REPO, 1, BOT)
        assert failed.outcome == "failed"
        assert failed.phases[0].state == "failed"
        assert "does not take tool calls today" in (failed.error or "")
        assert commits(site) == []
        site.settle(client)
        said = len(replies(site))

        # Someone without write permission may not retry: one reply, nothing changes.
        comment(site, "/retry", user="mallory")
        wait_for("the refusal", lambda: len(replies(site)) > said)
        site.settle(client)
        assert len(status_comments(site.viewer, REPO, 1, BOT)) == 1

        # The model works again; an approver retries.
        script.set("analyst", phase_steps("analyst", 1))
        comment(site, "/retry")
        wait_for("the new run", lambda: len(status_comments(site.viewer, REPO, 1, BOT)) == 2)
        data = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        site.settle(client)
        assert failed_jobs(client.db) == []

    assert [r for r in replies(site) if "@mallory" in r and "approvers" in r]
    # A new run continues the failed one on the same branch; the old status comment
    # keeps saying why it failed.
    assert data.continues == failed.run_id and data.run_id != failed.run_id
    assert data.outcome is None and data.trigger == "retry"
    old_status, _ = status_comments(site.viewer, REPO, 1, BOT)
    old = decode_marker(old_status.body)
    assert old is not None and old.run_id == failed.run_id and old.outcome == "failed"
    [commit] = commits(site)
    assert commit["trailers"]["Agentforge-Phase"] == "discovery"
    assert commit["trailers"]["Agentforge-Run"] == data.run_id
    assert script.runs_of("analyst") == 2
    assert data.mr is not None
    eyes = [
        c.body
        for c in site.viewer.list_comments(REPO, 1)
        if (BOT, "eyes") in site.viewer.list_reactions(REPO, 1, comment_id=c.id)
    ]
    assert eyes == ["/retry"]


def test_cancel_ends_the_run_and_a_later_approve_changes_nothing(tmp_path, script) -> None:
    for role in ("analyst", "developer"):
        script.set(role, phase_steps(role, 1))
    site = LocalSite(tmp_path, script.fake.base_url)
    with running_app(site.settings(tmp_path / "data")) as client:
        open_issue(site, "agentforge")
        first = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        before = commits(site)
        comment(site, "/cancel")
        data = wait_outcome(site.viewer, REPO, 1, BOT)
        assert data.outcome == "cancelled" and data.run_id == first.run_id
        wait_for(
            "the cancelled label",
            lambda: "agentforge:cancelled" in site.viewer.get_issue(REPO, 1).labels,
        )
        site.settle(client)
        said = len(replies(site))

        comment(site, "/approve")
        wait_for("the reply to /approve", lambda: len(replies(site)) > said)
        site.settle(client)
        assert failed_jobs(client.db) == []

    [answer] = replies(site)[said:]
    assert "@reviewer" in answer and "cancelled" in answer and "/approve" in answer
    after = site.state()
    assert after.outcome == "cancelled"
    assert [(p.name, p.state) for p in after.phases] == [(p.name, p.state) for p in data.phases]
    assert [p.state for p in after.phases] != ["approved", "needs_approval"]
    assert commits(site) == before  # no commit after the cancel
    assert script.runs_of("developer") == 0 and script.runs_of("analyst") == 1
    assert len(status_comments(site.viewer, REPO, 1, BOT)) == 1


def test_an_unknown_command_gets_help_and_status_changes_nothing(tmp_path, script) -> None:
    script.set("analyst", phase_steps("analyst", 1))
    site = LocalSite(tmp_path, script.fake.base_url)
    with running_app(site.settings(tmp_path / "data")) as client:
        open_issue(site, "agentforge")
        wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        site.settle(client)
        before_state, before_commits = site.state(), commits(site)

        # Anyone may ask, also someone without write permission.
        comment(site, "/agentforge frobnicate", user="mallory")
        wait_for("the help reply", lambda: len(replies(site)) == 1)
        site.settle(client)
        [help_reply] = replies(site)

        comment(site, "/status", user="mallory")
        wait_for("the status reply", lambda: len(replies(site)) == 2)
        site.settle(client)
        assert failed_jobs(client.db) == []

    assert "frobnicate" in help_reply and "not an AgentForge command" in help_reply
    for usage in ("/approve", "/reject <feedback>", "/retry", "/cancel", "/status", "/help"):
        assert f"`{usage}" in help_reply, usage
    status_reply = replies(site)[1]
    assert before_state.run_id in status_reply and "discovery" in status_reply
    assert "needs_approval" in status_reply
    after = site.state()
    assert after.run_id == before_state.run_id and after.outcome is None
    assert [(p.name, p.state, p.round) for p in after.phases] == [
        (p.name, p.state, p.round) for p in before_state.phases
    ]
    assert commits(site) == before_commits
    assert script.runs_of("analyst") == 1 and script.runs_of("developer") == 0
    assert len(status_comments(site.viewer, REPO, 1, BOT)) == 1


BUGGY_ADD = '"""A tiny calculator."""\n\n\ndef add(a: int, b: int) -> int:\n    return a + abs(b)\n'
FIXED_ADD = '"""A tiny calculator."""\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n'
REPRO = "from calc import add\n\n\ndef test_add_negative():\n    assert add(1, -2) == -1\n"
PINNED = "from calc import add\n\n\ndef test_add_more():\n    assert add(2, 3) == 5\n"


def test_a_bug_label_runs_the_bugfix_workflow_reproduce_then_fix(tmp_path, script) -> None:
    # QA first pins behaviour that works (refused: it reproduces nothing), then writes a
    # test that fails because of the bug. The developer first changes something else
    # (refused: the reproduction still fails), then fixes the bug.
    script.set(
        "qa",
        [
            [("read_file", {"path": "calc.py"})],
            [("write_file", {"path": "tests/test_add_negative.py", "content": PINNED})],
            final("tests/test_add_negative.py checks add.", 0.9),
            [("write_file", {"path": "tests/test_add_negative.py", "content": REPRO})],
            final("tests/test_add_negative.py reproduces add(1, -2) == 3.", 0.9),
        ],
    )
    script.set(
        "developer",
        [
            [("read_file", {"path": "calc.py"})],
            [("write_file", {"path": "docs/notes.md", "content": "add drops the sign\n"})],
            final("Noted the bug.", 0.9),
            [("write_file", {"path": "calc.py", "content": FIXED_ADD})],
            final("add keeps the sign of b.", 0.9),
        ],
    )
    site = LocalSite(tmp_path, script.fake.base_url, workflow=None, files={"calc.py": BUGGY_ADD})
    with running_app(site.settings(tmp_path / "data")) as client:
        open_issue(site, "agentforge", "bug")
        data = wait_phase(site.viewer, REPO, 1, BOT, "reproduce", "needs_approval")
        comment(site, "/approve")
        fixed = wait_phase(site.viewer, REPO, 1, BOT, "fix", "needs_approval")
        site.settle(client)
        assert failed_jobs(client.db) == []

    assert data.workflow == "bugfix"
    assert [(p.name, p.role) for p in data.phases] == [
        ("reproduce", "qa"),
        ("fix", "developer"),
    ]
    [status] = status_comments(site.viewer, REPO, 1, BOT)
    assert "**Workflow:** `bugfix`" in status.body
    assert "**reproduce** (qa)" in status.body
    reproduce, fix = commits(site)
    assert reproduce["trailers"]["Agentforge-Phase"] == "reproduce"
    assert reproduce["trailers"]["Agentforge-Role"] == "qa"
    assert fix["trailers"]["Agentforge-Phase"] == "fix"
    on_branch = site.viewer.get_file(REPO, "tests/test_add_negative.py", ref=BRANCH_1)
    assert on_branch == REPRO  # the refused pinning test never landed
    assert site.viewer.get_file(REPO, "calc.py", ref=BRANCH_1) == FIXED_ADD
    # Each refusal went back to the model, which corrected its answer.
    qa_text = "\n".join(
        json.dumps(b) for b in script.fake.requests if "You are QA on" in json.dumps(b)
    )
    assert "does not reproduce the bug" in qa_text
    dev_text = "\n".join(
        json.dumps(b) for b in script.fake.requests if "You are the developer on" in json.dumps(b)
    )
    assert "tests/test_add_negative.py" in dev_text and "still fail" in dev_text
    assert script.runs_of("qa") == 1 and script.runs_of("developer") == 1
    assert fixed.phases[1].state == "needs_approval" and fixed.outcome is None


def test_a_command_written_while_the_bot_was_down_is_handled_once(tmp_path, script) -> None:
    for role in ("analyst", "developer"):
        script.set(role, phase_steps(role, 1))
    site = LocalSite(tmp_path, script.fake.base_url)
    data_dir = tmp_path / "data"
    with running_app(site.settings(data_dir)) as client:
        open_issue(site, "agentforge")
        first = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        site.settle(client)

    # The bot is down: the approval's event is lost (a forge does not redeliver), which
    # for the local forge means the feed's cursor has already passed it.
    comment(site, "/approve")
    cursor = data_dir / CURSOR_NAME
    last = max(seq for seq, _ in site.viewer.events())
    saved = read_json(cursor)
    saved["cursors"] = {key: last for key in saved["cursors"]}
    cursor.write_text(json.dumps(saved), encoding="utf-8")

    # Back up: serve's scheduler sweeps the repository at start and acts on the comment.
    with running_app(site.settings(data_dir)) as client:
        data = wait_phase(site.viewer, REPO, 1, BOT, "build", "needs_approval")
        site.settle(client)
        # A later sweep finds the comment handled and does nothing again.
        queue = client.app.state.agentforge.queue
        later = datetime.now(UTC) + timedelta(minutes=5)
        assert queue.enqueue(delivery("local", REPO, later, actor=BOT)) is not None
        site.settle(client)
        (sweeps,) = client.db.execute(
            "SELECT count(*) FROM jobs WHERE event_name = 'agentforge/reconcile' AND state = 'done'"
        ).fetchone()
        assert failed_jobs(client.db) == []

    assert sweeps >= 2
    assert data.run_id == first.run_id
    assert script.runs_of("analyst") == 1 and script.runs_of("developer") == 1
    final_state = site.state()
    assert [(p.name, p.state) for p in final_state.phases] == [
        ("discovery", "approved"),
        ("build", "needs_approval"),
    ]
    assert [(c["trailers"]["Agentforge-Phase"]) for c in commits(site)] == [
        "discovery",
        "build",
    ]
    eyes = [
        c.body
        for c in site.viewer.list_comments(REPO, 1)
        if (BOT, "eyes") in site.viewer.list_reactions(REPO, 1, comment_id=c.id)
    ]
    assert eyes == ["/approve"]


def open_numbered(site: LocalSite, title: str) -> int:
    """Open a labelled issue; its number (issues and MRs share one sequence)."""
    out = site.local(
        "issue", "open", "--title", title, "--body", "calc needs more.", "--label", "agentforge"
    )
    return int(re.search(r"issue #(\d+)", out).group(1))


def reject_round(site: LocalSite, script: RoleScript, title: str, feedback: str) -> int:
    """Open an issue, wait for its discovery, ``/reject`` it with ``feedback``."""
    script.set("analyst", phase_steps("analyst", 1, title))
    issue = open_numbered(site, title)
    wait_phase(site.viewer, REPO, issue, BOT, "discovery", "needs_approval")
    revised = requirements(issue, title) + "3. AC-3: every function is typed.\n"
    script.set(
        "analyst",
        [
            [("write_file", {"path": "docs/requirements/issue-1.md", "content": revised})],
            final("Requirements with typed functions (AC-3).", 0.9),
        ],
    )
    site.local("comment", str(issue), "--body", f"/reject {feedback}", user="reviewer")
    wait_for(
        f"round 2 of issue {issue}",
        lambda: (
            (d := run_state(site.viewer, REPO, issue, BOT)) is not None
            and d.phases[0].round == 2
            and d.phases[0].state == "needs_approval"
        ),
    )
    return issue


def test_recurring_feedback_becomes_a_lesson_that_later_runs_read(tmp_path, script) -> None:
    site = LocalSite(tmp_path, script.fake.base_url)
    with running_app(site.settings(tmp_path / "data")) as client:
        # The same kind of feedback in two runs: the second run proposes a lesson.
        first = reject_round(site, script, "Subtract", "please add type hints to every function")
        site.settle(client)
        assert site.viewer.get_file(REPO, LESSONS, ref=BRANCH.format(n=first)) is None
        again = reject_round(site, script, "Multiply", "add type hints to the functions, again")
        site.settle(client)
        second = run_state(site.viewer, REPO, again, BOT)
        assert second is not None and second.mr is not None
        lesson_branch = BRANCH.format(n=again)
        proposals = [
            c for c in branch_log(site.bare, lesson_branch)
            if c["trailers"].get("Agentforge-Lesson") == "proposed"
        ]  # fmt: skip
        assert len(proposals) == 1
        lessons = site.viewer.get_file(REPO, LESSONS, ref=lesson_branch) or ""
        assert "type hints" in lessons
        mr = site.viewer.get_mr(REPO, second.mr)  # the lesson is part of the run's MR
        assert (
            mr.head_ref == lesson_branch
            and mr.head_sha == branch_log(site.bare, lesson_branch)[-1]["sha"]
        )

        # A person merges the MR with the lesson; a later run's roles are given it.
        site.local("mr", "ready", str(second.mr))
        site.local("mr", "merge", str(second.mr))
        script.set("analyst", phase_steps("analyst", 1, "Divide"))
        third = open_numbered(site, "Divide")
        wait_phase(site.viewer, REPO, third, BOT, "discovery", "needs_approval")
        site.settle(client)
        assert failed_jobs(client.db) == []

    assert "type hints" in (site.viewer.get_file(REPO, LESSONS, ref="main") or "")
    asked = [
        json.dumps(body)
        for body in script.fake.requests
        if "You are the analyst on" in json.dumps(body)
    ]
    heading = "Lessons this repository has recorded"  # agents/roles/defaults/analyst.md
    divide = [text for text in asked if "Divide" in text]
    assert divide and all(heading in text and "add type hints to" in text for text in divide)
    # Before the merge no role was given lessons (a proposal is not a lesson yet).
    assert not any(heading in text for text in asked if "Divide" not in text)
    # The first run proposed nothing (the feedback had not recurred yet).
    first_branch = branch_log(site.bare, BRANCH.format(n=first))
    assert not any(c["trailers"].get("Agentforge-Lesson") for c in first_branch)


def sweep_now(client, minutes_ahead: int) -> None:
    """Enqueue one reconcile sweep (as serve's scheduler does) and wait until it ran."""
    queue = client.app.state.agentforge.queue
    at = datetime.now(UTC) + timedelta(minutes=minutes_ahead)  # one sweep per minute
    made = queue.enqueue(delivery("local", REPO, at, actor=BOT))
    assert made is not None and made.job_id is not None
    wait_for(
        "the sweep",
        lambda: (
            client.db.execute("SELECT state FROM jobs WHERE id = ?", [made.job_id]).fetchone()[0]
            in ("done", "failed", "dead")
        ),
    )


def age_run(client, run_id: str, minutes: int) -> None:
    """Time passes for the run's record: it last changed ``minutes`` ago."""
    then = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=minutes)  # naive UTC
    client.db.execute("UPDATE runs SET updated_at = ? WHERE id = ?", [then, run_id])


def test_the_watchdog_fails_a_stuck_run_but_not_a_slow_one(tmp_path, script) -> None:
    # The analyst's first model call hangs: its job keeps renewing its lease meanwhile.
    hold = Hold(threading.Event(), ModelFailure(400, "answered after the watchdog"))
    script.set("analyst", [hold])
    site = LocalSite(
        tmp_path, script.fake.base_url, config_extra="watchdog:\n  stuck_after_minutes: 5\n"
    )
    try:
        with running_app(site.settings(tmp_path / "data")) as client:
            open_issue(site, "agentforge")
            assert hold.entered.wait(60), "the analyst never asked the model"
            (run_id, job_id) = wait_for(
                "the running phase's job",
                lambda: client.db.execute(
                    "SELECT r.id, j.id FROM runs r, jobs j WHERE r.state = 'running' AND "
                    "j.state = 'running' AND j.subject = 'local:me/calc:issue:1'"
                ).fetchone(),
            )
            # Ten minutes without a change, over the limit of five: but the phase's job is
            # alive (its lease is renewed), so the run is slow, not stuck.
            age_run(client, run_id, 10)
            sweep_now(client, 10)
            (state,) = client.db.execute("SELECT state FROM runs WHERE id = ?", [run_id]).fetchone()
            assert state == "running"
            assert not [r for r in replies(site) if "watchdog" in r]

            # The job is lost (the queue gave up on it): nothing works the phase any more.
            client.db.execute(
                "UPDATE jobs SET state = 'dead', lease_expires_at = NULL WHERE id = ?", [job_id]
            )
            # The issue's jobs held back behind the lost one run now (the bot's own events).
            wait_for("the queue to drain", lambda: jobs_idle(client.db), 30)
            age_run(client, run_id, 10)
            sweep_now(client, 20)
            failed = wait_outcome(site.viewer, REPO, 1, BOT)
            hold.release.set()  # the lost job's model call returns; it changes nothing
            wait_for("the watchdog's comment", lambda: [r for r in replies(site) if "⏱️" in r])
            sweep_now(client, 30)  # a later sweep says nothing again

            # /retry runs the phase again in a new run.
            script.set("analyst", phase_steps("analyst", 1))
            comment(site, "/retry")
            wait_for("the new run", lambda: len(status_comments(site.viewer, REPO, 1, BOT)) == 2)
            data = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
            site.settle(client)
    finally:
        hold.release.set()

    assert failed.outcome == "failed" and failed.run_id == run_id
    assert failed.phases[0].state == "failed"
    assert "no progress for 10 minutes" in (failed.error or "")
    [note] = [r for r in replies(site) if "⏱️" in r]
    assert "discovery" in note and "/retry" in note and "5" in note
    assert data.continues == run_id and data.outcome is None
    [commit] = commits(site)  # only the retried run's: the lost job pushed nothing
    assert commit["trailers"]["Agentforge-Run"] == data.run_id
