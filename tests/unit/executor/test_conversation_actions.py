"""ReplyToReviewComment and ProposeLesson through the executor into a local forge."""

from __future__ import annotations

from bot.actions import LESSONS_PATH, ProposeLesson, PushCommit, ReplyToReviewComment
from bot.executor import Executor, OutcomeStatus
from bot.forge import Permission
from bot.forges.local import LocalForge
from policies.verdict import Verdict
from tests.unit.executor.support import REPO
from tests.unit.executor.test_push import branch_log, push, read


def _review(local: LocalForge, tmp_path) -> tuple[int, str]:
    Executor(local, clones_dir=tmp_path / "clones").apply([push({"app.py": "x = 1\n"})])
    mr = local.open_mr(REPO, head="agentforge/issue-1", base="main", title="T")
    local.as_user("owner").grant(REPO, "rita", Permission.WRITE)
    local.as_user("rita").submit_review(
        REPO, mr.number, "commented", "see", [("app.py", 1, "name it total")]
    )
    (comment,) = local.list_review_comments(REPO, mr.number)
    return mr.number, comment.id


def test_reply_is_posted_once_in_the_thread(local, tmp_path) -> None:
    number, cid = _review(local, tmp_path)
    action = ReplyToReviewComment(
        repo=REPO, number=number, comment_id=cid, body="Renamed in abc", marker_key="rr.1"
    )
    executor = Executor(local, clones_dir=tmp_path / "clones")
    first = executor.apply([action])[0]
    assert first.status == OutcomeStatus.APPLIED, first.detail
    second = executor.apply([action])[0]
    assert second.status == OutcomeStatus.SKIPPED
    replies = [c for c in local.list_review_comments(REPO, number) if c.in_reply_to == cid]
    assert len(replies) == 1 and replies[0].body.startswith("Renamed in abc")


def test_reply_to_an_unknown_comment_fails_with_not_found(local, tmp_path) -> None:
    number, _ = _review(local, tmp_path)
    action = ReplyToReviewComment(repo=REPO, number=number, comment_id="4242", body="hi")
    outcome = Executor(local, clones_dir=tmp_path / "clones").apply([action])[0]
    assert outcome.status == OutcomeStatus.FAILED


def test_a_lesson_proposal_writes_only_lessons_md_and_is_idempotent(local, tmp_path) -> None:
    executor = Executor(local, clones_dir=tmp_path / "clones")
    executor.apply([push({"app.py": "x = 1\n"})])
    action = ProposeLesson(
        repo=REPO,
        branch="agentforge/issue-1",
        base="main",
        content="# Lessons\n\n- add type hints\n",
        message="agentforge(lessons): propose a lesson",
        trailers={"Agentforge-Lesson": "proposed"},
    )
    first = executor.apply([action])[0]
    assert first.status == OutcomeStatus.APPLIED, first.detail
    assert read(local, "agentforge/issue-1", LESSONS_PATH) == "# Lessons\n\n- add type hints\n"
    assert "Agentforge-Lesson: proposed" in branch_log(local, "agentforge/issue-1")[0].message
    assert executor.apply([action])[0].status == OutcomeStatus.SKIPPED
    assert "path" not in ProposeLesson.model_fields  # it cannot name another file


def test_a_judge_can_allow_lessons_while_denying_pushes_under_agentforge(local, tmp_path) -> None:
    def judge(action):
        if isinstance(action, PushCommit) and any(
            c.path.startswith(".agentforge/") for c in action.changes
        ):
            return Verdict.deny("protected path", "protected_paths")
        return Verdict.allow()

    executor = Executor(local, judge=judge, clones_dir=tmp_path / "clones")
    executor.apply([push({"app.py": "x = 1\n"})])
    sneaky = push({LESSONS_PATH: "# mine\n"})
    assert executor.apply([sneaky])[0].status == OutcomeStatus.DENIED
    lesson = ProposeLesson(
        repo=REPO, branch="agentforge/issue-1", base="main", content="# L\n", message="m"
    )
    assert executor.apply([lesson])[0].status == OutcomeStatus.APPLIED
