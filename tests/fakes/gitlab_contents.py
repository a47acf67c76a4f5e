"""GitLab REST fake routes the workflow reads: raw files and trees at a ref, an MR's
diffs, issue lists and edits, and pipelines.

Files come from the project's bare git repository (``fake.add_project(...)`` returns
it; ``git.commit("main", {"path": "text"})`` puts files at a ref). Pipelines are set up
with :meth:`GitLabContentRoutes.add_pipeline` and job statuses with
:meth:`GitLabContentRoutes.add_job`. Shapes follow GitLab's REST documentation: the raw
route answers the bytes (404 ``File Not Found`` for a missing file *or* a directory),
the tree answers ``[{"id", "name", "type": "tree"|"blob", "path", "mode"}]`` (404
``Tree Not Found`` for a missing path or ref), ``/diffs`` answers ``old_path``,
``new_path`` and the ``new_file``/``renamed_file``/``deleted_file`` flags.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pygit2
from werkzeug import Request, Response

from tests.fakes import json_response
from tests.fakes.gitlab_state import STATUS_STATES, GitLabState

PIPELINE_STATES = STATUS_STATES | {
    "created",
    "waiting_for_resource",
    "preparing",
    "manual",
    "scheduled",
}
_ISSUE_STATES = {"opened", "closed", "all"}


class GitLabContentRoutes(GitLabState):
    """Handlers (and set-up) for files, trees, MR diffs, issue lists and pipelines."""

    # --- set-up

    def add_pipeline(
        self, path: str, sha: str, status: str, *, ref: str = "main", source: str = "push"
    ) -> dict[str, Any]:
        """Record a pipeline for commit ``sha`` (newer pipelines get higher ids)."""
        if status not in PIPELINE_STATES:
            raise ValueError(f"unknown pipeline status {status!r}")
        project = self.projects[path]
        pid = next(self._ids)
        pipeline = {
            "id": pid,
            "iid": len(project.setdefault("pipelines", [])) + 1,
            "project_id": project["info"]["id"],
            "sha": sha,
            "ref": ref,
            "status": status,
            "source": source,
            "created_at": self.now(),
            "updated_at": self.now(),
            "web_url": f"{self.url}/{path}/-/pipelines/{pid}",
        }
        project["pipelines"].append(pipeline)
        return pipeline

    def add_job(self, path: str, sha: str, name: str, status: str) -> dict[str, Any]:
        """A CI job's status on ``sha``, as the commit statuses API lists it."""
        if status not in PIPELINE_STATES:
            raise ValueError(f"unknown job status {status!r}")
        project = self.projects[path]
        job = {
            "id": next(self._ids),
            "sha": sha,
            "ref": "main",
            "status": status,
            "name": name,
            "target_url": f"{self.url}/{path}/-/jobs/{next(self._ids)}",
            "description": None,
            "created_at": self.now(),
            "started_at": self.now(),
            "finished_at": None,
            "allow_failure": False,
            "coverage": None,
            "pipeline_id": next(self._ids),
            "author": next(iter(self.users.values())),
        }
        project["statuses"].setdefault(sha, []).append(job)
        return job

    # --- files and trees

    def _raw_file(self, request: Request, body: Any, pid: str, file: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        ref = request.args.get("ref")
        if not ref:
            return json_response({"error": "ref is missing"}, 400)
        obj = project["git"].entry(ref, unquote(file))
        if not isinstance(obj, pygit2.Blob):
            return self._nf("File")
        return Response(obj.data, status=200, content_type="text/plain; charset=utf-8")

    def _tree(self, request: Request, body: Any, pid: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        git = project["git"]
        ref = request.args.get("ref") or project["info"]["default_branch"]
        path = request.args.get("path", "").strip("/")
        obj = git.entry(ref, path)
        if obj is None:
            return self._nf("Tree")
        if not isinstance(obj, pygit2.Tree):
            return self._paginate(request, [])
        items = [
            {
                "id": str(e.id),
                "name": e.name,
                "type": "tree" if e.filemode == pygit2.GIT_FILEMODE_TREE else "blob",
                "path": f"{path}/{e.name}" if path else e.name,
                "mode": f"{e.filemode:06o}",
            }
            for e in obj
        ]
        return self._paginate(request, items)

    # --- merge request diffs

    def _mr_diffs(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        project, mr = self._mr(pid, iid)
        if mr is None:
            return self._nf("Merge Request")
        head = mr["source_branch"] if mr["state"] == "opened" else mr["sha"]
        diffs = [
            {
                "old_path": c["old_path"],
                "new_path": c["new_path"],
                "a_mode": "100644",
                "b_mode": "100644",
                "diff": "@@ -0,0 +1 @@\n",
                "new_file": c["status"] == "added",
                "renamed_file": c["status"] == "renamed",
                "deleted_file": c["status"] == "deleted",
                "generated_file": False,
            }
            for c in project["git"].changes(mr["target_branch"], head)
        ]
        return self._paginate(request, diffs)

    # --- issues

    def _list_issues(self, request: Request, body: Any, pid: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        state = request.args.get("state", "all")
        if state not in _ISSUE_STATES:
            return json_response({"error": "state does not have a valid value"}, 400)
        wanted = {x for x in request.args.get("labels", "").split(",") if x}
        issues = [
            i
            for i in project["issues"].values()
            if (state == "all" or i["state"] == state) and wanted <= set(i["labels"])
        ]
        issues.sort(key=lambda i: i["iid"], reverse=True)  # newest first, as GitLab
        return self._paginate(request, issues)

    def _edit_issue(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        """``PUT /issues/:iid``: labels, title, description and ``state_event``."""
        project = self._project(pid)
        issue = project and project["issues"].get(int(iid))
        if not issue:
            return self._nf("Issue" if project else "Project")
        body = body if isinstance(body, dict) else {}
        event = body.get("state_event")
        if event is not None and event not in {"close", "reopen"}:
            return json_response({"error": "state_event does not have a valid value"}, 400)
        if "title" in body and not body["title"]:
            return json_response({"message": {"title": ["can't be blank"]}}, 400)
        self._relabel(issue, body)
        for key in ("title", "description"):
            if key in body:
                issue[key] = body[key]
        if event == "close":
            issue["state"], issue["closed_at"] = "closed", self.now()
        elif event == "reopen":
            issue["state"], issue["closed_at"] = "opened", None
        issue["updated_at"] = self.now()
        return json_response(issue)

    # --- pipelines

    def _list_pipelines(self, request: Request, body: Any, pid: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        pipelines = list(project.get("pipelines", []))
        for key in ("sha", "ref", "status", "source"):
            if request.args.get(key):
                pipelines = [p for p in pipelines if p[key] == request.args[key]]
        pipelines.sort(key=lambda p: p["id"], reverse=True)  # newest first, as GitLab
        return self._paginate(request, pipelines)
