"""Merge requests, reviews, merges and commit statuses of the local forge."""

from __future__ import annotations

import pygit2

from bot.errors import Conflict, InvalidRequest
from bot.events import EventKind, ReviewState
from bot.forge import CommitState, CommitStatus, MergeRequest, Permission, Review
from bot.forges import local_git
from bot.forges.local_base import REVIEW_STATES, _dt, _now
from bot.forges.local_items import _ITEM_COLUMNS, ItemsMixin
from bot.forges.local_pushes import sync_pushes
from bot.forges.local_store import next_id

MR_STATES = ("open", "closed", "merged", "all")
_PIPELINE_STATUS = {
    CommitState.PENDING: "pending",
    CommitState.RUNNING: "running",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failure",
    CommitState.ERROR: "failure",
    CommitState.CANCELLED: "cancelled",
}


class MergeRequestsMixin(ItemsMixin):
    """Merge requests and what hangs off them."""

    def _sync_pushes(self, con) -> None:
        """Record pushes not seen yet as events (see :mod:`bot.forges.local_pushes`)."""
        sync_pushes(self, con)

    def _mr(self, con, project: dict, number: int, doing: str) -> MergeRequest:
        value = self._value(con, project, self._row(con, project, number, True, doing))
        assert isinstance(value, MergeRequest)
        return value

    def _emit_mr(self, con, project: dict, mr: MergeRequest, action: str, **extra) -> None:
        self._emit(
            con, project, EventKind.MR, action, **self._item_event(con, project, mr, **extra)
        )

    def get_mr(self, repo: str, number: int) -> MergeRequest:
        """Read one merge request (an issue's number is NotFound here)."""
        doing = f"reading merge request {repo}!{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            return self._mr(con, project, number, doing)

    def list_mrs(
        self, repo: str, *, state: str = "open", head: str | None = None
    ) -> list[MergeRequest]:
        """Merge requests in a state (``open``, ``closed``, ``merged``, ``all``), by number."""
        doing = f"listing merge requests of {repo}"
        if state not in MR_STATES:
            raise self._err(InvalidRequest, f"state must be one of {', '.join(MR_STATES)}", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            rows = con.execute(
                "SELECT number FROM items WHERE project_id = ? AND is_mr "
                "AND (? = 'all' OR state = ?) AND (? IS NULL OR head_ref = ?) ORDER BY number",
                [project["id"], state, state, head, head],
            ).fetchall()
            return [self._mr(con, project, r[0], doing) for r in rows]

    def _open_duplicate(self, con, project: dict, head: str, base: str) -> int | None:
        row = con.execute(
            "SELECT number FROM items WHERE project_id = ? AND is_mr AND state = 'open' "
            "AND head_ref = ? AND base_ref = ?",
            [project["id"], head, base],
        ).fetchone()
        return row[0] if row else None

    def open_mr(
        self,
        repo: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str = "",
        draft: bool = False,
    ) -> MergeRequest:
        """Open a merge request from ``head`` into ``base``.

        Raises:
            InvalidRequest: empty title, a branch missing from the repository, or
                ``head`` equal to ``base``.
            Conflict: an open MR for the same head and base exists.
        """
        doing = f"opening a merge request {head} -> {base} in {repo}"
        if not title.strip():
            raise self._err(InvalidRequest, "a merge request needs a title", doing)
        if head == base:
            raise self._err(InvalidRequest, "head and base are the same branch", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            bare = self._bare(repo)
            for branch in (head, base):
                if local_git.branch_sha(bare, branch) is None:
                    raise self._err(InvalidRequest, f"branch {branch} does not exist", doing)
            existing = self._open_duplicate(con, project, head, base)
            if existing is not None:
                raise self._err(Conflict, f"merge request !{existing} is already open", doing)
            me = self._me(con)
            number = self._take_number(con, project)
            now = _now()
            con.execute(
                f"INSERT INTO items (project_id, {_ITEM_COLUMNS}) VALUES "  # noqa: S608
                "(?, ?, true, ?, ?, 'open', ?, ?, ?, ?, NULL, NULL, ?, ?)",
                [project["id"], number, title, body, me.login, draft, head, base, now, now],
            )
            mr = self._mr(con, project, number, doing)
            self._emit_mr(con, project, mr, "opened")
        return mr

    def update_mr(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> MergeRequest:
        """Change an MR's title, description or state (``open`` / ``closed``).

        Raises:
            InvalidRequest: another state, or the MR is merged.
            Conflict: reopening while another open MR has the same branches.
        """
        doing = f"updating merge request {repo}!{number}"
        if state not in (None, "open", "closed"):
            raise self._err(InvalidRequest, f"state must be open or closed, not {state!r}", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            row = self._row(con, project, number, True, doing)
            if row["state"] == "merged" and (state is not None):
                raise self._err(InvalidRequest, "a merged merge request stays merged", doing)
            if state == "open" and row["state"] == "closed":
                dup = self._open_duplicate(con, project, row["head_ref"], row["base_ref"])
                if dup is not None:
                    raise self._err(
                        Conflict, f"merge request !{dup} is open for that branch", doing
                    )
                if local_git.branch_sha(self._bare(repo), row["head_ref"]) is None:
                    raise self._err(InvalidRequest, f"branch {row['head_ref']} is gone", doing)
            if state == "closed" and row["state"] == "open":
                head_sha = local_git.branch_sha(self._bare(repo), row["head_ref"])
                con.execute(
                    "UPDATE items SET final_head_sha = ? WHERE project_id = ? AND number = ?",
                    [head_sha, project["id"], number],
                )
            actions = self._apply_edits(con, project, row, title, body, state, doing)
            mr = self._mr(con, project, number, doing)
            for action in actions:
                self._emit_mr(con, project, mr, action)
        return mr

    def mark_ready(self, repo: str, number: int) -> MergeRequest:
        """Take an MR out of draft (no change, no event, if it is not a draft)."""
        doing = f"marking merge request {repo}!{number} ready"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            row = self._row(con, project, number, True, doing)
            if row["author"] != self.user:
                self._require(con, project, Permission.WRITE, doing)
            if row["draft"]:
                con.execute(
                    "UPDATE items SET draft = false, updated_at = ? "
                    "WHERE project_id = ? AND number = ?",
                    [_now(), project["id"], number],
                )
                mr = self._mr(con, project, number, doing)
                self._emit_mr(con, project, mr, "ready_for_review")
            return self._mr(con, project, number, doing)

    def merge_mr(self, repo: str, number: int, *, fast_forward: bool = True) -> MergeRequest:
        """Merge an open, non-draft MR into its base in the bare repository.

        Fast-forwards when possible (unless ``fast_forward`` is False), else writes a
        merge commit. Needs WRITE permission.

        Raises:
            InvalidRequest: the MR is not open, is a draft, or has nothing to merge.
            Conflict: the branches conflict.
            Forbidden: ``self.user`` lacks WRITE.
        """
        doing = f"merging merge request {repo}!{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._require(con, project, Permission.WRITE, doing)
            mr = self._mr(con, project, number, doing)
            if mr.state != "open":
                raise self._err(InvalidRequest, f"it is {mr.state}, not open", doing)
            if mr.draft:
                raise self._err(InvalidRequest, "it is a draft; mark it ready first", doing)
            me = self._me(con)
            sig = pygit2.Signature(me.login, f"{me.login}@localhost")
            message = f"Merge !{number}: {mr.title}\n\nMerges {mr.head_ref} into {mr.base_ref}.\n"
            sha, _ff = local_git.merge_branch(
                self._bare(repo),
                mr.head_ref,
                mr.base_ref,
                message=message,
                committer=sig,
                fast_forward=fast_forward,
            )
            con.execute(
                "UPDATE items SET state = 'merged', final_head_sha = ?, merge_sha = ?, "
                "updated_at = ? WHERE project_id = ? AND number = ?",
                [mr.head_sha, sha, _now(), project["id"], number],
            )
            # The base moved without a hook: record that push before the merge event.
            self._sync_pushes(con)
            merged = self._mr(con, project, number, doing)
            self._emit_mr(con, project, merged, "merged")
        return merged

    # --- reviews

    def submit_review(self, repo: str, number: int, state: str, body: str = "") -> Review:
        """Review an open MR as ``self.user`` on its current head.

        Raises:
            InvalidRequest: unknown state, MR not open, approving or requesting changes
                on one's own MR, or a ``commented`` review without a body.
        """
        doing = f"reviewing merge request {repo}!{number}"
        if state not in REVIEW_STATES:
            raise self._err(
                InvalidRequest, f"state must be one of {', '.join(REVIEW_STATES)}", doing
            )
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            mr = self._mr(con, project, number, doing)
            if mr.state != "open":
                raise self._err(InvalidRequest, f"it is {mr.state}", doing)
            if mr.author.login == self.user and state != "commented":
                raise self._err(
                    InvalidRequest, "authors cannot approve or block their own MR", doing
                )
            if state == "commented" and not body.strip():
                raise self._err(InvalidRequest, "a comment review needs a body", doing)
            me = self._me(con)
            rid, now = next_id(con, "reviews"), _now()
            con.execute(
                "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [rid, project["id"], number, me.login, state, body, mr.head_sha, now],
            )
            fields = self._item_event(
                con,
                project,
                mr,
                review_state=ReviewState(state),
                comment=body or None,
                object_id=str(rid),
                updated_at=now,
            )
            self._emit(con, project, EventKind.MR_REVIEW, "submitted", **fields)
            return Review(
                id=str(rid),
                author=me,
                state=state,
                body=body,
                commit_id=mr.head_sha,
                submitted_at=_dt(now),
            )

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Reviews on an MR, oldest first."""
        doing = f"listing reviews of {repo}!{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._row(con, project, number, True, doing)
            rows = con.execute(
                "SELECT id, author, state, body, commit_id, submitted_at FROM reviews "
                "WHERE project_id = ? AND number = ? ORDER BY id",
                [project["id"], number],
            ).fetchall()
            return [
                Review(
                    id=str(r[0]),
                    author=self._user(con, r[1]),
                    state=r[2],
                    body=r[3],
                    commit_id=r[4],
                    submitted_at=_dt(r[5]),
                )
                for r in rows
            ]

    # --- commit statuses

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        state: CommitState,
        *,
        context: str,
        description: str = "",
        target_url: str | None = None,
    ) -> CommitStatus:
        """Report a status on a commit that exists in the repository."""
        doing = f"setting status {context} on {repo}@{sha[:12]}"
        try:
            state = CommitState(state)
        except ValueError:
            raise self._err(InvalidRequest, f"unknown commit state {state!r}", doing) from None
        if not context.strip():
            raise self._err(InvalidRequest, "a status needs a context", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            if not local_git.has_commit(self._bare(repo), sha):
                raise self._err(InvalidRequest, f"no commit {sha} in {repo}", doing)
            bare = self._bare(repo)
            full = str(bare[sha].id)
            # A CI status names its branch (GitLab's pipeline ``ref``, GitHub's status
            # ``branches``): handlers find the MR, and the run, by it.
            branches = sorted(
                name.removeprefix("refs/heads/")
                for name, tip in local_git.read_refs(bare).items()
                if tip == full and name.startswith("refs/heads/")
            )
            default = local_git.default_branch(bare)
            on = next((b for b in branches if b != default), branches[0] if branches else None)
            me = self._me(con)
            sid, now = next_id(con, "statuses"), _now()
            con.execute(
                "INSERT INTO statuses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sid,
                    project["id"],
                    full,
                    state.value,
                    context,
                    description,
                    target_url,
                    me.login,
                    now,
                ],
            )
            self._emit(
                con,
                project,
                EventKind.PIPELINE,
                state.value,
                head_sha=full,
                head_ref=on,
                pipeline_status=_PIPELINE_STATUS[state],
                pipeline_name=context,
                url=target_url,
                object_id=str(sid),
                updated_at=now,
            )
        return CommitStatus(
            sha=full, state=state, context=context, description=description, target_url=target_url
        )

    def list_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        """The latest status per context on a commit, by context."""
        doing = f"listing statuses on {repo}@{sha[:12]}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            rows = con.execute(
                "SELECT sha, state, context, description, target_url FROM statuses s "
                "WHERE project_id = ? AND (sha = ? OR starts_with(sha, ?)) AND id = ("
                "  SELECT max(id) FROM statuses t WHERE t.project_id = s.project_id "
                "  AND t.sha = s.sha AND t.context = s.context) ORDER BY context",
                [project["id"], sha, sha if len(sha) >= 7 else sha + "\x00"],
            ).fetchall()
        return [
            CommitStatus(
                sha=r[0], state=CommitState(r[1]), context=r[2], description=r[3], target_url=r[4]
            )
            for r in rows
        ]
