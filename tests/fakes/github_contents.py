"""GitHub REST fake routes the workflow reads: the App, users, repository contents at a
ref, git blobs, a pull request's files, issue lists and edits, and check runs.

Files come from the repository's bare git repository (``fake.add_repo(...)`` returns
it; ``git.commit("main", {"path": "text"})`` puts files at a ref). Check runs are set up
with :meth:`GitHubContentRoutes.add_check_run`, the way GitHub Actions reports. Shapes
follow GitHub's REST documentation: a file is ``{"type": "file", "encoding": "base64",
"content": ...}`` (``encoding: none`` and no content above :attr:`contents_inline_limit`,
1 MB on GitHub), a directory is a list of entries, the issues list includes pull
requests (with a ``pull_request`` key), check runs come as ``{"total_count",
"check_runs"}``.
"""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pygit2
from werkzeug import Request, Response

from tests.fakes import json_response, now_iso
from tests.fakes.github_state import GitHubState

CHECK_STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CHECK_CONCLUSIONS = {
    "success",
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
    "stale",
    "startup_failure",
}
_FILE_STATUS = {"added": "added", "deleted": "removed", "modified": "modified"}


class GitHubContentRoutes(GitHubState):
    """Handlers (and set-up) for the App, users, contents, files, issue lists and checks."""

    contents_inline_limit = 1024 * 1024
    """Files larger than this come without content (``encoding: none``), as on GitHub."""

    # --- set-up

    def add_check_run(
        self,
        full_name: str,
        sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = "success",
        title: str | None = None,
    ) -> dict[str, Any]:
        """Report a check run on commit ``sha`` (what a GitHub Actions job does)."""
        if status not in CHECK_STATUSES:
            raise ValueError(f"unknown check run status {status!r}")
        if status == "completed" and conclusion not in CHECK_CONCLUSIONS:
            raise ValueError(f"a completed check run needs a conclusion, not {conclusion!r}")
        repo = self.repos[full_name]
        run_id = next(self._ids)
        stamp = now_iso()
        run = {
            "id": run_id,
            "head_sha": sha,
            "node_id": f"CR_{run_id}",
            "external_id": "",
            "url": f"{self.url}/repos/{full_name}/check-runs/{run_id}",
            "html_url": f"{self.url}/{full_name}/runs/{run_id}",
            "details_url": f"{self.url}/{full_name}/actions/runs/{run_id}/job/{run_id}",
            "status": status,
            "conclusion": conclusion if status == "completed" else None,
            "started_at": stamp,
            "completed_at": stamp if status == "completed" else None,
            "output": {
                "title": title,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{self.url}/repos/{full_name}/check-runs/{run_id}/annotations",
            },
            "name": name,
            "check_suite": {"id": next(self._ids)},
            "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
            "pull_requests": [],
        }
        repo.setdefault("check_runs", []).append(run)
        return run

    # --- authentication: GET /app takes the App's JWT, not a token

    def authenticate(self, request: Request) -> Response | None:
        if request.path == "/app":
            return None  # checked by its handler
        return super().authenticate(request)

    def _get_app(self, request: Request, body: Any) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if self.app is None or scheme.lower() != "bearer":
            return json_response({"message": "A JSON web token could not be decoded"}, 401)
        try:
            claims = jwt.decode(token, self.app["key"], algorithms=["RS256"])
        except jwt.PyJWTError:
            return json_response({"message": "A JSON web token could not be decoded"}, 401)
        if str(claims.get("iss")) != self.app["id"]:
            return json_response({"message": "Integration not found"}, 401)
        slug = self.app["login"].removesuffix("[bot]")
        return json_response(
            {
                "id": int(self.app["id"]),
                "slug": slug,
                "node_id": f"A_{self.app['id']}",
                "client_id": f"Iv1.{self.app['id']}",
                "owner": self.users[self.app["login"]],
                "name": slug.replace("-", " ").title(),
                "description": "",
                "external_url": f"{self.url}/apps/{slug}",
                "html_url": f"{self.url}/apps/{slug}",
                "created_at": now_iso(),
                "updated_at": now_iso(),
                "permissions": {"issues": "write", "contents": "write", "checks": "read"},
                "events": ["issues", "issue_comment", "pull_request"],
            }
        )

    def _get_named_user(self, request: Request, body: Any, login: str) -> Response:
        user = self.users.get(login)
        return json_response(user) if user else self._not_found()

    # --- contents

    def _content_entry(self, full: str, ref: str, path: str, obj: pygit2.Object) -> dict:
        is_file = isinstance(obj, pygit2.Blob)
        api = f"{self.url}/repos/{full}/contents/{path}?ref={ref}"
        git_url = f"{self.url}/repos/{full}/git/{'blobs' if is_file else 'trees'}/{obj.id}"
        html = f"{self.url}/{full}/{'blob' if is_file else 'tree'}/{ref}/{path}"
        return {
            "type": "file" if is_file else "dir",
            "size": obj.size if is_file else 0,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": str(obj.id),
            "url": api,
            "git_url": git_url,
            "html_url": html,
            "download_url": f"{self.url}/raw/{full}/{ref}/{path}" if is_file else None,
            "_links": {"self": api, "git": git_url, "html": html},
        }

    def _get_contents(
        self, request: Request, body: Any, owner: str, name: str, path: str | None = None
    ) -> Response:
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        git = repo["git"]
        full = f"{owner}/{name}"
        ref = request.args.get("ref") or repo["info"]["default_branch"]
        if git.resolve(ref) is None:
            return json_response({"message": f"No commit found for the ref {ref}"}, 404)
        path = (path or "").strip("/")
        obj = git.entry(ref, path)
        if obj is None:
            return self._not_found()
        if isinstance(obj, pygit2.Tree):
            entries = [
                self._content_entry(
                    full, ref, f"{path}/{e.name}" if path else e.name, git.repo[e.id]
                )
                for e in obj
            ]
            return json_response(entries)
        entry = self._content_entry(full, ref, path, obj)
        if obj.size > self.contents_inline_limit:
            entry.update(encoding="none", content="")
        else:
            encoded = base64.encodebytes(obj.data).decode("ascii")  # GitHub wraps at 60-76
            entry.update(encoding="base64", content=encoded)
        return json_response(entry)

    def _get_blob(self, request: Request, body: Any, owner: str, name: str, sha: str):
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        try:
            blob = repo["git"].repo[sha]
        except (KeyError, ValueError):
            return self._not_found()
        if not isinstance(blob, pygit2.Blob):
            return self._not_found()
        return json_response(
            {
                "content": base64.encodebytes(blob.data).decode("ascii"),
                "encoding": "base64",
                "url": f"{self.url}/repos/{owner}/{name}/git/blobs/{sha}",
                "sha": sha,
                "size": blob.size,
                "node_id": f"B_{sha[:12]}",
            }
        )

    # --- pull request files

    def _list_pull_files(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        if item is None or "head" not in item:
            return self._not_found()
        repo = self.repos[f"{owner}/{name}"]
        head = item["head"]["sha"] if item["state"] == "closed" else item["head"]["ref"]
        files = []
        for change in repo["git"].changes(item["base"]["ref"], head):
            status = _FILE_STATUS.get(change["status"], change["status"])
            entry = {
                "sha": None,
                "filename": change["new_path"],
                "status": status,
                "additions": 1,
                "deletions": 0,
                "changes": 1,
                "blob_url": f"{self.url}/{owner}/{name}/blob/{head}/{change['new_path']}",
                "raw_url": f"{self.url}/{owner}/{name}/raw/{head}/{change['new_path']}",
                "contents_url": f"{self.url}/repos/{owner}/{name}/contents/{change['new_path']}",
                "patch": "@@ -0,0 +1 @@",
            }
            if status == "renamed":
                entry["previous_filename"] = change["old_path"]
            files.append(entry)
        return self._paginate(request, files)

    # --- issues: list and edit

    def _list_issues(self, request: Request, body: Any, owner: str, name: str) -> Response:
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        state = request.args.get("state", "open")
        if state not in {"open", "closed", "all"}:
            return json_response({"message": "Validation Failed"}, 422)
        wanted = {x for x in request.args.get("labels", "").split(",") if x}
        views = [
            self._issue_view(self._refresh(repo, i) if "head" in i else i)
            for i in repo["items"].values()
        ]
        views = [
            v
            for v in views
            if (state == "all" or v["state"] == state)
            and wanted <= {lab["name"] for lab in v["labels"]}
        ]
        views.sort(key=lambda v: v["number"], reverse=True)  # newest first, as GitHub
        return self._paginate(request, views)

    def _update_issue(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        if item is None:
            return self._not_found()
        body = body if isinstance(body, dict) else {}
        if "state" in body and body["state"] not in {"open", "closed"}:
            return json_response(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "field": "state", "code": "invalid"}],
                },
                422,
            )
        if "title" in body and not body["title"]:
            return json_response(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
                },
                422,
            )
        for key in ("title", "body"):
            if key in body:
                item[key] = body[key]
        if "state" in body and body["state"] != item["state"]:
            item["state"] = body["state"]
            item["closed_at"] = now_iso() if body["state"] == "closed" else None
        item["updated_at"] = now_iso()
        return json_response(self._issue_view(item))

    # --- check runs

    def _list_check_runs(self, request: Request, body: Any, owner: str, name: str, ref: str):
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        commit = repo["git"].resolve(ref)
        if commit is None:
            return json_response({"message": f"No commit found for SHA: {ref}"}, 422)
        runs = [r for r in repo.get("check_runs", []) if r["head_sha"] == str(commit.id)]
        if request.args.get("check_name"):
            runs = [r for r in runs if r["name"] == request.args["check_name"]]
        if request.args.get("status"):
            runs = [r for r in runs if r["status"] == request.args["status"]]
        if request.args.get("filter", "latest") == "latest":
            latest: dict[str, dict[str, Any]] = {}
            for run in runs:
                latest[run["name"]] = run  # later runs replace earlier ones
            runs = list(latest.values())
        runs = sorted(runs, key=lambda r: r["id"], reverse=True)
        page = self._paginate(request, runs)
        chunk = page.get_json()
        page.set_data(json_response({"total_count": len(runs), "check_runs": chunk}).get_data())
        return page
