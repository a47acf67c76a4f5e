"""GitLab REST fake routes: the token, users, projects, issues, notes and award emoji.

Notes and award emoji are served for issues and merge requests alike. A note made only
of quick actions is not stored: GitLab answers ``202`` with ``commands_changes`` (and
``/approve`` approves); a second identical award answers ``404``.
"""

from __future__ import annotations

from typing import Any

from werkzeug import Request, Response

from tests.fakes import json_response
from tests.fakes.gitlab_state import EMOJI, QUICK_ACTIONS, GitLabState


class GitLabIssueRoutes(GitLabState):
    """Handlers for identity, project, issue, note and award-emoji routes."""

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

    def _awards(
        self, request: Request, body: Any, pid: str, kind: str, iid: str, nid: str | None = None
    ) -> Response:
        """List (GET) or add (POST) the award emoji on an issue, MR or note."""
        found = self._awardable(pid, kind, iid, nid)
        if found is None:
            return self._nf()
        project, key = found
        if request.method == "GET":
            return self._paginate(request, project["awards"].get(key, []))
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
