"""Line comments on merge requests, their threads, and check logs, in the local forge.

Like GitHub: a person's line comments are submitted with a review
(:meth:`ThreadsMixin.submit_review` takes ``comments``), every comment of a thread
answers its first comment, and a reply to a reply joins that first comment's thread.
Check logs are what a local CI run recorded with :meth:`ThreadsMixin.set_check_log`.
"""

from __future__ import annotations

from bot.errors import InvalidRequest, NotFound
from bot.forge import Comment, Review, ReviewComment, tail
from bot.forges.local_base import _dt, _now
from bot.forges.local_contents import ContentsMixin
from bot.forges.local_store import next_id

LineComment = tuple[str, int | None, str]
"""``(path, line, body)`` of one line comment."""


class ThreadsMixin(ContentsMixin):
    """Review threads on merge requests and check logs."""

    def submit_review(
        self,
        repo: str,
        number: int,
        state: str,
        body: str = "",
        comments: list[LineComment] | None = None,
    ) -> Review:
        """Review an open MR as ``self.user``, with line comments ``(path, line, body)``.

        The comments and the review land in one transaction, before the review's event
        is read by anyone.

        Raises:
            InvalidRequest: as :meth:`MergeRequestsMixin.submit_review`, or a comment
                without a path or a body.
        """
        doing = f"reviewing merge request {repo}!{number}"
        for path, _line, text in comments or []:
            if not path or not text.strip():
                raise self._err(InvalidRequest, "a line comment needs a path and a body", doing)
        with self._tx(doing) as con:
            review = super().submit_review(repo, number, state, body)
            project = self._project(con, repo, doing)
            for path, line, text in comments or []:
                cid = next_id(con, "review_comments")
                con.execute(
                    "INSERT INTO review_comments VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    [
                        cid,
                        project["id"],
                        number,
                        int(review.id),
                        self.user,
                        path,
                        line,
                        text,
                        _now(),
                    ],
                )
            return review

    def list_review_comments(
        self, repo: str, number: int, review_id: str | None = None
    ) -> list[ReviewComment]:
        """Line comments on an MR, oldest first (only one review's, if given)."""
        doing = f"listing review comments of {repo}!{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._row(con, project, number, True, doing)
            rows = con.execute(
                "SELECT id, review_id, author, path, line, body, in_reply_to, created_at "
                "FROM review_comments WHERE project_id = ? AND number = ? ORDER BY id",
                [project["id"], number],
            ).fetchall()
            return [
                ReviewComment(
                    id=str(r[0]),
                    path=r[3],
                    line=r[4],
                    body=r[5],
                    author=self._user(con, r[2]),
                    thread_id=str(r[6] if r[6] is not None else r[0]),
                    in_reply_to=str(r[6]) if r[6] is not None else None,
                    review_id=str(r[1]) if r[1] is not None else None,
                    created_at=_dt(r[7]),
                )
                for r in rows
                if review_id is None or str(r[1]) == str(review_id)
            ]

    def reply_to_review_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, thread_id: str | None = None
    ) -> Comment:
        """Reply as ``self.user`` in the thread of review comment ``comment_id``.

        Raises:
            NotFound: no such review comment on the MR.
            InvalidRequest: an empty body.
        """
        doing = f"replying to review comment {comment_id} on {repo}!{number}"
        if not body.strip():
            raise self._err(InvalidRequest, "a reply needs a body", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._row(con, project, number, True, doing)
            try:
                wanted = int(comment_id)
            except ValueError:
                wanted = -1
            root = con.execute(
                "SELECT id, path, line, in_reply_to FROM review_comments "
                "WHERE project_id = ? AND number = ? AND id = ?",
                [project["id"], number, wanted],
            ).fetchone()
            if root is None:
                raise self._err(NotFound, f"no review comment {comment_id}", doing)
            thread = root[3] if root[3] is not None else root[0]
            me = self._me(con)
            cid, now = next_id(con, "review_comments"), _now()
            con.execute(
                "INSERT INTO review_comments VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
                [cid, project["id"], number, me.login, root[1], root[2], body, thread, now],
            )
            return Comment(
                id=str(cid), body=body, author=me, created_at=_dt(now), updated_at=_dt(now)
            )

    def set_check_log(self, repo: str, sha: str, name: str, log: str) -> None:
        """Record the log of check ``name`` on ``sha`` (what a local CI run printed)."""
        doing = f"recording the log of {name} on {repo}@{sha[:12]}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            con.execute(
                "INSERT INTO check_logs VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET log = excluded.log",
                [project["id"], sha, name, log],
            )

    def get_check_log(self, repo: str, sha: str, name: str) -> str | None:
        """The recorded log of check ``name`` on ``sha`` (tail-truncated), or None."""
        doing = f"reading the log of {name} on {repo}@{sha[:12]}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            row = con.execute(
                "SELECT log FROM check_logs WHERE project_id = ? AND sha = ? AND name = ?",
                [project["id"], sha, name],
            ).fetchone()
            return tail(row[0]) if row else None
