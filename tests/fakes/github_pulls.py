"""GitHub REST fake routes: pull requests, the ready-for-review GraphQL mutation,
reviews, collaborator permissions and commit statuses.

``PATCH /pulls/N`` ignores ``draft`` and ``GET /pulls?head=`` filters only with the
``owner:branch`` form, as on GitHub.
"""

from __future__ import annotations

from typing import Any

from werkzeug import Request, Response

from tests.fakes import json_response, now_iso
from tests.fakes.github_state import ROLE_TO_LEGACY, STATUS_STATES, TEMPLATES, GitHubState


class GitHubPullRoutes(GitHubState):
    """Handlers for pull request, GraphQL, review, permission and status routes."""

    def _list_pulls(self, request: Request, body: Any, owner: str, name: str) -> Response:
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        state = request.args.get("state", "open")
        head = request.args.get("head")
        pulls = [p for p in repo["items"].values() if "head" in p]
        if state in {"open", "closed"}:
            pulls = [p for p in pulls if p["state"] == state]
        if head and ":" in head:  # GitHub ignores a head filter without the owner
            user, _, ref = head.partition(":")
            pulls = [
                p
                for p in pulls
                if p["head"]["ref"] == ref and p["head"]["label"] == f"{user}:{ref}"
            ]
        if request.args.get("base"):
            pulls = [p for p in pulls if p["base"]["ref"] == request.args["base"]]
        pulls.sort(key=lambda p: p["number"], reverse=True)
        return self._paginate(request, [self._refresh(repo, p) for p in pulls])

    def _create_pull(self, request: Request, body: Any, owner: str, name: str) -> Response:
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        head, base = body.get("head", ""), body.get("base", "")
        head_ref = head.partition(":")[2] if ":" in head else head
        errors = []
        if not body.get("title"):
            errors.append({"resource": "PullRequest", "field": "title", "code": "missing_field"})
        if repo["git"].head(head_ref) is None:
            errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
        if repo["git"].head(base) is None:
            errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
        for p in repo["items"].values():
            if (
                "head" in p
                and p["state"] == "open"
                and p["head"]["ref"] == head_ref
                and p["base"]["ref"] == base
            ):
                errors.append(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {owner}:{head_ref}.",
                    }
                )
        if errors:
            return json_response({"message": "Validation Failed", "errors": errors}, 422)
        issue = self._new_item(repo, self._login(request), body["title"], body.get("body"))
        number = issue["number"]
        full = f"{owner}/{name}"
        pull = self._fill(
            TEMPLATES["pull"],
            {
                "Codertocat/Hello-World": full,
                "/pull/2": f"/pull/{number}",
                "/pulls/2": f"/pulls/{number}",
                "/issues/2": f"/issues/{number}",
            },
            id=issue["id"],
            node_id=f"PR_{issue['id']}",
            number=number,
            title=body["title"],
            body=body.get("body"),
            user=issue["user"],
            labels=[],
            state="open",
            draft=bool(body.get("draft")),
            merged=False,
            merged_at=None,
            closed_at=None,
            created_at=now_iso(),
            updated_at=now_iso(),
            comments=0,
            requested_reviewers=[],
            assignee=None,
            assignees=[],
        )
        for side, ref in (("head", head_ref), ("base", base)):
            pull[side] = dict(
                pull[side],
                ref=ref,
                sha=repo["git"].head(ref),
                label=f"{owner}:{ref}",
                repo=repo["info"],
                user=self.users[owner],
            )
        repo["items"][number] = pull
        return json_response(pull, 201)

    def _get_pull(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        if item is None or "head" not in item:
            return self._not_found()
        return json_response(self._refresh(self.repos[f"{owner}/{name}"], item))

    def _update_pull(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        if item is None or "head" not in item:
            return self._not_found()
        for key in ("title", "body"):
            if key in body:
                item[key] = body[key]
        if body.get("state") in {"open", "closed"}:
            item["state"] = body["state"]
            item["closed_at"] = now_iso() if body["state"] == "closed" else None
        # "draft" is not a field of this endpoint: GitHub silently ignores it.
        item["updated_at"] = now_iso()
        return json_response(self._refresh(self.repos[f"{owner}/{name}"], item))

    def _graphql(self, request: Request, body: Any) -> Response:
        query = body.get("query", "") if isinstance(body, dict) else ""
        variables = body.get("variables") or {}
        if "markPullRequestReadyForReview" not in query:
            return json_response({"errors": [{"message": "unexpected query"}]}, 200)
        node_id = variables.get("id")
        for repo in self.repos.values():
            for item in repo["items"].values():
                if item.get("node_id") == node_id and "head" in item:
                    item["draft"] = False
                    return json_response(
                        {
                            "data": {
                                "markPullRequestReadyForReview": {
                                    "pullRequest": {"isDraft": False, "number": item["number"]}
                                }
                            }
                        }
                    )
        return json_response(
            {
                "data": {"markPullRequestReadyForReview": None},
                "errors": [
                    {
                        "type": "NOT_FOUND",
                        "path": ["markPullRequestReadyForReview"],
                        "message": f"Could not resolve to a node with the global id of '{node_id}'",
                    }
                ],
            }
        )

    def _list_reviews(self, request: Request, body: Any, owner: str, name: str, number: str):
        item = self._item(owner, name, number)
        if item is None or "head" not in item:
            return self._not_found()
        return self._paginate(
            request, self.repos[f"{owner}/{name}"]["reviews"].get(int(number), [])
        )

    def _permission(self, request: Request, body: Any, owner: str, name: str, login: str):
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        if login not in self.users:
            return json_response({"message": f"{login} is not a user"}, 404)
        role = repo["roles"].get(login, "none")
        return json_response(
            {"permission": ROLE_TO_LEGACY[role], "role_name": role, "user": self.users[login]}
        )

    def _get_team(self, request: Request, body: Any, org: str, slug: str):
        if f"{org}/{slug}" not in self.teams:
            return self._not_found()
        return json_response({"id": abs(hash(slug)) % 10**6, "slug": slug, "name": slug})

    def _team_membership(self, request: Request, body: Any, org: str, slug: str, login: str):
        # GitHub answers 404 for a non-member and for a missing team alike.
        state = self.teams.get(f"{org}/{slug}", {}).get(login)
        if state is None:
            return self._not_found()
        url = f"{self.url}/orgs/{org}/teams/{slug}/memberships/{login}"
        return json_response({"url": url, "role": "member", "state": state})

    def _create_status(self, request: Request, body: Any, owner: str, name: str, sha: str):
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        if body.get("state") not in STATUS_STATES:
            return json_response({"message": "Validation Failed"}, 422)
        try:
            repo["git"].repo[sha]
        except (KeyError, ValueError):
            return json_response({"message": "No commit found for SHA: " + sha}, 422)
        sid = next(self._ids)
        status = {
            "url": f"{self.url}/repos/{owner}/{name}/statuses/{sha}",
            "avatar_url": self.users[self._login(request)]["avatar_url"],
            "id": sid,
            "node_id": f"SC_{sid}",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "creator": self.users[self._login(request)],
        }
        repo["statuses"].setdefault(sha, []).insert(0, status)
        return json_response(status, 201)

    def _combined_status(self, request: Request, body: Any, owner: str, name: str, ref: str):
        repo = self._repo(owner, name)
        if repo is None:
            return self._not_found()
        sha = repo["git"].head(ref) or ref
        latest: dict[str, dict[str, Any]] = {}
        for status in repo["statuses"].get(sha, []):
            latest.setdefault(status["context"], status)
        states = {s["state"] for s in latest.values()}
        overall = (
            "failure"
            if states & {"failure", "error"}
            else "pending"
            if "pending" in states or not states
            else "success"
        )
        return json_response(
            {
                "state": overall,
                "statuses": list(latest.values()),
                "sha": sha,
                "total_count": len(latest),
                "repository": repo["info"],
                "commit_url": f"{self.url}/repos/{owner}/{name}/commits/{sha}",
                "url": f"{self.url}/repos/{owner}/{name}/commits/{sha}/status",
            }
        )
