"""GitLab REST fake routes for pipeline triggers and reading one pipeline.

Shapes follow GitLab's documentation ("Trigger a pipeline with a token":
``POST /projects/:id/trigger/pipeline`` with ``token``, ``ref`` and ``variables``,
answering ``201`` with the pipeline; "Get a single pipeline"). Authentication is the
trigger token in the request, not an access token; a wrong token is ``404``, a ref
that does not exist is ``400 Reference not found``, variables must be strings. A
triggered pipeline starts ``created`` with ``source: trigger``; tests move it on with
:meth:`GitLabTriggerRoutes.set_pipeline_status` (what the runner would do) and read
the variables it received from :attr:`triggered`.
"""

from __future__ import annotations

from typing import Any

from werkzeug import Request, Response

from tests.fakes import json_response
from tests.fakes.gitlab_contents import PIPELINE_STATES, GitLabContentRoutes


class GitLabTriggerRoutes(GitLabContentRoutes):
    """Pipeline trigger tokens, triggered pipelines, one pipeline by id."""

    # --- set-up

    def add_trigger(self, path: str, token: str) -> None:
        """Create a pipeline trigger token for project ``path``."""
        self.projects[path].setdefault("triggers", set()).add(token)

    @property
    def triggered(self) -> list[dict[str, Any]]:
        """Every triggered pipeline, oldest first (with its ``variables``)."""
        out = [
            p
            for project in self.projects.values()
            for p in project.get("pipelines", [])
            if p["source"] == "trigger"
        ]
        return sorted(out, key=lambda p: p["id"])

    def set_pipeline_status(self, pipeline_id: int, status: str) -> None:
        """Move a pipeline to ``status`` (``running``, ``success``, ``failed``...)."""
        if status not in PIPELINE_STATES:
            raise ValueError(f"unknown pipeline status {status!r}")
        for project in self.projects.values():
            for pipeline in project.get("pipelines", []):
                if pipeline["id"] == pipeline_id:
                    pipeline.update(status=status, updated_at=self.now())

    def authenticate(self, request: Request) -> Response | None:
        if request.method == "POST" and self.path_of(request).endswith("/trigger/pipeline"):
            return None  # the trigger token in the body is the credential
        return super().authenticate(request)

    # --- handlers

    def _trigger_pipeline(self, request: Request, body: Any, pid: str) -> Response:
        project = self._project(pid)
        data = body if isinstance(body, dict) else dict(request.form)
        if project is None or data.get("token") not in project.get("triggers", set()):
            return json_response({"message": "404 Not Found"}, 404)
        ref = data.get("ref")
        sha = project["git"].head(ref) if isinstance(ref, str) else None
        if sha is None:
            return json_response({"message": {"base": ["Reference not found"]}}, 400)
        variables = data.get("variables") or {}
        if not isinstance(variables, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
        ):
            return json_response({"error": "variables is invalid"}, 400)
        path = project["info"]["path_with_namespace"]
        pipeline = self.add_pipeline(path, sha, "created", ref=ref, source="trigger")
        pipeline["variables"] = dict(variables)
        return json_response({k: v for k, v in pipeline.items() if k != "variables"}, 201)

    def _get_pipeline(self, request: Request, body: Any, pid: str, pipeline_id: str) -> Response:
        project = self._project(pid)
        for pipeline in (project or {}).get("pipelines", []):
            if pipeline["id"] == int(pipeline_id):
                return json_response({k: v for k, v in pipeline.items() if k != "variables"})
        return self._nf("Pipeline" if project else "Project")
