"""Lessons from recurring feedback, and workflows picked by the issue's labels."""

from __future__ import annotations

from bot.actions import LESSONS_PATH, ProposeLesson
from bot.events import Actor, EventKind
from bot.repoconfig import load_files
from tests.unit.workflow.support import all_human, bot


def _label(b, number: int, labels=("agentforge",)) -> None:
    b.handle(
        b.event(
            EventKind.ISSUE,
            action="labeled",
            number=number,
            label="agentforge",
            labels=list(labels),
            state="open",
            actor=Actor(login="erin"),
            delivery_id=f"d-label-{number}",
        )
    )


def _comment(b, number: int, body: str, who: str = "alice") -> None:
    made = b.w.forge.human_comment(number, who, body)
    b.handle(
        b.event(
            EventKind.ISSUE_COMMENT,
            action="created",
            number=number,
            comment=body,
            comment_id=made.id,
            actor=Actor(login=who),
            updated_at=made.created_at,
        )
    )


def test_recurring_feedback_becomes_a_lesson_that_later_runs_get():
    b = bot(all_human())
    f = b.w.forge
    f.add_issue(8, "Refunds", "Refund an order.", "erin")
    f.add_issue(9, "Coupons", "Apply a coupon.", "erin")
    _label(b, 7)
    _comment(b, 7, "/reject Please add type hints to every public function")
    assert not b.w.sink.of(ProposeLesson), "said once is not a lesson yet"
    assert b.w.feedback.records and b.w.context.indexed
    _label(b, 8)
    _comment(b, 8, "/reject add type hints to the public functions")
    (proposal,) = b.w.sink.of(ProposeLesson)
    assert proposal.branch == "agentforge/issue-8" and proposal.path == LESSONS_PATH
    assert "add type hints to the public functions" in proposal.content
    chain = f.branches["agentforge/issue-8"]
    (lesson,) = [c for c in chain if c.trailers.get("Agentforge-Lesson") == "proposed"]
    assert lesson.tree[LESSONS_PATH] == proposal.content
    # The rejected phase's next round is built on top of the proposal.
    assert chain[-1].trailers["Agentforge-Round"] == "2"
    assert chain[-1].tree[LESSONS_PATH] == proposal.content
    # Unrelated feedback does not make a lesson.
    _comment(b, 7, "/reject the button colour is wrong")
    assert len(b.w.sink.of(ProposeLesson)) == 1
    # A person merges the MR: the lesson is on the default branch; the next run has it.
    f.base_tree[LESSONS_PATH] = proposal.content
    _label(b, 9)
    task = next(t for t in b.w.roles.tasks if t.issue and t.issue.number == 9)
    assert "add type hints to the public functions" in task.lessons


def test_a_bugfix_labelled_issue_runs_the_bugfix_workflow():
    config = load_files({})
    b = bot(config)
    b.w.forge.issues[7] = b.w.forge.issues[7].model_copy(update={"labels": ["agentforge", "bug"]})
    _label(b, 7, labels=("agentforge", "bug"))
    run = b.run()
    assert run.workflow == "bugfix"
    assert [p.name for p in run.phases] == ["reproduce", "fix"]
    assert b.w.roles.tasks[0].role == "qa"
    (status,) = b.status_comments()
    assert "**Workflow:** `bugfix`" in status.body
    # Later events of the run keep its workflow, whatever the labels say now.
    b.w.forge.issues[7] = b.w.forge.issues[7].model_copy(update={"labels": ["agentforge"]})
    b.approve()
    assert b.run().phase.name == "fix"
    # The reproduce phase's tests are held to failing; the fix must make them pass.
    reproduce, fix = b.w.roles.tasks[0], b.w.roles.tasks[1]
    assert (reproduce.new_tests, reproduce.must_pass) == ("fail", [])
    assert (fix.role, fix.new_tests, fix.must_pass) == ("developer", "pass", ["tests/test_cart.py"])


def test_a_feature_run_holds_no_phase_to_failing_tests():
    b = bot(load_files({}))
    _label(b, 7)
    b.approve()
    b.approve()
    assert [(t.new_tests, t.must_pass) for t in b.w.roles.tasks] == [("pass", [])] * 3


def test_an_unlabelled_issue_runs_the_default_workflow():
    b = bot(load_files({}))
    _label(b, 7)
    assert b.run().workflow == "feature" and b.run().phases[0].name == "discovery"


def test_a_repository_workflow_file_and_label_mapping():
    files = {
        ".agentforge/config.yaml": "workflows:\n  labels:\n    spike: research\n",
        ".agentforge/workflows/research.yaml": (
            "phases:\n  - name: explore\n    role: analyst\n    gate: human\n"
        ),
    }
    b = bot(load_files(files))
    _label(b, 7, labels=("agentforge", "spike"))
    assert b.run().workflow == "research" and b.run().phases[0].name == "explore"
