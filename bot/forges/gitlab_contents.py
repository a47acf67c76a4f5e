"""What the workflow reads from GitLab besides issues and MRs: who the bot is, files at
a ref, an MR's files, issue lists and edits, and every check on a commit.

A mixin of :class:`bot.forges.gitlab.GitLabForge` (it uses the adapter's session and
project path). Sharp edges handled here: a file path is URL-encoded like a project
path (``a%2Fb.md``); the raw-file route answers 404 for a directory too, so a 404 is
told apart with the tree; an MR's files come from ``/diffs`` (GitLab 15.7+, the
successor of the deprecated ``/changes``); a commit's CI is its statuses (which list
the pipelines' jobs) plus its newest pipeline, reported as context ``pipeline``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.errors import InvalidRequest, NotFound
from bot.forge import CommitStatus, Issue, User
from bot.forges import gitlab_convert as convert
from bot.forges._common import (
    ISSUE_STATES,
    SET_STATES,
    check_file_path,
    file_text,
    require_state,
)
from bot.forges.gitlab_http import FORGE, GitLabSession

_SYMLINK_MODE = "120000"
_ISSUE_STATES = {"open": "opened", "closed": "closed", "all": "all"}


class GitLabContents:
    """The reads and issue edits a workflow needs (see the module docstring).

    Uses ``_http``, ``_pid`` and ``get_repo`` of the adapter it is mixed into.
    """

    _http: GitLabSession

    def whoami(self) -> User:
        """The token's user (``GET /user``)."""
        return convert.user(self._http.get("/user", "reading the authenticated user"))

    def _tree(self, repo: str, path: str, ref: str, operation: str) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"ref": ref}
        if path:
            query["path"] = path
        try:
            return self._http.get_all(f"{self._pid(repo)}/repository/tree", operation, **query)
        except NotFound:
            self.get_repo(repo)  # NotFound when the project itself is missing
            return []

    def get_file(self, repo: str, path: str, *, ref: str) -> str | None:
        """A file's text at ``ref``; None when the file or the ref does not exist."""
        path = check_file_path(path, forge=FORGE)
        operation = f"reading {path} at {ref} in {repo}"
        try:
            resp = self._http.send(
                "get",
                f"{self._pid(repo)}/repository/files/{quote(path, safe='')}/raw",
                operation,
                query={"ref": ref},
            )
        except NotFound:
            if self._tree(repo, path, ref, operation):
                raise InvalidRequest(
                    f"{operation} on gitlab: {path} is a directory, not a file",
                    forge=FORGE,
                    operation=operation,
                ) from None
            return None
        return file_text(resp.content, path, ref, forge=FORGE)

    def list_dir(self, repo: str, path: str, *, ref: str) -> list[str]:
        """Paths of the regular files directly in ``path`` at ``ref`` (``[]`` if absent)."""
        path = check_file_path(path, forge=FORGE, directory=True)
        items = self._tree(repo, path, ref, f"listing {path or '/'} at {ref} in {repo}")
        return sorted(
            i["path"] for i in items if i.get("type") == "blob" and i.get("mode") != _SYMLINK_MODE
        )

    def list_mr_files(self, repo: str, number: int) -> list[str]:
        """Paths a merge request changes (a rename counts both paths), sorted."""
        diffs = self._http.get_all(
            f"{self._pid(repo)}/merge_requests/{int(number)}/diffs",
            f"listing files of merge request {repo}!{number}",
        )
        return sorted({p for d in diffs for p in (d.get("old_path"), d.get("new_path")) if p})

    def update_issue(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> Issue:
        """Change an issue's title, description or state (``open`` / ``closed``)."""
        operation = f"updating issue {repo}#{number}"
        post: dict[str, Any] = {}
        if state is not None:
            require_state(state, SET_STATES, forge=FORGE, operation=operation, what="issue")
            post["state_event"] = {"open": "reopen", "closed": "close"}[state]
        if title is not None:
            post["title"] = title
        if body is not None:
            post["description"] = body
        resp = self._http.send(
            "put", f"{self._pid(repo)}/issues/{int(number)}", operation, post=post
        )
        return convert.issue(resp.json())

    def list_issues(
        self, repo: str, *, state: str = "open", labels: list[str] | None = None
    ) -> list[Issue]:
        """Issues in a state, carrying every label, by number."""
        operation = f"listing issues of {repo}"
        require_state(state, ISSUE_STATES, forge=FORGE, operation=operation, what="issue")
        query: dict[str, Any] = {"state": _ISSUE_STATES[state]}
        if labels:
            query["labels"] = ",".join(labels)
        data = self._http.get_all(f"{self._pid(repo)}/issues", operation, **query)
        return sorted((convert.issue(i) for i in data), key=lambda i: i.number)

    def list_checks(self, repo: str, sha: str) -> list[CommitStatus]:
        """Statuses (jobs included), latest per name, and the newest pipeline of a commit."""
        statuses = self._http.get_all(
            f"{self._pid(repo)}/repository/commits/{quote(sha, safe='')}/statuses",
            f"reading statuses of {repo}@{sha[:12]}",
            all="true",
        )
        latest: dict[str, CommitStatus] = {}
        for item in sorted(statuses, key=lambda s: (s.get("created_at") or "", s.get("id", 0))):
            latest[item["name"]] = convert.status(sha, item)
        pipelines = self._http.get_all(
            f"{self._pid(repo)}/pipelines", f"reading pipelines of {repo}@{sha[:12]}", sha=sha
        )
        if pipelines:
            newest = max(pipelines, key=lambda p: int(p.get("id") or 0))
            latest["pipeline"] = convert.pipeline(sha, newest)
        return [latest[c] for c in sorted(latest)]
