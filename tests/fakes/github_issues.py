"""GitHub REST fake routes: the token's user, App tokens, repositories, issues, comments,
labels and reactions (issues and pull requests share these endpoints and one number
space, as on GitHub).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
from werkzeug import Request, Response

from tests.fakes import json_response, now_iso
from tests.fakes.github_state import REACTIONS, TEMPLATES, GitHubState


class GitHubIssueRoutes(GitHubState):
    """Handlers for identity, repository, issue, comment, label and reaction routes."""

    def _get_user(self, request: Request, body: Any) -> Response:
        token = request.headers["Authorization"].partition(" ")[2]
        headers = {}
        if token in self.token_scopes:
            headers["X-OAuth-Scopes"] = self.token_scopes[token]
        return json_response(self.users[self.tokens[token]], 200, headers)

    def _access_token(self, request: Request, body: Any, iid: str) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if self.app is None or scheme.lower() != "bearer":
            return json_response({"message": "A JSON web token could not be decoded"}, 401)
        try:
            claims = jwt.decode(token, self.app["key"], algorithms=["RS256"])
        except jwt.PyJWTError:
            return json_response({"message": "A JSON web token could not be decoded"}, 401)
        if str(claims.get("iss")) != self.app["id"]:
            return json_response({"message": "Integration not found"}, 401)
        if int(iid) != self.app["installation"]:
            return self._not_found()
        new = f"ghs_fake{len(self.installation_tokens_issued) + 1}"
        self.installation_tokens_issued.append(new)
        self.tokens[new] = self.app["login"]
        expires = dt.datetime.now(dt.UTC) + self.app["lifetime"]
        return json_response(
            {
                "token": new,
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {
                    "issues": "write",
                    "pull_requests": "write",
                    "contents": "write",
                    "statuses": "write",
                    "metadata": "read",
                },
                "repository_selection": "all",
            },
            201,
        )

    def _get_repo(self, request: Request, body: Any, owner: str, name: str) -> Response:
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        role = repo["roles"].get(self._login(request), "none")
        info = dict(repo["info"])
        info["permissions"] = {
            "admin": role == "admin",
            "maintain": role in {"admin", "maintain"},
            "push": role in {"admin", "maintain", "write"},
            "triage": role in {"admin", "maintain", "write", "triage"},
            "pull": role != "none",
        }
        return json_response(info)

    def _create_issue(self, request: Request, body: Any, owner: str, name: str) -> Response:
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        if not isinstance(body, dict) or not body.get("title"):
            return json_response(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
                },
                422,
            )
        issue = self._new_item(repo, self._login(request), body["title"], body.get("body"))
        for label in body.get("labels") or []:
            issue["labels"].append(self._label(repo, label))
        return json_response(issue, 201)

    def _get_issue(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        return self._not_found() if item is None else json_response(self._issue_view(item))

    def _list_comments(self, request: Request, body: Any, owner: str, name: str, number: str):
        if self._item(owner, name, number) is None:
            return self._not_found()
        comments = self.repos[f"{owner}/{name}"]["comments"]
        return self._paginate(
            request, [c for cid, c in comments.items() if self._comment_issue[cid] == int(number)]
        )

    def _create_comment(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        if item is None:
            return self._not_found()
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return json_response({"message": 'Invalid request.\n\n"body" wasn\'t supplied.'}, 422)
        cid = next(self._ids)
        comment = self._fill(
            TEMPLATES["comment"],
            {"Codertocat/Hello-World": f"{owner}/{name}"},
            id=cid,
            node_id=f"IC_{cid}",
            user=self.users[self._login(request)],
            body=body["body"],
            created_at=now_iso(),
            updated_at=now_iso(),
            url=f"{self.url}/repos/{owner}/{name}/issues/comments/{cid}",
            html_url=f"{self.url}/{owner}/{name}/issues/{number}#issuecomment-{cid}",
            issue_url=f"{self.url}/repos/{owner}/{name}/issues/{number}",
        )
        self._comment_issue[cid] = int(number)
        self.repos[f"{owner}/{name}"]["comments"][cid] = comment
        item["comments"] = item.get("comments", 0) + 1
        return json_response(comment, 201)

    def _edit_comment(self, request: Request, body: Any, owner: str, name: str, cid: str):
        repo = self._repo(owner, name)
        comment = None if repo is None else repo["comments"].get(int(cid))
        if comment is None:
            return self._not_found()
        if comment["user"]["login"] != self._login(request):
            return json_response({"message": "Must have admin rights to Repository."}, 403)
        comment["body"] = body["body"]
        comment["updated_at"] = now_iso()
        return json_response(comment)

    def _add_labels(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        if item is None:
            return self._not_found()
        have = {lab["name"] for lab in item["labels"]}
        for label in body.get("labels", []):
            if label not in have:
                item["labels"].append(self._label(self.repos[f"{owner}/{name}"], label))
                have.add(label)
        return json_response(item["labels"])

    def _remove_label(
        self, request: Request, body: Any, owner: str, name: str, number: str, label: str
    ):
        item = self._item(owner, name, number)
        if item is None:
            return self._not_found()
        if label not in {lab["name"] for lab in item["labels"]}:
            return json_response({"message": "Label does not exist"}, 404)
        item["labels"] = [lab for lab in item["labels"] if lab["name"] != label]
        return json_response(item["labels"])

    def _reaction(self, request: Request, body: Any, target: tuple[str, int]) -> Response:
        content = body.get("content") if isinstance(body, dict) else None
        if content not in REACTIONS:
            return json_response({"message": "Validation Failed"}, 422)
        login = self._login(request)
        reactions = self.reactions.setdefault(target, [])
        for existing in reactions:
            if existing["content"] == content and existing["user"]["login"] == login:
                return json_response(existing, 200)
        rid = next(self._ids)
        reaction = {
            "id": rid,
            "node_id": f"REA_{rid}",
            "user": self.users[login],
            "content": content,
            "created_at": now_iso(),
        }
        reactions.append(reaction)
        return json_response(reaction, 201)

    def _react_issue(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        if item is None:
            return self._not_found()
        return self._reaction(request, body, ("issue", item["id"]))

    def _react_comment(self, request: Request, body: Any, owner: str, name: str, cid: str):
        repo = self._repo(owner, name)
        comment = None if repo is None else repo["comments"].get(int(cid))
        if comment is None:
            return self._not_found()
        return self._reaction(request, body, ("comment", comment["id"]))
