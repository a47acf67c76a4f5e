"""GitLab: diff notes on merge requests, their discussions, and job logs.

Helpers of :class:`bot.forges.gitlab.GitLabForge`:

- line comments are the notes of an MR's discussions that carry a ``position``
  (``type: DiffNote``): ``GET /projects/:id/merge_requests/:iid/discussions``. A
  thread is a discussion (its id); the first note has no ``in_reply_to``, later ones
  answer the first. GitLab keeps no review id on notes (a review's notes are
  published together, each with its own Note Hook), so ``review_id`` is always None
  and filtering by review returns nothing.
- a reply is a note on the discussion: ``POST .../discussions/:discussion_id/notes``.
- a check's log is its job's trace: the newest pipeline of the commit
  (``GET /pipelines?sha=``), the job of that name in it (``/pipelines/:id/jobs``),
  ``GET /jobs/:id/trace``. The check named ``pipeline`` (the pipeline itself) gets the
  traces of its failed jobs.
"""

from __future__ import annotations

from typing import Any

from bot.errors import Forbidden, NotFound
from bot.forge import Comment, ReviewComment, tail
from bot.forges import gitlab_convert as convert

PIPELINE_CHECK = "pipeline"
"""The context name under which the pipeline itself is reported."""


def _line(position: dict[str, Any]) -> int | None:
    line = position.get("new_line")
    if line is None:
        line = position.get("old_line")
    return int(line) if line is not None else None


def review_comments(discussions: list[dict[str, Any]]) -> list[ReviewComment]:
    """The diff notes of an MR's discussions, oldest first."""
    out: list[ReviewComment] = []
    for discussion in discussions:
        notes = [n for n in discussion.get("notes") or [] if not n.get("system")]
        if not notes or not any(n.get("position") for n in notes):
            continue  # a general comment thread, not one on the diff
        first = notes[0]
        position = first.get("position") or {}
        path = position.get("new_path") or position.get("old_path") or ""
        for note in notes:
            own = note.get("position") or position
            out.append(
                ReviewComment(
                    id=str(note["id"]),
                    path=own.get("new_path") or own.get("old_path") or path,
                    line=_line(own),
                    body=note.get("body") or "",
                    author=convert.user(note.get("author")),
                    thread_id=str(discussion["id"]),
                    in_reply_to=None if note is first else str(first["id"]),
                    review_id=None,
                    created_at=note.get("created_at"),
                )
            )
    return sorted(out, key=lambda c: (c.created_at is None, c.created_at, int(c.id)))


def discussion_of(comments: list[ReviewComment], comment_id: str) -> str:
    """The discussion a note belongs to.

    Raises:
        NotFound: no diff note with that id on the MR.
    """
    for comment in comments:
        if comment.id == str(comment_id):
            return comment.thread_id
    raise NotFound(f"replying to note {comment_id}: no such diff note on the MR", forge="gitlab")


def reply(http: Any, mr_path: str, ref: str, discussion: str, body: str) -> Comment:
    """Add a note to discussion ``discussion`` of the MR at ``mr_path``."""
    resp = http.send(
        "post",
        f"{mr_path}/discussions/{discussion}/notes",
        f"replying in discussion {discussion} of {ref}",
        post={"body": body},
    )
    return convert.comment(resp.json())


def _trace(http: Any, pid_path: str, job: dict[str, Any], repo: str) -> str | None:
    try:
        resp = http.send(
            "get", f"{pid_path}/jobs/{int(job['id'])}/trace", f"reading the log of job {job['id']}"
        )
    except (NotFound, Forbidden):
        return None  # erased or expired trace
    text = resp.text if hasattr(resp, "text") else str(resp)
    return f"$ job {job.get('name')} ({job.get('status')})\n{text}" if text else None


def check_log(http: Any, pid_path: str, repo: str, sha: str, name: str) -> str | None:
    """The trace of job ``name`` in the commit's newest pipeline (tail-truncated)."""
    pipelines = http.get_all(
        f"{pid_path}/pipelines", f"reading pipelines of {repo}@{sha[:12]}", sha=sha
    )
    if not pipelines:
        return None
    newest = max(pipelines, key=lambda p: int(p.get("id") or 0))
    jobs = http.get_all(
        f"{pid_path}/pipelines/{int(newest['id'])}/jobs",
        f"reading the jobs of pipeline {newest['id']} of {repo}",
    )
    if name == PIPELINE_CHECK:
        chosen = [j for j in jobs if j.get("status") == "failed"]
    else:
        named = [j for j in jobs if j.get("name") == name]
        chosen = [max(named, key=lambda j: int(j.get("id") or 0))] if named else []
    texts = [t for t in (_trace(http, pid_path, j, repo) for j in chosen) if t]
    return tail("\n\n".join(texts)) if texts else None
