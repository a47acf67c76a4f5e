"""What the workflow reads from GitHub besides issues and MRs: who the bot is, files at
a ref, an MR's files, issue lists and edits, and every check on a commit.

A mixin of :class:`bot.forges.github.GitHubForge` (it uses the adapter's session and
repository check). Sharp edges handled here: the contents API answers a directory with
a list and a file over 1 MB with ``encoding: none`` (read through the git blob
instead); the issues API lists pull requests too (left out); GitHub Actions reports as
check runs, not commit statuses, so :meth:`list_checks` reads both; a GitHub App's
``GET /app`` needs the App's JWT, not the installation token.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from bot.errors import InvalidRequest, NotFound
from bot.forge import CommitStatus, Issue, User
from bot.forges import github_convert as convert
from bot.forges._common import (
    ISSUE_STATES,
    SET_STATES,
    check_file_path,
    file_text,
    require_state,
)
from bot.forges.github_auth import FORGE
from bot.forges.github_http import GitHubSession


class GitHubContents:
    """The reads and issue edits a workflow needs (see the module docstring).

    Uses ``_http``, ``_check``, ``uses_app`` and ``get_repo`` of the adapter it is
    mixed into.
    """

    _http: GitHubSession
    _me: User | None = None

    def whoami(self) -> User:
        """The token's user, or a GitHub App's bot user ``<slug>[bot]`` (asked once)."""
        if self._me is None:
            if self.uses_app:
                app = self._http.send("GET", "/app", "reading the GitHub App", as_app=True).json()
                login = f"{app['slug']}[bot]"
                data = self._http.get(
                    f"/users/{quote(login, safe='')}", f"reading the App's bot user {login}"
                )
            else:
                data = self._http.get("/user", "reading the authenticated user")
            self._me = convert.user(data)
        return self._me

    def _contents(self, repo: str, path: str, ref: str, operation: str) -> Any:
        """The contents API's answer, or None when the path or ref does not exist."""
        url = f"/repos/{self._check(repo)}/contents"
        if path:
            url += "/" + quote(path)
        try:
            return self._http.get(url, operation, ref=ref)
        except NotFound:
            self.get_repo(repo)  # NotFound when the repository itself is missing
            return None

    def get_file(self, repo: str, path: str, *, ref: str) -> str | None:
        """A file's text at ``ref``; None when the file or the ref does not exist."""
        path = check_file_path(path, forge=FORGE)
        operation = f"reading {path} at {ref} in {repo}"
        data = self._contents(repo, path, ref, operation)
        if data is None:
            return None
        kind = "dir" if isinstance(data, list) else data.get("type")
        if kind != "file":
            what = {"dir": "a directory", "symlink": "a symlink"}.get(kind, "a submodule")
            raise InvalidRequest(
                f"{operation} on github: {path} is {what}, not a file",
                forge=FORGE,
                operation=operation,
            )
        if data.get("encoding") == "base64":
            raw = base64.b64decode(data.get("content") or "")
        else:
            # Over 1 MB the contents API leaves the content out (encoding "none").
            blob = self._http.get(f"/repos/{repo}/git/blobs/{data['sha']}", operation)
            raw = base64.b64decode(blob.get("content") or "")
        return file_text(raw, path, ref, forge=FORGE)

    def list_dir(self, repo: str, path: str, *, ref: str) -> list[str]:
        """Paths of the regular files directly in ``path`` at ``ref`` (``[]`` if absent)."""
        path = check_file_path(path, forge=FORGE, directory=True)
        data = self._contents(repo, path, ref, f"listing {path or '/'} at {ref} in {repo}")
        if not isinstance(data, list):
            return []  # absent, or a file
        return sorted(
            e["path"] for e in data if e.get("type") == "file" and not e.get("submodule_git_url")
        )

    def list_mr_files(self, repo: str, number: int) -> list[str]:
        """Paths a pull request changes (a rename counts both paths), sorted."""
        data = self._http.get_all(
            f"/repos/{self._check(repo)}/pulls/{int(number)}/files",
            f"listing files of pull request {repo}#{number}",
        )
        paths = {f["filename"] for f in data}
        paths.update(f["previous_filename"] for f in data if f.get("previous_filename"))
        return sorted(paths)

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
        if state is not None:
            require_state(state, SET_STATES, forge=FORGE, operation=operation, what="issue")
        payload = {
            k: v for k, v in {"title": title, "body": body, "state": state}.items() if v is not None
        }
        data = self._http.send(
            "PATCH",
            f"/repos/{self._check(repo)}/issues/{int(number)}",
            operation,
            json=payload,
        ).json()
        return convert.issue(data)

    def list_issues(
        self, repo: str, *, state: str = "open", labels: list[str] | None = None
    ) -> list[Issue]:
        """Issues (pull requests left out) in a state, carrying every label, by number."""
        operation = f"listing issues of {repo}"
        require_state(state, ISSUE_STATES, forge=FORGE, operation=operation, what="issue")
        params: dict[str, Any] = {"state": state}
        if labels:
            params["labels"] = ",".join(labels)
        data = self._http.get_all(f"/repos/{self._check(repo)}/issues", operation, **params)
        issues = [convert.issue(i) for i in data if "pull_request" not in i]
        return sorted(issues, key=lambda i: i.number)

    def list_checks(self, repo: str, sha: str) -> list[CommitStatus]:
        """Commit statuses and check runs of a commit, the latest per context."""
        self._check(repo)
        ref = quote(sha, safe="")
        combined = self._http.get(
            f"/repos/{repo}/commits/{ref}/status", f"reading statuses of {repo}@{sha[:12]}"
        )
        runs = self._http.get_all(
            f"/repos/{repo}/commits/{ref}/check-runs",
            f"reading check runs of {repo}@{sha[:12]}",
            key="check_runs",
        )
        latest: dict[str, tuple[str, int, CommitStatus]] = {}

        def keep(when: str, order: int, status: CommitStatus) -> None:
            seen = latest.get(status.context)
            if seen is None or (when, order) > seen[:2]:
                latest[status.context] = (when, order, status)

        for s in combined.get("statuses", []):
            keep(convert.check_time(s), int(s.get("id") or 0), convert.status(sha, s))
        for run in runs:
            keep(convert.check_time(run), int(run.get("id") or 0), convert.check_run(sha, run))
        return [latest[c][2] for c in sorted(latest)]
