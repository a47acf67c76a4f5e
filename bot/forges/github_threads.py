"""GitHub: line comments on pull requests, their threads, and check logs.

Helpers of :class:`bot.forges.github.GitHubForge` (kept apart so the adapter stays one
file per concern):

- review comments: ``GET /repos/{repo}/pulls/{n}/comments`` (or one review's,
  ``/pulls/{n}/reviews/{id}/comments``); a thread is its first comment's id, since
  GitHub points every reply's ``in_reply_to_id`` at the thread's first comment.
  Replies go to ``POST /pulls/{n}/comments/{id}/replies``.
- check logs: a check run of the commit with that name (``GET
  /commits/{sha}/check-runs?check_name=``); for GitHub Actions its job log
  (``GET /actions/jobs/{id}/logs``, a redirect to the plain-text log), else the run's
  output (title, summary, text). A commit status (external CI) keeps no log on
  GitHub: None.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.errors import Forbidden, NotFound
from bot.forge import Comment, ReviewComment, tail
from bot.forges import github_convert as convert

ACTIONS_APP = "github-actions"


def review_comment(data: dict[str, Any]) -> ReviewComment:
    """One pull request review comment."""
    reply_to = data.get("in_reply_to_id")
    line = data.get("line") if data.get("line") is not None else data.get("original_line")
    review = data.get("pull_request_review_id")
    return ReviewComment(
        id=str(data["id"]),
        path=data.get("path") or "",
        line=int(line) if line is not None else None,
        body=data.get("body") or "",
        author=convert.user(data.get("user")),
        thread_id=str(reply_to if reply_to is not None else data["id"]),
        in_reply_to=str(reply_to) if reply_to is not None else None,
        review_id=str(review) if review is not None else None,
        created_at=data.get("created_at"),
    )


def list_review_comments(
    http: Any, repo: str, number: int, review_id: str | None = None
) -> list[ReviewComment]:
    """Line comments on pull request ``number``, oldest first (one review's if given)."""
    if review_id is None:
        path = f"/repos/{repo}/pulls/{int(number)}/comments"
        doing = f"listing review comments of {repo}#{number}"
    else:
        path = f"/repos/{repo}/pulls/{int(number)}/reviews/{int(review_id)}/comments"
        doing = f"listing the comments of review {review_id} on {repo}#{number}"
    comments = [review_comment(c) for c in http.get_all(path, doing)]
    return sorted(comments, key=lambda c: (c.created_at is None, c.created_at, int(c.id)))


def reply(http: Any, repo: str, number: int, comment_id: str, body: str) -> Comment:
    """Reply in the thread of review comment ``comment_id``."""
    data = http.send(
        "POST",
        f"/repos/{repo}/pulls/{int(number)}/comments/{int(comment_id)}/replies",
        f"replying to review comment {comment_id} on {repo}#{number}",
        json={"body": body},
    ).json()
    return convert.comment(data)


def _output_text(run: dict[str, Any]) -> str | None:
    output = run.get("output") or {}
    parts = [output.get(k) for k in ("title", "summary", "text")]
    text = "\n\n".join(p for p in parts if p)
    return text or None


def check_log(http: Any, repo: str, sha: str, name: str) -> str | None:
    """The log of check run ``name`` on ``sha`` (tail-truncated), or None."""
    data = http.get(
        f"/repos/{repo}/commits/{quote(sha, safe='')}/check-runs",
        f"reading check runs of {repo}@{sha[:12]}",
        check_name=name,
        per_page=100,
    )
    runs = [r for r in data.get("check_runs", []) if r.get("name") == name]
    if not runs:
        return None
    run = max(runs, key=lambda r: int(r.get("id") or 0))
    text: str | None = None
    if (run.get("app") or {}).get("slug") == ACTIONS_APP:
        # An Actions check run's id is its job's id; the log endpoint redirects to text.
        try:
            resp = http.send(
                "GET",
                f"/repos/{repo}/actions/jobs/{int(run['id'])}/logs",
                f"reading the log of job {run['id']} ({name}) on {repo}",
            )
            text = resp.text or None
        except (NotFound, Forbidden):
            text = None  # expired logs, or a token without actions:read
    text = text or _output_text(run)
    return tail(text) if text else None
