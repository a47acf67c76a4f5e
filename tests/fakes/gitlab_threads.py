"""GitLab REST fake routes: MR discussions with diff notes, a pipeline's jobs and their
traces (pipelines themselves are :mod:`tests.fakes.gitlab_contents`').

Shapes follow GitLab's API documentation: a discussion is ``{id, individual_note,
notes}`` and a diff note carries ``type: DiffNote`` and a ``position`` (``new_path``,
``new_line``...); replies are notes added to the discussion. A job's trace is plain
text. Diff notes are MR notes too, so they also show in ``/notes``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from werkzeug import Request, Response

from tests.fakes import json_response
from tests.fakes.gitlab_state import GitLabState


class GitLabThreadRoutes(GitLabState):
    """Handlers (and set-up) for discussions, pipelines, jobs and job traces."""

    def _register_threads(self) -> None:
        p = r"/api/v4/projects/(?P<pid>[^/]+)"
        mr = p + r"/merge_requests/(?P<iid>\d+)"
        r = self.route
        r("GET", mr + r"/discussions", self._list_discussions)
        r("POST", mr + r"/discussions/(?P<did>[0-9a-f]+)/notes", self._add_discussion_note)
        r("GET", p + r"/pipelines/(?P<pipeline>\d+)/jobs", self._pipeline_jobs)
        r("GET", p + r"/jobs/(?P<job>\d+)/trace", self._job_trace)

    # --- set-up

    def add_diff_note(
        self, path: str, iid: int, username: str, file_path: str, line: int, body: str
    ) -> dict[str, Any]:
        """A reviewer's note on line ``line`` of ``file_path`` (a new discussion)."""
        project = self.projects[path]
        mr = project["mrs"][iid]
        note = self._add_note(project, mr, self.add_user(username), body, "merge_requests")
        did = hashlib.sha1(f"{path}{iid}{note['id']}".encode()).hexdigest()
        note.update(
            type="DiffNote",
            resolvable=True,
            resolved=False,
            position={
                "base_sha": None,
                "start_sha": None,
                "head_sha": mr.get("sha"),
                "old_path": file_path,
                "new_path": file_path,
                "position_type": "text",
                "old_line": None,
                "new_line": line,
            },
        )
        project.setdefault("discussions", {}).setdefault(iid, []).append(
            {"id": did, "individual_note": False, "notes": [note]}
        )
        return note

    def add_job_log(
        self, path: str, sha: str, name: str, *, status: str = "failed", trace: str | None = None
    ) -> dict[str, Any]:
        """A job of the commit's newest pipeline (``add_pipeline`` when it has none),
        listed by ``/pipelines/:id/jobs``, with its trace."""
        project = self.projects[path]
        pipelines = [p for p in project.get("pipelines", []) if p["sha"] == sha]
        pipeline = (
            max(pipelines, key=lambda p: p["id"])
            if pipelines
            else self.add_pipeline(path, sha, status)
        )
        job = {
            "id": next(self._ids),
            "name": name,
            "stage": "test",
            "status": status,
            "ref": pipeline["ref"],
            "created_at": self.now(),
            "pipeline": {"id": pipeline["id"], "sha": sha, "status": pipeline["status"]},
        }
        job["web_url"] = f"{self.url}/{path}/-/jobs/{job['id']}"
        project.setdefault("jobs", {}).setdefault(pipeline["id"], []).append(job)
        if trace is not None:
            project.setdefault("traces", {})[job["id"]] = trace
        return job

    # --- handlers

    @staticmethod
    def _public(note: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in note.items() if not k.startswith("_")}

    def _list_discussions(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        project, mr = self._mr(pid, iid)
        if project is None or mr is None:
            return self._nf("Merge Request" if project else "Project")
        found = project.get("discussions", {}).get(int(iid), [])
        view = [{**d, "notes": [self._public(n) for n in d["notes"]]} for d in found]
        return self._paginate(request, view)

    def _add_discussion_note(
        self, request: Request, body: Any, pid: str, iid: str, did: str
    ) -> Response:
        project, mr = self._mr(pid, iid)
        if project is None or mr is None:
            return self._nf("Merge Request" if project else "Project")
        discussion = next(
            (d for d in project.get("discussions", {}).get(int(iid), []) if d["id"] == did), None
        )
        if discussion is None:
            return self._nf("Discussion")
        text = (body or {}).get("body")
        if not text:
            return json_response({"message": {"note": ["can't be blank"]}}, 400)
        note = self._add_note(project, mr, self._me(request), text, "merge_requests")
        first = discussion["notes"][0]
        note.update(type="DiffNote", position=dict(first["position"]))
        discussion["notes"].append(note)
        return json_response(self._public(note), 201)

    def _pipeline_jobs(self, request: Request, body: Any, pid: str, pipeline: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        if not any(p["id"] == int(pipeline) for p in project.get("pipelines", [])):
            return self._nf("Pipeline")
        return self._paginate(request, project.get("jobs", {}).get(int(pipeline), []))

    def _job_trace(self, request: Request, body: Any, pid: str, job: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        text = project.get("traces", {}).get(int(job))
        if text is None:
            return self._nf("Job")
        return Response(text, status=200, mimetype="text/plain")
