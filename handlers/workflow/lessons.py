"""Lessons from reviews: feedback that keeps coming back becomes ``.agentforge/lessons.md``.

Every ``/reject`` feedback and every review comment the bot answers is kept per
repository (``services.feedback``, DuckDB) and indexed for search
(``services.context.add_discussion``, LanceDB). When the same kind of feedback recurs —
the store finds similar text (its documented similarity and threshold) given in at
least :data:`RECUR_RUNS` different runs, this one included — the engine proposes a
lesson: a commit on this run's branch adding one bullet to ``.agentforge/lessons.md``
(a :class:`bot.actions.ProposeLesson`, the one write under the protected
``.agentforge/`` the bot makes). A person reviews it with the rest of the MR; once
merged, every later run reads the lessons from the default branch into
``RoleTask.lessons``.
"""

from __future__ import annotations

import re
from typing import Any

from bot.actions import LESSONS_PATH, ProposeLesson
from handlers.services import RunRecord

RECUR_RUNS = 2
"""Similar feedback in this many distinct runs (this one included) makes a lesson."""
_LESSON_CHARS = 300
_HEADER = (
    "# Lessons\n\n"
    "What reviewers of this repository keep asking for. AgentForge gives these to every\n"
    "role; it proposes additions when the same feedback recurs, and people edit them.\n"
)


def _one_line(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= _LESSON_CHARS else flat[: _LESSON_CHARS - 1] + "…"


def remember(
    job: Any,
    engine: Any,
    run: RunRecord,
    *,
    kind: str,
    text: str,
    phase: str,
    role: str,
    number: int | None = None,
    is_mr: bool = False,
) -> bool:
    """Keep one piece of feedback; propose a lesson when it recurs. True if proposed."""
    data = engine.data(run)
    services = job.services
    event = job.event
    services.context.add_discussion(
        data.repo,
        number=number if number is not None else (event.number or data.issue),
        is_mr=is_mr or event.is_mr,
        comment_id=event.comment_id,
        author=event.actor.login,
        body=text,
    )
    store = services.feedback
    if store is None:
        return False
    earlier = store.similar(data.repo, text)
    store.add(data.repo, data.run_id, phase, role, text, kind)
    runs = {r.run_id for r in earlier if r.run_id != data.run_id}
    if len(runs) + 1 < RECUR_RUNS:
        return False
    return propose(engine, run, text, seen=len(runs) + 1)


def propose(engine: Any, run: RunRecord, text: str, *, seen: int) -> bool:
    """Commit one lesson bullet to the run's branch (nothing when it is already there)."""
    data = engine.data(run)
    reader = engine.s.repo
    lesson = _one_line(text)
    on_branch = reader.file_at(data.repo, data.branch, LESSONS_PATH) if data.commits else None
    current = on_branch
    if current is None:
        current = reader.file_at(data.repo, data.base, LESSONS_PATH)
    current = current or _HEADER
    if lesson.lower() in current.lower():
        return False
    content = current.rstrip("\n") + f"\n- {lesson} _(asked for in {seen} runs)_\n"
    (result,) = engine.s.actions.apply(
        [
            ProposeLesson(
                repo=data.repo,
                branch=data.branch,
                base=data.base,
                content=content,
                message=(
                    f"agentforge(lessons): propose a lesson from recurring feedback\n\n"
                    f"- {lesson}\n\nRefs #{data.issue}"
                ),
                trailers={"Agentforge-Run": data.run_id, "Agentforge-Lesson": "proposed"},
                reason=f"run {data.run_id}: the same feedback came up in {seen} runs",
            )
        ]
    )
    return result.landed
