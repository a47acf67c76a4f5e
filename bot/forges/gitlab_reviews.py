"""GitLab review verdicts: system notes and diff versions → :class:`bot.forge.Review`.

GitLab has no review objects in its REST API. A verdict shows up as a system note
written by the reviewer, with one of these bodies (GitLab source and merge requests):

* ``approved this merge request`` / ``unapproved this merge request``:
  ``SystemNotes::MergeRequestsService#approve_mr`` / ``#unapprove_mr``
  (``app/services/system_notes/merge_requests_service.rb``);
* ``requested changes``: added by gitlab-org/gitlab!151047 (2024, with the "Request
  changes" review option) when a reviewer submits a review that requests changes;
* ``left review comments``: a review submitted with "Comment" (gitlab-org/gitlab#512904,
  first worded ``left review comments without approving or requesting changes`` and
  shortened by gitlab-org/gitlab!182885). Older GitLab versions write no note for a
  comment-only review, so there it is simply not seen.

The note keeps no commit id, so a review's commit is the head of the MR's newest diff
version created no later than the note; its body is the reviewer's own note written
just before the verdict (the review summary), if there is one.
"""

from __future__ import annotations

from typing import Any

from bot.forge import Review
from bot.forges.gitlab_convert import user

VERDICTS = {
    "approved this merge request": "approved",
    "unapproved this merge request": "dismissed",
    "requested changes": "changes_requested",
    "left review comments": "commented",
    "left review comments without approving or requesting changes": "commented",
}


def verdict(note: dict[str, Any]) -> str | None:
    """The review state a note records, or None for any other note.

    Only system notes count: a person typing "requested changes" is a comment.
    """
    if not note.get("system"):
        return None
    return VERDICTS.get((note.get("body") or "").strip())


def reviews_from(notes: list[dict[str, Any]], versions: list[dict[str, Any]]) -> list[Review]:
    """The reviews recorded in an MR's notes, oldest first.

    Args:
        notes: The MR's notes (user and system), oldest first.
        versions: The MR's diff versions (``head_commit_sha``, ``created_at``), any order.
    """
    versions = sorted(versions, key=lambda v: v["created_at"])
    reviews: list[Review] = []
    previous: dict[str, Any] | None = None
    for note in notes:
        state = verdict(note)
        if state is not None:
            login = note["author"]["username"]
            summary = ""
            if (
                previous is not None
                and not previous.get("system")
                and previous["author"]["username"] == login
            ):
                summary = previous.get("body") or ""
            heads = [
                v["head_commit_sha"] for v in versions if v["created_at"] <= note["created_at"]
            ]
            reviews.append(
                Review(
                    id=str(note["id"]),
                    author=user(note["author"]),
                    state=state,
                    body=summary,
                    commit_id=heads[-1] if heads else None,
                    submitted_at=note.get("created_at"),
                )
            )
        previous = note
    return reviews
