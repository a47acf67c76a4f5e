"""Review comments on the MR's lines: one fix commit per review, one reply per thread.

**Batching.** GitHub sends one ``pull_request_review`` (``submitted``) per review, and
the review's line comments are read with ``list_review_comments(review_id=...)``: one
batch per review. GitLab has no such event: a review's notes arrive as separate Note
Hooks (``DiffNote``, with a ``position``), published together when the reviewer
submits. So a GitLab batch is *every unanswered line comment on the MR when the job
runs*: the first hook's job (jobs of one MR run one at a time) answers all notes that
are there, and the later hooks of the same review find them answered and do nothing.
No timer is involved, so nothing is lost across a restart; notes published after the
job started make the next batch.

Only comments by approvers are worked (a review comment makes a role spend money, so
it is held to the same rule as ``/reject``); the bot's own and other bots' never.
A thread is answered once: its comment ids are recorded in the run's ``consumed``
signals, and the reply carries a marker so a retried job does not reply twice.
"""

from __future__ import annotations

from bot.actions import ReplyToReviewComment
from bot.events import Event, ForgeKind
from bot.forge import ReviewComment
from handlers.workflow import lessons
from handlers.workflow.commands_table import safe_key
from handlers.workflow.fixups import run_fixup
from handlers.workflow.job import Job

_BODY_CHARS = 2_000


def is_line_comment(event: Event) -> bool:
    """Whether a comment event is a GitLab diff note (a line comment on the MR).

    GitHub's line comments are answered with their review (``pull_request_review``),
    never one by one.
    """
    if event.forge != ForgeKind.GITLAB or not event.is_mr:
        return False
    attrs = event.raw.get("object_attributes") if isinstance(event.raw, dict) else None
    if not isinstance(attrs, dict):
        return False
    return attrs.get("type") == "DiffNote" or bool(attrs.get("position"))


def _signal(comment: ReviewComment) -> str:
    return f"review:{comment.id}"


def _pending(job: Job, engine, data, comments: list[ReviewComment]) -> list[ReviewComment]:
    bot = (job.services.bot_login or "").lower()
    out = []
    for comment in comments:
        if comment.author.is_bot or comment.author.login.lower() == bot:
            continue
        if _signal(comment) in data.consumed:
            continue
        if not comment.body.strip() or not engine.approvers.check(comment.author.login).ok:
            continue
        out.append(comment)
    return out


def _feedback(comments: list[ReviewComment]) -> str:
    parts = ["Reviewers left these comments on the merge request's lines:"]
    for c in comments:
        where = f"{c.path}:{c.line}" if c.line is not None else c.path
        parts.append(f"- `{where}` (@{c.author.login}, comment {c.id}): {c.body[:_BODY_CHARS]}")
    parts.append("Address each one; change only what they ask for.")
    return "\n".join(parts)


def answer(job: Job, issue: int, *, review_id: str | None) -> None:
    """Answer the unanswered line comments (of one review on GitHub) with one fix-up."""
    run = job.locate(issue)
    if run is None or run.terminal:
        return
    config = job.config(issue)
    if config is None:
        return
    engine = job.engine(config)
    data = engine.data(run)
    if data.mr is None:
        return
    comments = job.services.forge.list_review_comments(data.repo, data.mr, review_id)
    pending = _pending(job, engine, data, comments)
    if not pending:
        return
    key = f"review:{review_id}" if review_id else "notes:" + ",".join(c.id for c in pending)
    with engine.guard(run):
        phase = data.phase
        outcome = run_fixup(
            engine,
            run,
            kind="review",
            key=safe_key(key),
            task="Answer the review comments on the merge request.",
            feedback=_feedback(pending),
            consumed=tuple(_signal(c) for c in pending),
            before_record=lambda sha, result: _reply(job, data, pending, sha, result),
        )
        if outcome is None:
            return
        if phase is not None:
            for comment in pending:
                lessons.remember(
                    job,
                    engine,
                    outcome.run,
                    kind="review",
                    text=comment.body,
                    phase=phase.name,
                    role=phase.role,
                    number=data.mr,
                    is_mr=True,
                )
        latest = job.services.runs.get(outcome.run.id) or outcome.run
        engine.drive(latest)


def _reply(job: Job, data, pending: list[ReviewComment], sha: str | None, result) -> None:
    if sha:
        short = sha[:10]
        text = f"Addressed in `{short}`: {result.summary.strip() or 'see the commit'}"
    elif result.status == "completed":
        text = f"No change made: {result.summary.strip() or 'the role found nothing to change'}"
    else:
        why = result.error or "; ".join(result.questions) or "no reason given"
        text = f"I could not address this: {why}. Reply here or push a fix yourself."
    job.services.actions.apply(
        [
            ReplyToReviewComment(
                repo=data.repo,
                number=data.mr,
                # Replies go to the thread's first comment (GitHub refuses replies to
                # replies; every forge's in_reply_to names the first comment).
                comment_id=c.in_reply_to or c.id,
                thread_id=c.thread_id,
                body=text,
                marker_key=safe_key(f"review-reply.{c.id}"),
                reason=f"run {data.run_id}: answer a review comment",
            )
            for c in pending
        ]
    )
