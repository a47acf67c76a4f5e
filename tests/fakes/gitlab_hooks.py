"""Webhook deliveries from the GitLab fake's state, built the way GitLab sends them.

Each payload starts from a real recorded delivery (``fixtures/webhooks/gitlab/``): its
``project``, ``repository`` and ``user`` become the fake's, its ``object_attributes``
the fake's REST object plus the hook-only fields (``action``, ``last_commit``,
``noteable_type``...). :meth:`GitLabHooks.deliver` sends it with the secret token
(``X-Gitlab-Token``) and the event name header, under a fresh ``Idempotency-Key``.

GitLab's ``/approve`` quick action is a Merge Request Hook with ``action: approved``
(:meth:`GitLabHooks.mr_approved`), not a Note Hook.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from tests.conftest import load_webhook
from tests.fakes.gitlab_api import GitLabFake


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


class GitLabHooks:
    """Builds and delivers GitLab webhooks about one project of a :class:`GitLabFake`."""

    def __init__(
        self, fake: GitLabFake, path: str, client: Any, secret: str, route: str = "/webhooks/gitlab"
    ) -> None:
        self.fake = fake
        self.path = path
        self.client = client
        self.secret = secret
        self.route = route

    def _project(self) -> dict[str, Any]:
        return self.fake.projects[self.path]

    def _hook_project(self, base: dict[str, Any]) -> dict[str, Any]:
        info = self._project()["info"]
        project = dict(base)
        project.update(
            id=info["id"],
            name=info["name"],
            web_url=info["web_url"],
            git_http_url=info["http_url_to_repo"],
            http_url=info["http_url_to_repo"],
            git_ssh_url=info["ssh_url_to_repo"],
            path_with_namespace=info["path_with_namespace"],
            default_branch=info["default_branch"],
            homepage=info["web_url"],
            url=info["http_url_to_repo"],
        )
        return project

    def _user(self, username: str) -> dict[str, Any]:
        user = self.fake.add_user(username)
        return {k: user[k] for k in ("id", "name", "username", "avatar_url") if k in user}

    def _base(self, name: str, username: str) -> dict[str, Any]:
        payload = load_webhook("gitlab", name)
        payload["project"] = self._hook_project(payload["project"])
        payload["repository"] = {
            "name": self._project()["info"]["name"],
            "url": self._project()["info"]["http_url_to_repo"],
            "homepage": self._project()["info"]["web_url"],
            "git_http_url": self._project()["info"]["http_url_to_repo"],
        }
        payload["user"] = self._user(username)
        payload.pop("changes", None)
        return payload

    def _mr_attrs(self, iid: int) -> dict[str, Any]:
        mr = _public(self._project()["mrs"][iid])
        head = self._project()["git"].head(mr["source_branch"])
        mr["last_commit"] = {"id": head, "message": "", "url": f"{mr.get('web_url', '')}"}
        mr["work_in_progress"] = mr.get("draft", False)
        return mr

    def issue_opened(self, iid: int, by: str) -> tuple[str, dict[str, Any]]:
        """Issue Hook ``open``."""
        payload = self._base("issue_hook.open.docs.json", by)
        issue = _public(self._project()["issues"][iid])
        labels = [{"title": name} for name in issue.get("labels", [])]
        payload["object_attributes"] = {**issue, "action": "open", "labels": labels}
        payload["labels"] = labels
        return "Issue Hook", payload

    def note(self, note: dict[str, Any], *, iid: int, on_mr: bool) -> tuple[str, dict[str, Any]]:
        """Note Hook for a new comment on an issue or MR."""
        name = "note_hook.merge_request.go-scm.json" if on_mr else "note_hook.issue.go-scm.json"
        payload = self._base(name, note["author"]["username"])
        payload["object_attributes"] = {
            **_public(note),
            "note": note["body"],
            "noteable_type": "MergeRequest" if on_mr else "Issue",
            "action": "create",
        }
        payload.pop("issue", None)
        payload.pop("merge_request", None)
        if on_mr:
            payload["merge_request"] = self._mr_attrs(iid)
        else:
            payload["issue"] = _public(self._project()["issues"][iid])
        return "Note Hook", payload

    def mr_approved(self, iid: int, by: str) -> tuple[str, dict[str, Any]]:
        """Merge Request Hook ``approved`` (what the ``/approve`` quick action sends)."""
        payload = self._base("merge_request_hook.update.go-gitlab.json", by)
        attrs = self._mr_attrs(iid)
        attrs.update(action="approved", updated_at=self.fake.now())
        payload["object_attributes"] = attrs
        payload["labels"] = [{"title": name} for name in attrs.get("labels", [])]
        return "Merge Request Hook", payload

    def pipeline(self, pipeline: dict[str, Any], by: str) -> tuple[str, dict[str, Any]]:
        """Pipeline Hook for a pipeline the fake holds (``add_pipeline``), as it ended."""
        payload = self._base("pipeline_hook.success.docs.json", by)
        attrs = dict(payload["object_attributes"])
        attrs.update(
            id=pipeline["id"],
            iid=pipeline["iid"],
            ref=pipeline["ref"],
            sha=pipeline["sha"],
            before_sha=pipeline["sha"],
            source=pipeline.get("source", "push"),
            status=pipeline["status"],
            name=f"Pipeline for branch: {pipeline['ref']}",
            created_at=pipeline["created_at"],
            finished_at=pipeline["updated_at"],
            url=pipeline["web_url"],
        )
        payload["object_attributes"] = attrs
        payload["merge_request"] = None  # a branch pipeline: the ref names the MR's branch
        payload["builds"] = []
        return "Pipeline Hook", payload

    def deliver(self, event: tuple[str, dict[str, Any]]) -> Any:
        """POST one delivery with the secret token; returns the response (asserted accepted)."""
        name, payload = event
        response = self.client.post(
            self.route,
            content=json.dumps(payload).encode(),
            headers={
                "content-type": "application/json",
                "x-gitlab-event": name,
                "x-gitlab-token": self.secret,
                "idempotency-key": str(uuid.uuid4()),
            },
        )
        assert response.status_code in (200, 202), response.text
        return response
