"""GitHub REST fake routes for GitHub Actions: dispatching a workflow, reading its runs.

Shapes follow GitHub's REST documentation ("Create a workflow dispatch event": ``204``
with no body; "List workflow runs for a workflow": ``{"total_count", "workflow_runs"}``;
"Get a workflow run"). Behaviours a client can get wrong are reproduced: an unknown
workflow file is ``404``; a ref that is not a branch or tag is ``422 No ref found for``;
an input the workflow does not declare is ``422 Unexpected inputs provided``; inputs
over 65,535 characters are ``422``; dispatching needs write access. A dispatched run
starts ``queued``; tests move it on with :meth:`GitHubActionsRoutes.finish_run` (what
the CI runner would do) and read what was dispatched from :attr:`runs`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from werkzeug import Request, Response

from tests.fakes import json_response
from tests.fakes.github_state import GitHubState

_WRITERS = {"admin", "maintain", "write"}
MAX_INPUTS_CHARS = 65_535


class GitHubActionsRoutes(GitHubState):
    """Workflows, their dispatches and runs."""

    # --- set-up

    def add_workflow(
        self,
        repo: str,
        file: str = "agentforge.yml",
        *,
        inputs: tuple[str, ...] = ("event", "signature", "dispatch_id"),
        run_name: str = "agentforge {dispatch_id}",
    ) -> None:
        """Declare ``.github/workflows/<file>`` with ``workflow_dispatch`` ``inputs``;
        ``run_name`` is its ``run-name`` with ``{input}`` placeholders."""
        self.repos[repo].setdefault("workflows", {})[file] = {
            "id": next(self._ids),
            "inputs": set(inputs),
            "run_name": run_name,
        }

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every workflow run dispatched, oldest first (with its ``inputs``)."""
        out = [run for repo in self.repos.values() for run in repo.get("runs", [])]
        return sorted(out, key=lambda run: run["id"])

    def finish_run(self, run_id: int, conclusion: str = "success") -> None:
        """Complete a run with ``conclusion`` (``success``, ``failure``, ``cancelled``)."""
        for run in self.runs:
            if run["id"] == run_id:
                run.update(status="completed", conclusion=conclusion, updated_at=_now())

    # --- handlers

    def _dispatch_workflow(
        self, request: Request, body: Any, owner: str, name: str, file: str
    ) -> Response:
        repo = self._repo(owner, name)
        workflow = (repo or {}).get("workflows", {}).get(file)
        if repo is None or workflow is None:
            return self._not_found()
        if repo["roles"].get(self._login(request), "none") not in _WRITERS:
            return json_response({"message": "Must have admin rights to Repository."}, 403)
        if not isinstance(body, dict) or not isinstance(body.get("ref"), str):
            return json_response({"message": 'Invalid request.\n\n"ref" wasn\'t supplied.'}, 422)
        ref = body["ref"].removeprefix("refs/heads/")
        if repo["git"].head(ref) is None:
            return json_response({"message": f"No ref found for: {body['ref']}"}, 422)
        inputs = body.get("inputs") or {}
        unexpected = sorted(set(inputs) - workflow["inputs"])
        if unexpected:
            return json_response(
                {"message": f"Unexpected inputs provided: {json.dumps(unexpected)}"}, 422
            )
        if sum(len(str(v)) for v in inputs.values()) > MAX_INPUTS_CHARS:
            return json_response({"message": "inputs are too large."}, 422)
        run_id = next(self._ids)
        title = workflow["run_name"].format_map({k: inputs.get(k, "") for k in workflow["inputs"]})
        full = f"{owner}/{name}"
        repo.setdefault("runs", []).append(
            {
                "id": run_id,
                "name": file.rsplit(".", 1)[0],
                "display_title": title,
                "event": "workflow_dispatch",
                "status": "queued",
                "conclusion": None,
                "head_branch": ref,
                "head_sha": repo["git"].head(ref),
                "workflow_id": workflow["id"],
                "path": f".github/workflows/{file}",
                "html_url": f"https://github.com/{full}/actions/runs/{run_id}",
                "created_at": _now(),
                "updated_at": _now(),
                "inputs": dict(inputs),
            }
        )
        return Response(status=204)

    def _list_workflow_runs(
        self, request: Request, body: Any, owner: str, name: str, file: str
    ) -> Response:
        repo = self._repo(owner, name)
        workflow = (repo or {}).get("workflows", {}).get(file)
        if repo is None or workflow is None:
            return self._not_found()
        runs = [r for r in repo.get("runs", []) if r["workflow_id"] == workflow["id"]]
        if request.args.get("event"):
            runs = [r for r in runs if r["event"] == request.args["event"]]
        created = request.args.get("created", "")
        if created.startswith(">="):
            runs = [r for r in runs if r["created_at"] >= created[2:]]
        runs = sorted(runs, key=lambda r: r["id"], reverse=True)  # newest first
        per_page = min(int(request.args.get("per_page", 30)), 100)
        public = [{k: v for k, v in r.items() if k != "inputs"} for r in runs[:per_page]]
        return json_response({"total_count": len(runs), "workflow_runs": public})

    def _get_workflow_run(self, request: Request, body: Any, owner: str, name: str, rid: str):
        repo = self._repo(owner, name)
        for run in (repo or {}).get("runs", []):
            if run["id"] == int(rid):
                return json_response({k: v for k, v in run.items() if k != "inputs"})
        return self._not_found()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
