"""A stateful fake of the GitLab REST API v4.

Shapes follow GitLab's API documentation (projects, issues, notes, merge requests,
approvals, reviewers, members, award emoji, commit statuses). GitLab behaviours
clients often get wrong are reproduced: a project is addressed by its URL-encoded path
(``group%2Fsub%2Fapp``); a draft MR is a ``Draft:`` title prefix; a note made only of
quick actions is not stored (``202`` with ``commands_changes``) and ``/approve`` approves;
approving twice answers ``401``; rate limits are ``429`` with ``RateLimit-Reset``.
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
_STATE_FILTER = {"opened", "closed", "merged", "locked", "all"}


class GitLabFake(FakeServer):
    """GitLab's REST API v4 for a few projects, with users, tokens and members."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.tmp_path = tmp_path
        self._ids = itertools.count(500)
        self.tokens: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self._last_ms = 0
        self._register()

    def now(self) -> str:
        """A strictly increasing UTC timestamp with milliseconds, as GitLab prints them."""
        ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = ms
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"

    # --- set-up used by tests and harnesses

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

    def _handle(self, request: Request, call: Any) -> Response:
        # Match on the raw path: a project id is a URL-encoded path whose %2F must stay.
        raw = self.path_of(request)
        for method, rx, handler in self._routes:
            match = rx.fullmatch(raw)
            if match and method == request.method:
                denied = self.authenticate(request)
                if denied is not None:
                    return denied
                with self._lock:
                    return handler(request, call.body, **match.groupdict())
        with self._lock:
            self.unexpected.append(call)
        return json_response({"message": "unexpected call"}, 404)

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

    def _register(self) -> None:
        p = r"/api/v4/projects/(?P<pid>[^/]+)"
        kinds = r"(?P<kind>issues|merge_requests)/(?P<iid>\d+)"
        r = self.route
        r("GET", r"/api/v4/user", lambda req, body: json_response(self._me(req)))
        r("GET", r"/api/v4/personal_access_tokens/self", self._token_self)
        r("GET", r"/api/v4/users", self._find_users)
        r("GET", p, self._get_project)
        r("POST", p + r"/issues", self._create_issue)
        r("GET", p + r"/issues/(?P<iid>\d+)", self._get_issue)
        r("PUT", p + r"/issues/(?P<iid>\d+)", self._update_issue)
        r("GET", p + "/" + kinds + r"/notes", self._list_notes)
        r("POST", p + "/" + kinds + r"/notes", self._create_note)
        r("PUT", p + "/" + kinds + r"/notes/(?P<nid>\d+)", self._edit_note)
        r("GET", p + "/" + kinds + r"/award_emoji", self._list_awards)
        r("POST", p + "/" + kinds + r"/award_emoji", self._award)
        r("GET", p + "/" + kinds + r"/notes/(?P<nid>\d+)/award_emoji", self._list_awards)
        r("POST", p + "/" + kinds + r"/notes/(?P<nid>\d+)/award_emoji", self._award)
        r("GET", p + r"/merge_requests", self._list_mrs)
        r("POST", p + r"/merge_requests", self._create_mr)
        r("GET", p + r"/merge_requests/(?P<iid>\d+)", self._get_mr)
        r("PUT", p + r"/merge_requests/(?P<iid>\d+)", self._update_mr)
        r("GET", p + r"/merge_requests/(?P<iid>\d+)/approvals", self._approvals)
        r("POST", p + r"/merge_requests/(?P<iid>\d+)/approve", self._approve)
        r("GET", p + r"/merge_requests/(?P<iid>\d+)/reviewers", self._reviewers)
        r("GET", p + r"/merge_requests/(?P<iid>\d+)/versions", self._versions)
        r("GET", p + r"/members/all/(?P<uid>\d+)", self._member)
        r("POST", p + r"/statuses/(?P<sha>[0-9a-f]{40})", self._create_status)
        r("GET", p + r"/repository/commits/(?P<sha>[0-9a-f]{40})/statuses", self._statuses)

    # --- identity

    def _token_self(self, request: Request, body: Any) -> Response:
        token = self._token(request)
        return json_response(
            {
                "id": token["id"],
                "name": "agentforge",
                "revoked": False,
                "created_at": self.now(),
                "description": None,
                "scopes": token["scopes"],
                "user_id": self._me(request)["id"],
                "last_used_at": self.now(),
                "active": True,
                "expires_at": token["expires_at"],
            }
        )

    def _find_users(self, request: Request, body: Any) -> Response:
        user = self.users.get(request.args.get("username", ""))
        return json_response([user] if user else [])

    def _get_project(self, request: Request, body: Any, pid: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        level = project["members"].get(self._me(request)["username"])
        info = dict(project["info"])
        info["permissions"] = {
            "project_access": {"access_level": level, "notification_level": 3} if level else None,
            "group_access": None,
        }
        return json_response(info)

    # --- issues and notes

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

    def _create_issue(self, request: Request, body: Any, pid: str) -> Response:
        project = self._project(pid)
        if project is None:
            return self._nf()
        if not isinstance(body, dict) or not body.get("title"):
            return json_response({"error": "title is missing"}, 400)
        iid = next(project["issue_iids"])
        labels = [x for x in (body.get("labels") or "").split(",") if x]
        issue = self._issue_json(
            project, iid, self._me(request), body["title"], body.get("description"), labels
        )
        project["issues"][iid] = issue
        return json_response(issue, 201)

    def _get_issue(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        project = self._project(pid)
        issue = project and project["issues"].get(int(iid))
        return json_response(issue) if issue else self._nf("Issue" if project else "Project")

    @staticmethod
    def _relabel(item: dict[str, Any], body: dict[str, Any]) -> None:
        if "labels" in body:
            item["labels"] = [x for x in body["labels"].split(",") if x]
        for x in (body.get("add_labels") or "").split(","):
            if x and x not in item["labels"]:
                item["labels"].append(x)
        remove = {x for x in (body.get("remove_labels") or "").split(",") if x}
        item["labels"] = [x for x in item["labels"] if x not in remove]

    def _update_issue(self, request: Request, body: Any, pid: str, iid: str) -> Response:
        project = self._project(pid)
        issue = project and project["issues"].get(int(iid))
        if not issue:
            return self._nf("Issue" if project else "Project")
        self._relabel(issue, body or {})
        issue["updated_at"] = self.now()
        return json_response(issue)

    def _noteable(self, pid: str, kind: str, iid: str) -> tuple[dict | None, dict | None]:
        project = self._project(pid)
        if project is None:
            return None, None
        return project, project["issues" if kind == "issues" else "mrs"].get(int(iid))

    def _list_notes(self, request: Request, body: Any, pid: str, kind: str, iid: str):
        project, item = self._noteable(pid, kind, iid)
        if item is None:
            return self._nf("Noteable" if project else "Project")
        notes = [n for n in project["notes"].values() if n["noteable_id"] == item["id"]]
        # GitLab lists notes newest first unless asked otherwise.
        if request.args.get("sort", "desc") == "desc":
            notes = notes[::-1]
        return self._paginate(request, notes)

    def _create_note(self, request: Request, body: Any, pid: str, kind: str, iid: str):
        project, item = self._noteable(pid, kind, iid)
        if item is None:
            return self._nf("Noteable" if project else "Project")
        text = body.get("body") if isinstance(body, dict) else None
        if not text:
            return json_response(
                {"message": '400 Bad request - Note {:note=>["can\'t be blank"]}'}, 400
            )
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        commands = {line[1:].split()[0] for line in lines if line.startswith("/") and line[1:]}
        if lines and len(commands) == len(lines) and commands <= QUICK_ACTIONS[kind]:
            # Only quick actions: GitLab runs them and stores no note.
            changes: dict[str, Any] = {}
            if "/approve" in lines and kind == "merge_requests":
                self.approve(
                    project["info"]["path_with_namespace"],
                    item["iid"],
                    self._me(request)["username"],
                )
                changes["approve"] = True
            return json_response(
                {"commands_changes": changes, "summary": [f"Ran {len(lines)} quick action(s)."]},
                202,
            )
        return json_response(self._add_note(project, item, self._me(request), text, kind), 201)

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

    def _edit_note(self, request: Request, body: Any, pid: str, kind: str, iid: str, nid: str):
        project, item = self._noteable(pid, kind, iid)
        note = project["notes"].get(int(nid)) if project else None
        if item is None or note is None or note["noteable_id"] != item["id"]:
            return self._nf("Note")
        if note["author"]["username"] != self._me(request)["username"]:
            return json_response({"message": "403 Forbidden"}, 403)
        note["body"] = body["body"]
        note["updated_at"] = self.now()
        return json_response(note)

    def _awardable(self, pid: str, kind: str, iid: str, nid: str | None) -> tuple | None:
        project, item = self._noteable(pid, kind, iid)
        if item is None:
            return None
        if nid is not None:
            if int(nid) not in project["notes"]:
                return None
            return project, ("note", int(nid))
        return project, (kind, item["id"])

    def _list_awards(
        self, request: Request, body: Any, pid: str, kind: str, iid: str, nid: str | None = None
    ) -> Response:
        found = self._awardable(pid, kind, iid, nid)
        if found is None:
            return self._nf()
        project, key = found
        return self._paginate(request, project["awards"].get(key, []))

    def _award(
        self, request: Request, body: Any, pid: str, kind: str, iid: str, nid: str | None = None
    ) -> Response:
        found = self._awardable(pid, kind, iid, nid)
        if found is None:
            return self._nf()
        project, key = found
        name = (body or {}).get("name", "")
        if name not in EMOJI:
            return json_response({"message": {"name": ["is not a valid emoji name"]}}, 400)
        me = self._me(request)
        awards = project["awards"].setdefault(key, [])
        if any(a["name"] == name and a["user"]["id"] == me["id"] for a in awards):
            return json_response({"message": "404 Award Emoji Name has already been taken"}, 404)
        award = {
            "id": next(self._ids),
            "name": name,
            "user": me,
            "created_at": self.now(),
            "updated_at": self.now(),
            "awardable_id": key[1],
            "awardable_type": "Note"
            if key[0] == "note"
            else ("Issue" if key[0] == "issues" else "MergeRequest"),
        }
        awards.append(award)
        return json_response(award, 201)

    # --- merge requests

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
        if state not in _STATE_FILTER:
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

    def _mr(self, pid: str, iid: str) -> tuple[dict | None, dict | None]:
        project = self._project(pid)
        return project, (project["mrs"].get(int(iid)) if project else None)

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

    def _set_reviewer(self, mr: dict[str, Any], username: str, state: str) -> None:
        mr["_reviewers"][username] = {
            "user": self.add_user(username),
            "state": state,
            "created_at": self.now(),
        }
        mr["reviewers"] = [r["user"] for r in mr["_reviewers"].values()]

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

    # --- members and statuses

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


__all__ = ["Fault", "GitLabFake"]
