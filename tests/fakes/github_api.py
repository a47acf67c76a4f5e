"""A stateful fake of the GitHub REST API (and the one GraphQL mutation we send).

Response bodies are built from GitHub's own documentation examples (the octokit
payload examples in ``../shared/fixtures/webhooks/github``: webhook ``issue``,
``comment``, ``pull_request`` and ``review`` objects have the REST shapes), field for
field, with our values filled in. Behaviours clients often get wrong are reproduced:
``PATCH /pulls/N`` ignores ``draft``; ``GET /pulls?head=`` filters only with the
``owner:branch`` form; issues and pull requests share one number space; App
installation tokens are minted only for a JWT signed with the App's key.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import jwt
from werkzeug import Request, Response

from tests.fakes import BareRepo, Call, FakeServer, Fault, json_response, now_iso

FIXTURES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "webhooks" / "github"
)
_ROLE_TO_LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
STATUS_STATES = {"error", "failure", "pending", "success"}


def _template(file: str, key: str) -> dict[str, Any]:
    return json.loads((FIXTURES / file).read_text(encoding="utf-8"))[key]


_TEMPLATES = {
    "issue": _template("issues.opened.json", "issue"),
    "user": _template("issues.opened.json", "sender"),
    "repo": _template("issues.opened.json", "repository"),
    "label": _template("issues.labeled.json", "label"),
    "comment": _template("issue_comment.created.variant-1.json", "comment"),
    "pull": _template("pull_request.opened.json", "pull_request"),
    "review": _template("pull_request_review.submitted.approved.owners-bot.json", "review"),
}


class GitHubFake(FakeServer):
    """GitHub's REST API for a few repositories, with users, tokens and an App."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.tmp_path = tmp_path
        self._ids = itertools.count(1000)
        self.tokens: dict[str, str] = {}  # token -> login
        self.token_scopes: dict[str, str] = {}  # token -> X-OAuth-Scopes
        self.users: dict[str, dict[str, Any]] = {}
        self.repos: dict[str, dict[str, Any]] = {}
        self.app: dict[str, Any] | None = None
        self.installation_tokens_issued: list[str] = []
        self.reactions: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._comment_issue: dict[int, int] = {}
        self._register()

    # --- set-up used by tests and harnesses

    def add_user(self, login: str, *, bot: bool = False) -> dict[str, Any]:
        """Create an account (idempotent)."""
        if login not in self.users:
            uid = next(self._ids)
            self.users[login] = self._fill(
                _TEMPLATES["user"],
                {"Codertocat": login},
                login=login,
                id=uid,
                node_id=f"U_{uid}",
                type="Bot" if bot else "User",
            )
        return self.users[login]

    def add_token(self, token: str, login: str, scopes: str | None = "repo") -> None:
        """Accept ``token`` as ``login``; ``scopes`` is the classic PAT X-OAuth-Scopes."""
        self.add_user(login, bot=login.endswith("[bot]"))
        self.tokens[token] = login
        if scopes is not None:
            self.token_scopes[token] = scopes

    def add_repo(self, full_name: str, *, default_branch: str = "main") -> BareRepo:
        """Create a repository with one commit on ``default_branch``."""
        owner, name = full_name.split("/")
        self.add_user(owner)
        git = BareRepo(self.tmp_path / f"github-{owner}-{name}.git", default_branch)
        rid = next(self._ids)
        info = self._fill(
            _TEMPLATES["repo"],
            {"Codertocat/Hello-World": full_name},
            id=rid,
            node_id=f"R_{rid}",
            name=name,
            full_name=full_name,
            owner=self.users[owner],
            default_branch=default_branch,
            clone_url=git.url,
            private=False,
        )
        self.repos[full_name] = {
            "info": info,
            "git": git,
            "items": {},
            "comments": {},
            "reviews": {},
            "statuses": {},
            "roles": {owner: "admin"},
            "numbers": itertools.count(1),
        }
        return git

    def grant(self, full_name: str, login: str, role: str) -> None:
        """Give ``login`` a repository role (admin/maintain/write/triage/read/none)."""
        self.add_user(login)
        self.repos[full_name]["roles"][login] = role

    def set_app(
        self,
        app_id: str,
        public_key_pem: bytes,
        installation_id: int,
        login: str,
        token_lifetime: dt.timedelta = dt.timedelta(hours=1),
    ) -> None:
        """Register a GitHub App whose installation acts as ``login``."""
        self.add_user(login, bot=True)
        self.app = {
            "id": app_id,
            "key": public_key_pem,
            "installation": installation_id,
            "login": login,
            "lifetime": token_lifetime,
        }

    def add_review(
        self,
        full_name: str,
        number: int,
        login: str,
        state: str,
        body: str = "",
        commit_id: str | None = None,
    ) -> dict[str, Any]:
        """Submit a review as ``login`` (state as the API spells it: APPROVED...)."""
        repo = self.repos[full_name]
        pull = self._refresh(repo, repo["items"][number])
        rid = next(self._ids)
        review = self._fill(
            _TEMPLATES["review"],
            {},
            id=rid,
            node_id=f"PRR_{rid}",
            user=self.add_user(login),
            body=body,
            state=state,
            commit_id=commit_id or pull["head"]["sha"],
            submitted_at=now_iso(),
        )
        repo["reviews"].setdefault(number, []).append(review)
        return review

    def rate_limit_fault(self, *, secondary: bool = False, reset_in: int = 1) -> Fault:
        """A primary (403 + X-RateLimit-Remaining: 0) or secondary (429 Retry-After) limit."""
        if secondary:
            return Fault(
                status=429,
                headers={"Retry-After": str(reset_in)},
                body={"message": "You have exceeded a secondary rate limit."},
            )
        reset = int(dt.datetime.now(dt.UTC).timestamp()) + reset_in
        return Fault(
            status=403,
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
            body={"message": "API rate limit exceeded"},
        )

    # --- plumbing

    def _fill(self, template: dict[str, Any], replace: dict[str, str], **values: Any) -> dict:
        text = json.dumps(template)
        for old, new in {
            "https://api.github.com": self.url,
            "https://github.com": self.url,
            **replace,
        }.items():
            text = text.replace(old, new)
        data = json.loads(text)
        data.update(copy.deepcopy(values))
        return data

    def authenticate(self, request: Request) -> Response | None:
        if request.path.startswith("/app/installations/"):
            return None  # checked by its handler: a JWT, not a token
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in {"token", "bearer"} or token not in self.tokens:
            return json_response(
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                401,
            )
        return None

    def _login(self, request: Request) -> str:
        return self.tokens[request.headers["Authorization"].partition(" ")[2]]

    def _repo(self, owner: str, name: str) -> dict[str, Any] | None:
        return self.repos.get(f"{owner}/{name}")

    @staticmethod
    def _not_found() -> Response:
        return json_response(
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, 404
        )

    def _paginate(self, request: Request, items: list[Any]) -> Response:
        per_page = min(int(request.args.get("per_page", 30)), 100)
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            args = dict(request.args) | {"page": str(page + 1), "per_page": str(per_page)}
            query = "&".join(f"{k}={v}" for k, v in args.items())
            headers["Link"] = f'<{self.url}{request.path}?{query}>; rel="next"'
        return json_response(chunk, 200, headers)

    def _register(self) -> None:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        r = self.route
        r("GET", r"/user", self._get_user)
        r("POST", r"/app/installations/(?P<iid>\d+)/access_tokens", self._access_token)
        r("POST", r"/graphql", self._graphql)
        r("GET", repo, self._get_repo)
        r("POST", repo + r"/issues", self._create_issue)
        r("GET", repo + r"/issues/(?P<number>\d+)", self._get_issue)
        r("GET", repo + r"/issues/(?P<number>\d+)/comments", self._list_comments)
        r("POST", repo + r"/issues/(?P<number>\d+)/comments", self._create_comment)
        r("PATCH", repo + r"/issues/comments/(?P<cid>\d+)", self._edit_comment)
        r("POST", repo + r"/issues/(?P<number>\d+)/labels", self._add_labels)
        r("DELETE", repo + r"/issues/(?P<number>\d+)/labels/(?P<label>.+)", self._remove_label)
        r("POST", repo + r"/issues/(?P<number>\d+)/reactions", self._react_issue)
        r("POST", repo + r"/issues/comments/(?P<cid>\d+)/reactions", self._react_comment)
        r("GET", repo + r"/pulls", self._list_pulls)
        r("POST", repo + r"/pulls", self._create_pull)
        r("GET", repo + r"/pulls/(?P<number>\d+)", self._get_pull)
        r("PATCH", repo + r"/pulls/(?P<number>\d+)", self._update_pull)
        r("GET", repo + r"/pulls/(?P<number>\d+)/reviews", self._list_reviews)
        r("GET", repo + r"/collaborators/(?P<login>[^/]+)/permission", self._permission)
        r("POST", repo + r"/statuses/(?P<sha>[0-9a-f]{40})", self._create_status)
        r("GET", repo + r"/commits/(?P<ref>[^/]+)/status", self._combined_status)

    # --- handlers: identity

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

    def revoke(self, token: str) -> None:
        """Make ``token`` invalid (an expired installation token)."""
        self.tokens.pop(token, None)

    # --- repositories and issues

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

    def _new_item(self, repo: dict[str, Any], login: str, title: str, body: str | None) -> dict:
        number = next(repo["numbers"])
        iid = next(self._ids)
        full = repo["info"]["full_name"]
        issue = self._fill(
            _TEMPLATES["issue"],
            {"Codertocat/Hello-World": full, "/issues/1": f"/issues/{number}"},
            id=iid,
            node_id=f"I_{iid}",
            number=number,
            title=title,
            body=body,
            user=self.users[login],
            labels=[],
            assignee=None,
            assignees=[],
            comments=0,
            created_at=now_iso(),
            updated_at=now_iso(),
            closed_at=None,
            state="open",
            author_association="OWNER" if full.startswith(login + "/") else "CONTRIBUTOR",
        )
        issue.pop("draft", None)
        repo["items"][number] = issue
        return issue

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

    def _item(self, owner: str, name: str, number: str) -> dict[str, Any] | None:
        repo = self._repo(owner, name)
        return None if repo is None else repo["items"].get(int(number))

    def _issue_view(self, item: dict[str, Any]) -> dict[str, Any]:
        if "head" not in item:
            return item
        # A pull request read through the issues API: issue shape plus pull_request links.
        view = {k: item[k] for k in _TEMPLATES["issue"] if k in item and k != "draft"}
        view["pull_request"] = {
            "url": item["url"],
            "html_url": item["html_url"],
            "diff_url": item["diff_url"],
            "patch_url": item["patch_url"],
            "merged_at": item["merged_at"],
        }
        view["state"] = "closed" if item["state"] == "closed" else "open"
        view["draft"] = item["draft"]
        return view

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
            _TEMPLATES["comment"],
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

    def _label(self, repo: dict[str, Any], label: str) -> dict[str, Any]:
        lid = abs(hash((repo["info"]["full_name"], label))) % 10**9
        return self._fill(
            _TEMPLATES["label"],
            {"/labels/bug": f"/labels/{label}"},
            id=lid,
            node_id=f"LA_{lid}",
            name=label,
            default=False,
            description=None,
        )

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

    # --- pull requests

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

    def _refresh(self, repo: dict[str, Any], pull: dict[str, Any]) -> dict[str, Any]:
        sha = repo["git"].head(pull["head"]["ref"])
        if sha:
            pull["head"]["sha"] = sha
        return pull

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
            _TEMPLATES["pull"],
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
            {"permission": _ROLE_TO_LEGACY[role], "role_name": role, "user": self.users[login]}
        )

    # --- statuses

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


__all__ = ["Call", "Fault", "GitHubFake"]
