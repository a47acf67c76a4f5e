"""GitLab REST fake routes: merge requests, approvals, reviewers, diff versions,
members and commit statuses.

A draft MR is a ``Draft:`` title prefix; approving twice answers ``401``; a diff
version is recorded each time the source branch moves.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from werkzeug import Request, Response

from tests.fakes import json_response
from tests.fakes.gitlab_state import DRAFT_RE, STATE_FILTER, STATUS_STATES, GitLabState


class GitLabMRRoutes(GitLabState):
    """Handlers for merge request, approval, reviewer, version, member and status routes."""

    def _mr_view(self, project: dict[str, Any], mr: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in mr.items() if not k.startswith("_")}
        self._sync_versions(project, mr)
        view["sha"] = project["git"].head(mr["source_branch"]) or mr["sha"]
        view["draft"] = view["work_in_progress"] = bool(DRAFT_RE.match(mr["title"]))
        return view

    def _list_mrs(self, request: Request, body: Any, pid: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        state = request.args.get("state", "all")
        if state not in STATE_FILTER:
            return json_response({"error": "state does not have a valid value"}, 400)
        mrs = list(project["mrs"].values())
        if state != "all":
            mrs = [m for m in mrs if m["state"] == state]
        if request.args.get("source_branch"):
            mrs = [m for m in mrs if m["source_branch"] == request.args["source_branch"]]
        if request.args.get("target_branch"):
            mrs = [m for m in mrs if m["target_branch"] == request.args["target_branch"]]
        mrs.sort(key=lambda m: m["iid"], reverse=True)
        return self._paginate(request, [self._mr_view(project, m) for m in mrs])

    def _create_mr(self, request: Request, body: Any, pid: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        source, target = body.get("source_branch", ""), body.get("target_branch", "")
        if not body.get("title") or not source or not target:
            return json_response({"error": "title, source_branch, target_branch are missing"}, 400)
        for m in project["mrs"].values():
            if (
                m["state"] == "opened"
                and m["source_branch"] == source
                and m["target_branch"] == target
            ):
                return json_response(
                    {
                        "message": [
                            "Another open merge request already exists for this source branch: "
                            f"!{m['iid']}"
                        ]
                    },
                    409,
                )
        if project["git"].head(source) is None or project["git"].head(target) is None:
            return json_response({"message": ["Source branch or target branch is invalid"]}, 422)
        iid = next(project["mr_iids"])
        path = project["info"]["path_with_namespace"]
        mr = self._issue_json(
            project, iid, self._me(request), body["title"], body.get("description"), []
        )
        for key in ("type", "issue_type", "due_date", "confidential", "merge_requests_count"):
            mr.pop(key)
        mr.update(
            {
                "merged_by": None,
                "merge_user": None,
                "merged_at": None,
                "target_branch": target,
                "source_branch": source,
                "reviewers": [],
                "source_project_id": project["info"]["id"],
                "target_project_id": project["info"]["id"],
                "draft": False,
                "work_in_progress": False,
                "merge_when_pipeline_succeeds": False,
                "merge_status": "can_be_merged",
                "detailed_merge_status": "mergeable",
                "sha": project["git"].head(source),
                "merge_commit_sha": None,
                "squash_commit_sha": None,
                "should_remove_source_branch": None,
                "force_remove_source_branch": False,
                "reference": f"!{iid}",
                "squash": False,
                "has_conflicts": False,
                "blocking_discussions_resolved": True,
                "web_url": f"{self.url}/{path}/-/merge_requests/{iid}",
                "references": {"short": f"!{iid}", "relative": f"!{iid}", "full": f"{path}!{iid}"},
                "_approved_by": [],
                "_reviewers": {},
                "_versions": [],
            }
        )
        project["mrs"][iid] = mr
        self._sync_versions(project, mr)
        return json_response(self._mr_view(project, mr), 201)

    def _get_mr(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        project, mr = self._mr(pid, iid)
        return json_response(self._mr_view(project, mr)) if mr else self._nf("Merge Request")

    def _update_mr(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        project, mr = self._mr(pid, iid)
        if mr is None:
            return self._nf("Merge Request")
        body = body or {}
        if "title" in body:
            mr["title"] = body["title"]
        if "description" in body:
            mr["description"] = body["description"]
        event = body.get("state_event")
        if event == "close" and mr["state"] == "opened":
            mr["state"], mr["closed_at"] = "closed", self.now()
        elif event == "reopen" and mr["state"] == "closed":
            mr["state"], mr["closed_at"] = "opened", None
        self._relabel(mr, body)
        mr["updated_at"] = self.now()
        return json_response(self._mr_view(project, mr))

    def _approvals(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        _project, mr = self._mr(pid, iid)
        if mr is None:
            return self._nf("Merge Request")
        me = self._me(request)["username"]
        approved = [a for a in mr["_approved_by"]]
        return json_response(
            {
                "id": mr["id"],
                "iid": mr["iid"],
                "project_id": mr["project_id"],
                "title": mr["title"],
                "description": mr["description"],
                "state": mr["state"],
                "created_at": mr["created_at"],
                "updated_at": mr["updated_at"],
                "merge_status": "can_be_merged",
                "approved": bool(approved),
                "approvals_required": 0,
                "approvals_left": 0,
                "require_password_to_approve": False,
                "approved_by": approved,
                "suggested_approvers": [],
                "approvers": [],
                "approver_groups": [],
                "user_has_approved": any(a["user"]["username"] == me for a in approved),
                "user_can_approve": True,
                "approval_rules_left": [],
                "has_approval_rules": False,
                "merge_request_approvers_available": False,
                "multiple_approval_rules_available": False,
                "invalid_approvers_rules": [],
            }
        )

    def _approve(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        project, mr = self._mr(pid, iid)
        if mr is None:
            return self._nf("Merge Request")
        if not self.approve(
            project["info"]["path_with_namespace"], mr["iid"], self._me(request)["username"]
        ):
            return json_response({"message": "401 Unauthorized"}, 401)
        return self._approvals(request, body, pid, iid)

    def _reviewers(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        _project, mr = self._mr(pid, iid)
        if mr is None:
            return self._nf("Merge Request")
        return json_response(list(mr["_reviewers"].values()))

    def _versions(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        project, mr = self._mr(pid, iid)
        if mr is None:
            return self._nf("Merge Request")
        self._sync_versions(project, mr)
        return self._paginate(request, list(reversed(mr["_versions"])))

    def _member(self, request: Request, body: Any, pid: str, uid: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        user = next((u for u in self.users.values() if u["id"] == int(uid)), None)
        if user is None or user["username"] not in project["members"]:
            return self._nf()
        return json_response(
            dict(
                user,
                access_level=project["members"][user["username"]],
                created_at=self.now(),
                expires_at=None,
                membership_state="active",
            )
        )

    def _get_group(self, request: Request, body: Any, gid: str) -> Response:
        path = unquote(gid)
        if path not in self.groups:
            return self._nf("Group")
        return json_response({"id": abs(hash(path)) % 10**6, "full_path": path})

    def _group_member(self, request: Request, body: Any, gid: str, uid: str) -> Response:
        path = unquote(gid)
        if path not in self.groups:
            return self._nf("Group")
        user = next((u for u in self.users.values() if u["id"] == int(uid)), None)
        # members/all: the group's own members and those inherited from its ancestors.
        parts = path.split("/")
        chain = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        state = None
        for group in chain:
            if user is not None and user["username"] in self.groups.get(group, {}):
                state = self.groups[group][user["username"]]
        if state is None:
            return self._nf()
        return json_response(dict(user, access_level=30, membership_state=state))

    def _create_status(self, request: Request, body: Any, pid: str, sha: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        state = (body or {}).get("state")
        if state not in STATUS_STATES:
            return json_response({"error": "state does not have a valid value"}, 400)
        try:
            project["git"].repo[sha]
        except (KeyError, ValueError):
            return self._nf("Commit")
        status = {
            "id": next(self._ids),
            "sha": sha,
            "ref": None,
            "status": state,
            "name": body.get("name") or body.get("context") or "default",
            "target_url": body.get("target_url"),
            "description": body.get("description"),
            "created_at": self.now(),
            "started_at": None,
            "finished_at": None,
            "allow_failure": False,
            "coverage": None,
            "pipeline_id": next(self._ids),
            "author": self._me(request),
        }
        project["statuses"].setdefault(sha, []).append(status)
        return json_response(status, 201)

    def _statuses(self, request: Request, body: Any, pid: str, sha: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        return self._paginate(request, list(reversed(project["statuses"].get(sha, []))))
