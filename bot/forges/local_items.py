"""Issues, comments, labels and reactions of the local forge."""

from __future__ import annotations

from typing import Any

import duckdb

from bot.errors import Forbidden, InvalidRequest, NotFound
from bot.events import EventKind
from bot.forge import Comment, Issue, MergeRequest, Permission
from bot.forges import local_git
from bot.forges.local_base import REACTIONS, LocalBase, _dt, _now
from bot.forges.local_store import next_id

_ITEM_COLUMNS = (
    "number, is_mr, title, body, state, author, draft, head_ref, base_ref, "
    "final_head_sha, merge_sha, created_at, updated_at"
)


class ItemsMixin(LocalBase):
    """Issues and what issues and MRs share: comments, labels, reactions."""

    # --- rows → values

    def _row(
        self, con: duckdb.DuckDBPyConnection, project: dict, number: int, is_mr: bool, doing: str
    ) -> dict[str, Any]:
        cur = con.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE project_id = ? AND number = ?",  # noqa: S608
            [project["id"], number],
        )
        row = cur.fetchone()
        kind = "merge request" if is_mr else "issue"
        if row is None:
            raise self._err(NotFound, f"no {kind} #{number} in {project['full_name']}", doing)
        data = dict(zip([d[0] for d in cur.description], row, strict=True))
        if bool(data["is_mr"]) != is_mr:
            raise self._err(NotFound, f"#{number} in {project['full_name']} is not a {kind}", doing)
        return data

    def _labels(self, con: duckdb.DuckDBPyConnection, project: dict, number: int) -> list[str]:
        rows = con.execute(
            "SELECT label FROM labels WHERE project_id = ? AND number = ? ORDER BY seq",
            [project["id"], number],
        ).fetchall()
        return [r[0] for r in rows]

    def _value(
        self, con: duckdb.DuckDBPyConnection, project: dict, row: dict[str, Any]
    ) -> Issue | MergeRequest:
        common = {
            "number": row["number"],
            "title": row["title"],
            "body": row["body"],
            "state": row["state"],
            "labels": self._labels(con, project, row["number"]),
            "author": self._user(con, row["author"]),
            "created_at": _dt(row["created_at"]),
            "updated_at": _dt(row["updated_at"]),
        }
        if not row["is_mr"]:
            return Issue(**common)
        head_sha = row["final_head_sha"]
        if row["state"] == "open":
            head_sha = local_git.branch_sha(self._bare(project["full_name"]), row["head_ref"])
        return MergeRequest(
            **common,
            draft=bool(row["draft"]),
            head_ref=row["head_ref"],
            base_ref=row["base_ref"],
            head_sha=head_sha,
        )

    def _touch(self, con: duckdb.DuckDBPyConnection, project: dict, number: int) -> None:
        con.execute(
            "UPDATE items SET updated_at = ? WHERE project_id = ? AND number = ?",
            [_now(), project["id"], number],
        )

    def _item_kind(self, is_mr: bool) -> EventKind:
        return EventKind.MR if is_mr else EventKind.ISSUE

    # --- issues

    def create_issue(
        self, repo: str, title: str, body: str = "", labels: list[str] | None = None
    ) -> Issue:
        """Open an issue as ``self.user``."""
        doing = f"opening an issue in {repo}"
        if not title.strip():
            raise self._err(InvalidRequest, "an issue needs a title", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            me = self._me(con)
            number = self._take_number(con, project)
            now = _now()
            con.execute(
                f"INSERT INTO items (project_id, {_ITEM_COLUMNS}) VALUES "  # noqa: S608
                "(?, ?, false, ?, ?, 'open', ?, false, NULL, NULL, NULL, NULL, ?, ?)",
                [project["id"], number, title, body, me.login, now, now],
            )
            self._put_labels(con, project, number, labels or [], doing)
            issue = self._value(con, project, self._row(con, project, number, False, doing))
            self._emit(
                con, project, EventKind.ISSUE, "opened", **self._item_event(con, project, issue)
            )
        return issue

    def _take_number(self, con: duckdb.DuckDBPyConnection, project: dict) -> int:
        row = con.execute(
            "SELECT next_number FROM projects WHERE id = ?", [project["id"]]
        ).fetchone()
        con.execute(
            "UPDATE projects SET next_number = next_number + 1 WHERE id = ?", [project["id"]]
        )
        return int(row[0])

    def get_issue(self, repo: str, number: int) -> Issue:
        """Read one issue (an MR's number is NotFound here)."""
        doing = f"reading issue {repo}#{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            return self._value(con, project, self._row(con, project, number, False, doing))

    def list_issues(self, repo: str, *, state: str = "open") -> list[Issue]:
        """Issues in a state (``open``, ``closed``, ``all``), by number."""
        doing = f"listing issues of {repo}"
        if state not in ("open", "closed", "all"):
            raise self._err(InvalidRequest, f"unknown state {state!r}", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            rows = con.execute(
                "SELECT number FROM items WHERE project_id = ? AND NOT is_mr "
                "AND (? = 'all' OR state = ?) ORDER BY number",
                [project["id"], state, state],
            ).fetchall()
            return [
                self._value(con, project, self._row(con, project, r[0], False, doing)) for r in rows
            ]

    def update_issue(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> Issue:
        """Edit an issue, or close/reopen it (``state`` = ``closed`` / ``open``)."""
        doing = f"updating issue {repo}#{number}"
        if state not in (None, "open", "closed"):
            raise self._err(InvalidRequest, f"state must be open or closed, not {state!r}", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            row = self._row(con, project, number, False, doing)
            actions = self._apply_edits(con, project, row, title, body, state, doing)
            issue = self._value(con, project, self._row(con, project, number, False, doing))
            for action in actions:
                fields = self._item_event(con, project, issue)
                self._emit(con, project, EventKind.ISSUE, action, **fields)
        return issue

    def _apply_edits(
        self,
        con: duckdb.DuckDBPyConnection,
        project: dict,
        row: dict[str, Any],
        title: str | None,
        body: str | None,
        state: str | None,
        doing: str,
    ) -> list[str]:
        """Write title/body/state changes; returns the event actions they cause."""
        if row["author"] != self.user:
            self._require(con, project, Permission.TRIAGE, doing)
        if title is not None and not title.strip():
            raise self._err(InvalidRequest, "the title cannot be empty", doing)
        actions = []
        new_title = row["title"] if title is None else title
        new_body = row["body"] if body is None else body
        if (new_title, new_body) != (row["title"], row["body"]):
            actions.append("edited")
        new_state = row["state"] if state is None else state
        if new_state != row["state"]:
            actions.append("closed" if new_state == "closed" else "reopened")
        if actions:
            con.execute(
                "UPDATE items SET title = ?, body = ?, state = ?, updated_at = ? "
                "WHERE project_id = ? AND number = ?",
                [new_title, new_body, new_state, _now(), project["id"], row["number"]],
            )
        return actions

    # --- comments

    def _comment(self, con: duckdb.DuckDBPyConnection, row: tuple) -> Comment:
        return Comment(
            id=str(row[0]),
            body=row[1],
            author=self._user(con, row[2]),
            created_at=_dt(row[3]),
            updated_at=_dt(row[4]),
        )

    def list_comments(self, repo: str, number: int, *, is_mr: bool = False) -> list[Comment]:
        """All comments on an issue or MR, oldest first."""
        doing = f"listing comments on {repo}#{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._row(con, project, number, is_mr, doing)
            rows = con.execute(
                "SELECT id, body, author, created_at, updated_at FROM comments "
                "WHERE project_id = ? AND number = ? ORDER BY id",
                [project["id"], number],
            ).fetchall()
            return [self._comment(con, r) for r in rows]

    def create_comment(self, repo: str, number: int, body: str, *, is_mr: bool = False) -> Comment:
        """Comment on an issue or MR as ``self.user``."""
        doing = f"commenting on {repo}#{number}"
        if not body.strip():
            raise self._err(InvalidRequest, "a comment needs a body", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            row = self._row(con, project, number, is_mr, doing)
            me = self._me(con)
            cid, now = next_id(con, "comments"), _now()
            con.execute(
                "INSERT INTO comments VALUES (?, ?, ?, ?, ?, ?, ?)",
                [cid, project["id"], number, me.login, body, now, now],
            )
            comment = self._comment(con, (cid, body, me.login, now, now))
            self._comment_event(con, project, row, comment, "created")
        return comment

    def _comment_event(
        self,
        con: duckdb.DuckDBPyConnection,
        project: dict,
        row: dict,
        comment: Comment,
        action: str,
    ) -> None:
        item = self._value(con, project, row)
        fields = self._item_event(
            con,
            project,
            item,
            comment=comment.body,
            comment_id=comment.id,
            object_id=comment.id,
            updated_at=comment.updated_at,
        )
        kind = EventKind.MR_COMMENT if row["is_mr"] else EventKind.ISSUE_COMMENT
        self._emit(con, project, kind, action, **fields)

    def edit_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, is_mr: bool = False
    ) -> Comment:
        """Replace a comment's text (its author, or a maintainer)."""
        doing = f"editing comment {comment_id} on {repo}#{number}"
        if not body.strip():
            raise self._err(InvalidRequest, "a comment needs a body", doing)
        if not str(comment_id).isdigit():
            raise self._err(NotFound, f"no comment {comment_id!r}", doing)
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            row = self._row(con, project, number, is_mr, doing)
            found = con.execute(
                "SELECT id, body, author, created_at, updated_at FROM comments "
                "WHERE id = ? AND project_id = ? AND number = ?",
                [int(comment_id), project["id"], number],
            ).fetchone()
            if found is None:
                raise self._err(NotFound, f"no comment {comment_id} on #{number}", doing)
            if (
                found[2] != self.user
                and self._level(con, project["id"], self.user) < Permission.MAINTAIN
            ):
                raise self._err(Forbidden, f"{self.user} may not edit {found[2]}'s comment", doing)
            now = _now()
            con.execute(
                "UPDATE comments SET body = ?, updated_at = ? WHERE id = ?",
                [body, now, int(comment_id)],
            )
            comment = self._comment(con, (found[0], body, found[2], found[3], now))
            self._comment_event(con, project, row, comment, "edited")
        return comment

    # --- labels

    def _put_labels(
        self,
        con: duckdb.DuckDBPyConnection,
        project: dict,
        number: int,
        labels: list[str],
        doing: str,
    ) -> list[str]:
        added = []
        present = set(self._labels(con, project, number))
        for label in labels:
            if not label.strip() or len(label) > 100:
                raise self._err(InvalidRequest, f"label {label!r} is empty or too long", doing)
            if label in present:
                continue
            seq = next_id(con, "labels", "seq")
            con.execute(
                "INSERT INTO labels VALUES (?, ?, ?, ?)", [project["id"], number, label, seq]
            )
            present.add(label)
            added.append(label)
        return added

    def add_labels(
        self, repo: str, number: int, labels: list[str], *, is_mr: bool = False
    ) -> list[str]:
        """Add labels (present ones are skipped); returns the labels now present."""
        doing = f"labelling {repo}#{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._row(con, project, number, is_mr, doing)
            added = self._put_labels(con, project, number, labels, doing)
            if added:
                self._touch(con, project, number)
                item = self._value(con, project, self._row(con, project, number, is_mr, doing))
                for label in added:
                    fields = self._item_event(con, project, item, label=label)
                    self._emit(con, project, self._item_kind(is_mr), "labeled", **fields)
            return self._labels(con, project, number)

    def remove_label(self, repo: str, number: int, label: str, *, is_mr: bool = False) -> list[str]:
        """Remove one label (absent is fine); returns the labels now present."""
        doing = f"unlabelling {repo}#{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._row(con, project, number, is_mr, doing)
            if label in self._labels(con, project, number):
                con.execute(
                    "DELETE FROM labels WHERE project_id = ? AND number = ? AND label = ?",
                    [project["id"], number, label],
                )
                self._touch(con, project, number)
                item = self._value(con, project, self._row(con, project, number, is_mr, doing))
                fields = self._item_event(con, project, item, label=label)
                self._emit(con, project, self._item_kind(is_mr), "unlabeled", **fields)
            return self._labels(con, project, number)

    # --- reactions

    def add_reaction(
        self,
        repo: str,
        number: int,
        reaction: str,
        *,
        comment_id: str | None = None,
        is_mr: bool = False,
    ) -> None:
        """React to an issue/MR or one of its comments (reacting twice is one reaction)."""
        doing = f"reacting {reaction} on {repo}#{number}"
        if reaction not in REACTIONS:
            raise self._err(
                InvalidRequest,
                f"unknown reaction; expected one of {', '.join(sorted(REACTIONS))}",
                doing,
            )
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            self._row(con, project, number, is_mr, doing)
            cid = 0
            if comment_id is not None:
                found = None
                if str(comment_id).isdigit():
                    found = con.execute(
                        "SELECT 1 FROM comments WHERE id = ? AND project_id = ? AND number = ?",
                        [int(comment_id), project["id"], number],
                    ).fetchone()
                if found is None:
                    raise self._err(NotFound, f"no comment {comment_id} on #{number}", doing)
                cid = int(comment_id)
            me = self._me(con)
            con.execute(
                "INSERT INTO reactions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [project["id"], number, cid, me.login, reaction, _now()],
            )

    def list_reactions(
        self, repo: str, number: int, *, comment_id: str | None = None
    ) -> list[tuple[str, str]]:
        """``(login, reaction)`` pairs on an issue/MR or one of its comments."""
        doing = f"listing reactions on {repo}#{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            rows = con.execute(
                "SELECT login, content FROM reactions WHERE project_id = ? AND number = ? "
                "AND comment_id = ? ORDER BY created_at, login",
                [project["id"], number, int(comment_id or 0)],
            ).fetchall()
        return [(r[0], r[1]) for r in rows]
