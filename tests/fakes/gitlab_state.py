"""State and plumbing of the GitLab REST fake: accounts, tokens, projects, notes.

:class:`GitLabState` holds what the fake knows, the set-up calls tests use (including
``approve`` and ``review``, which write the system notes GitLab writes) and the helpers
its route handlers share (raw-path matching, ``PRIVATE-TOKEN`` authentication,
``X-Next-Page`` pagination). The handlers are in :mod:`tests.fakes.gitlab_issues` and
:mod:`tests.fakes.gitlab_mrs`; :class:`tests.fakes.gitlab_api.GitLabFake` routes to them.
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug import Request, Response

from tests.fakes import BareRepo, FakeServer, Fault, json_response

EMOJI = {
    "thumbsup",
    "thumbsdown",
    "laughing",
    "confused",
    "heart",
    "tada",
    "rocket",
    "eyes",
    "smile",
    "white_check_mark",
    "x",
    "warning",
    "star",
    "100",
    "fire",
    "clap",
    "thinking",
}
# Quick actions that apply to each noteable kind (a subset of GitLab's list).
QUICK_ACTIONS = {
    "issues": {"label", "unlabel", "close", "reopen", "assign", "unassign", "title"},
    "merge_requests": {
        "label",
        "unlabel",
        "close",
        "reopen",
        "assign",
        "unassign",
        "title",
        "approve",
        "unapprove",
        "draft",
        "ready",
        "merge",
    },
}
# The system notes current GitLab writes for review verdicts (where each wording comes
# from is noted in bot/forges/gitlab_reviews.py).
SYSTEM_NOTES = {
    "approved": "approved this merge request",
    "changes_requested": "requested changes",
    "commented": "left review comments",
    "unapproved": "unapproved this merge request",
}

DRAFT_RE = re.compile(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s|draft\s|wip:)\s*", re.I)
STATUS_STATES = {"pending", "running", "success", "failed", "canceled", "skipped"}
STATE_FILTER = {"opened", "closed", "merged", "locked", "all"}


class GitLabState(FakeServer):
    """GitLab's state for a few projects, with users, tokens and members."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.tmp_path = tmp_path
        self._ids = itertools.count(500)
        self.tokens: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, str]] = {}  # full path -> username -> state
        self._last_ms = 0

    def now(self) -> str:
        """A strictly increasing UTC timestamp with milliseconds, as GitLab prints them."""
        ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = ms
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"

    def add_user(self, username: str, *, bot: bool = False) -> dict[str, Any]:
        """Create an account (idempotent)."""
        if username not in self.users:
            uid = next(self._ids)
            self.users[username] = {
                "id": uid,
                "username": username,
                "name": username.title(),
                "state": "active",
                "locked": False,
                "avatar_url": f"{self.url}/uploads/{uid}.png",
                "web_url": f"{self.url}/{username}",
                "bot": bot,
            }
        return self.users[username]

    def add_token(
        self,
        token: str,
        username: str,
        scopes: tuple[str, ...] = ("api", "write_repository"),
        expires_at: str | None = None,
    ) -> None:
        """Accept ``token`` as ``username`` with ``scopes``."""
        self.add_user(username)
        self.tokens[token] = {
            "username": username,
            "scopes": list(scopes),
            "expires_at": expires_at,
            "id": next(self._ids),
        }

    def add_project(self, path: str, *, default_branch: str = "main") -> BareRepo:
        """Create a project with one commit on ``default_branch``."""
        namespace, _, name = path.rpartition("/")
        git = BareRepo(self.tmp_path / f"gitlab-{path.replace('/', '-')}.git", default_branch)
        pid = next(self._ids)
        info = {
            "id": pid,
            "description": None,
            "name": name,
            "name_with_namespace": f"{namespace.replace('/', ' / ')} / {name}",
            "path": name,
            "path_with_namespace": path,
            "created_at": self.now(),
            "default_branch": default_branch,
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": f"git@fake.invalid:{path}.git",
            "http_url_to_repo": git.url,
            "web_url": f"{self.url}/{path}",
            "readme_url": None,
            "avatar_url": None,
            "forks_count": 0,
            "star_count": 0,
            "last_activity_at": self.now(),
            "namespace": {
                "id": pid + 1,
                "name": namespace.rsplit("/", 1)[-1],
                "path": namespace.rsplit("/", 1)[-1],
                "kind": "group",
                "full_path": namespace,
                "parent_id": None,
                "avatar_url": None,
                "web_url": f"{self.url}/groups/{namespace}",
            },
            "visibility": "private",
            "empty_repo": False,
            "archived": False,
        }
        self.projects[path] = {
            "info": info,
            "git": git,
            "issues": {},
            "mrs": {},
            "notes": {},
            "members": {},
            "statuses": {},
            "awards": {},
            "issue_iids": itertools.count(1),
            "mr_iids": itertools.count(1),
        }
        return git

    def add_group(self, path: str, members: list[str], *, awaiting: list[str] = ()) -> None:
        """Create group ``path`` (``a/b`` is a subgroup of ``a``) with ``members``."""
        for username in [*members, *awaiting]:
            self.add_user(username)
        self.groups[path] = {
            **{u: "active" for u in members},
            **{u: "awaiting" for u in awaiting},
        }

    def grant(self, path: str, username: str, access_level: int) -> None:
        """Make ``username`` a member with ``access_level`` (10 Guest … 50 Owner; 0 removes)."""
        self.add_user(username)
        members = self.projects[path]["members"]
        if access_level <= 0:
            members.pop(username, None)
        else:
            members[username] = access_level

    def approve(self, path: str, iid: int, username: str) -> bool:
        """Approve MR ``iid`` as ``username``; False when already approved."""
        mr = self.projects[path]["mrs"][iid]
        self._sync_versions(self.projects[path], mr)
        if any(a["user"]["username"] == username for a in mr["_approved_by"]):
            return False
        mr["_approved_by"].append({"user": self.add_user(username)})
        self._set_reviewer(mr, username, "approved")
        self._system_note(self.projects[path], mr, username, SYSTEM_NOTES["approved"])
        return True

    def review(self, path: str, iid: int, username: str, verdict: str, body: str = "") -> None:
        """Submit a review as ``username``: the summary note, then the verdict.

        ``verdict`` is ``approved``, ``changes_requested`` or ``commented``.
        """
        project = self.projects[path]
        mr = project["mrs"][iid]
        self._sync_versions(project, mr)
        if body:
            self._add_note(project, mr, self.add_user(username), body, "merge_requests")
        if verdict == "approved":
            self.approve(path, iid, username)
            return
        state = {"changes_requested": "requested_changes", "commented": "reviewed"}[verdict]
        self._set_reviewer(mr, username, state)
        self._system_note(project, mr, username, SYSTEM_NOTES[verdict])

    def _system_note(self, project: dict, mr: dict, username: str, text: str) -> None:
        note = self._add_note(project, mr, self.add_user(username), text, "merge_requests")
        note["system"] = True
        mr["user_notes_count"] -= 1

    def _sync_versions(self, project: dict[str, Any], mr: dict[str, Any]) -> None:
        # GitLab records a diff version each time the source branch moves.
        head = project["git"].head(mr["source_branch"])
        versions = mr["_versions"]
        if head and (not versions or versions[-1]["head_commit_sha"] != head):
            base = project["git"].head(mr["target_branch"])
            versions.append(
                {
                    "id": next(self._ids),
                    "head_commit_sha": head,
                    "base_commit_sha": base,
                    "start_commit_sha": base,
                    "created_at": self.now(),
                    "merge_request_id": mr["id"],
                    "state": "collected",
                    "real_size": "1",
                    "patch_id_sha": head,
                }
            )

    def rate_limit_fault(self, reset_in: int = 1) -> Fault:
        """GitLab's 429 with RateLimit-* headers."""
        reset = int(time.time()) + reset_in
        return Fault(
            status=429,
            body="Retry later",
            headers={
                "RateLimit-Limit": "600",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset),
                "Retry-After": str(reset_in),
            },
        )

    # --- plumbing

    def path_of(self, request: Request) -> str:
        """The raw path: a project id is a URL-encoded path whose %2F must stay."""
        raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or request.path
        return urlsplit(raw).path

    def _token(self, request: Request) -> dict[str, Any] | None:
        token = request.headers.get("PRIVATE-TOKEN") or ""
        if not token and request.headers.get("Authorization", "").startswith("Bearer "):
            token = request.headers["Authorization"][7:]
        return self.tokens.get(token)

    def authenticate(self, request: Request) -> Response | None:
        token = self._token(request)
        if token is None:
            return json_response({"message": "401 Unauthorized"}, 401)
        if request.method != "GET" and "api" not in token["scopes"]:
            return json_response(
                {
                    "error": "insufficient_scope",
                    "scope": "api",
                    "error_description": "The request requires higher privileges than provided "
                    "by the access token.",
                },
                403,
            )
        return None

    def _me(self, request: Request) -> dict[str, Any]:
        return self.users[self._token(request)["username"]]

    def _project(self, pid: str) -> dict[str, Any] | None:
        key = unquote(pid)
        if key.isdigit():
            return next((p for p in self.projects.values() if p["info"]["id"] == int(key)), None)
        return self.projects.get(key)

    @staticmethod
    def _nf(what: str = "Project") -> Response:
        return json_response({"message": f"404 {what} Not Found"}, 404)

    def _paginate(self, request: Request, items: list[Any]) -> Response:
        per_page = min(int(request.args.get("per_page", 20)), 100)
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(items)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if more else "",
            "X-Total": str(len(items)),
        }
        return json_response(chunk, 200, headers)

    def _issue_json(
        self,
        project: dict[str, Any],
        iid: int,
        author: dict[str, Any],
        title: str,
        description: str | None,
        labels: list[str],
    ) -> dict[str, Any]:
        path = project["info"]["path_with_namespace"]
        return {
            "id": next(self._ids),
            "iid": iid,
            "project_id": project["info"]["id"],
            "title": title,
            "description": description,
            "state": "opened",
            "created_at": self.now(),
            "updated_at": self.now(),
            "closed_at": None,
            "closed_by": None,
            "labels": labels,
            "milestone": None,
            "assignees": [],
            "author": author,
            "type": "ISSUE",
            "assignee": None,
            "user_notes_count": 0,
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": None,
            "confidential": False,
            "discussion_locked": None,
            "issue_type": "issue",
            "web_url": f"{self.url}/{path}/-/issues/{iid}",
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": None,
                "human_total_time_spent": None,
            },
            "task_completion_status": {"count": 0, "completed_count": 0},
            "references": {"short": f"#{iid}", "relative": f"#{iid}", "full": f"{path}#{iid}"},
        }

    @staticmethod
    def _relabel(item: dict[str, Any], body: dict[str, Any]) -> None:
        if "labels" in body:
            item["labels"] = [x for x in body["labels"].split(",") if x]
        for x in (body.get("add_labels") or "").split(","):
            if x and x not in item["labels"]:
                item["labels"].append(x)
        remove = {x for x in (body.get("remove_labels") or "").split(",") if x}
        item["labels"] = [x for x in item["labels"] if x not in remove]

    def _noteable(self, pid: str, kind: str, iid: str) -> tuple[dict | None, dict | None]:
        project = self._project(pid)
        if project is None:
            return None, None
        return project, project["issues" if kind == "issues" else "mrs"].get(int(iid))

    def _add_note(self, project: dict, item: dict, author: dict, text: str, kind: str) -> dict:
        nid = next(self._ids)
        stamp = self.now()
        note = {
            "id": nid,
            "type": None,
            "body": text,
            "attachment": None,
            "author": author,
            "created_at": stamp,
            "updated_at": stamp,
            "system": False,
            "noteable_id": item["id"],
            "noteable_type": "Issue" if kind == "issues" else "MergeRequest",
            "project_id": project["info"]["id"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "noteable_iid": item["iid"],
            "commands_changes": {},
        }
        project["notes"][nid] = note
        item["user_notes_count"] += 1
        return note

    def _mr(self, pid: str, iid: str) -> tuple[dict | None, dict | None]:
        project = self._project(pid)
        return project, (project["mrs"].get(int(iid)) if project else None)

    def _set_reviewer(self, mr: dict[str, Any], username: str, state: str) -> None:
        mr["_reviewers"][username] = {
            "user": self.add_user(username),
            "state": state,
            "created_at": self.now(),
        }
        mr["reviewers"] = [r["user"] for r in mr["_reviewers"].values()]
