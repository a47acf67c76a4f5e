"""State and plumbing of the GitHub REST fake: accounts, tokens, repositories, items.

:class:`GitHubState` holds what the fake knows and the helpers its route handlers share
(JSON built from GitHub's documented examples, authentication, pagination with
``Link`` headers). The handlers are in :mod:`tests.fakes.github_issues` and
:mod:`tests.fakes.github_pulls`; :class:`tests.fakes.github_api.GitHubFake` routes to them.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from werkzeug import Request, Response

from tests.conftest import load_webhook
from tests.fakes import BareRepo, FakeServer, Fault, json_response, now_iso

ROLE_TO_LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
STATUS_STATES = {"error", "failure", "pending", "success"}


_TEMPLATE_SOURCES = {
    "issue": ("issues.opened.json", "issue"),
    "user": ("issues.opened.json", "sender"),
    "repo": ("issues.opened.json", "repository"),
    "label": ("issues.labeled.json", "label"),
    "comment": ("issue_comment.created.variant-1.json", "comment"),
    "pull": ("pull_request.opened.json", "pull_request"),
    "review": ("pull_request_review.submitted.approved.owners-bot.json", "review"),
}


@functools.cache
def _templates() -> dict[str, dict[str, Any]]:
    return {
        name: load_webhook("github", file)[key] for name, (file, key) in _TEMPLATE_SOURCES.items()
    }


class _Templates(Mapping[str, dict[str, Any]]):
    """GitHub's JSON shapes, read from the shared real payloads when first used.

    Read lazily through :func:`tests.conftest.load_webhook`, so that without the shared
    payloads the tests using the GitHub fake are skipped (with the reason) instead of
    every module importing the fake failing at collection.
    """

    def __getitem__(self, name: str) -> dict[str, Any]:
        return _templates()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_TEMPLATE_SOURCES)

    def __len__(self) -> int:
        return len(_TEMPLATE_SOURCES)


TEMPLATES = _Templates()


class GitHubState(FakeServer):
    """GitHub's state for a few repositories, with users, tokens and an App."""

    def __init__(self, tmp_path: Path) -> None:
        _templates()  # skip now (in the fixture), not halfway through a test
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
        self.teams: dict[str, dict[str, str]] = {}  # "org/slug" -> login -> state
        self._comment_issue: dict[int, int] = {}

    # --- set-up used by tests and harnesses

    def add_user(self, login: str, *, bot: bool = False) -> dict[str, Any]:
        """Create an account (idempotent)."""
        if login not in self.users:
            uid = next(self._ids)
            self.users[login] = self._fill(
                TEMPLATES["user"],
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
            TEMPLATES["repo"],
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

    def add_team(self, team: str, members: list[str], *, pending: list[str] = ()) -> None:
        """Create team ``org/slug`` with active ``members`` (and ``pending`` invitations)."""
        for login in [*members, *pending]:
            self.add_user(login)
        self.teams[team] = {
            **{login: "active" for login in members},
            **{login: "pending" for login in pending},
        }

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
            TEMPLATES["review"],
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

    def revoke(self, token: str) -> None:
        """Make ``token`` invalid (an expired installation token)."""
        self.tokens.pop(token, None)

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

    def _item(self, owner: str, name: str, number: str) -> dict[str, Any] | None:
        repo = self._repo(owner, name)
        return None if repo is None else repo["items"].get(int(number))

    def _new_item(self, repo: dict[str, Any], login: str, title: str, body: str | None) -> dict:
        number = next(repo["numbers"])
        iid = next(self._ids)
        full = repo["info"]["full_name"]
        issue = self._fill(
            TEMPLATES["issue"],
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

    def _issue_view(self, item: dict[str, Any]) -> dict[str, Any]:
        if "head" not in item:
            return item
        # A pull request read through the issues API: issue shape plus pull_request links.
        view = {k: item[k] for k in TEMPLATES["issue"] if k in item and k != "draft"}
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

    def _label(self, repo: dict[str, Any], label: str) -> dict[str, Any]:
        lid = abs(hash((repo["info"]["full_name"], label))) % 10**9
        return self._fill(
            TEMPLATES["label"],
            {"/labels/bug": f"/labels/{label}"},
            id=lid,
            node_id=f"LA_{lid}",
            name=label,
            default=False,
            description=None,
        )

    def _refresh(self, repo: dict[str, Any], pull: dict[str, Any]) -> dict[str, Any]:
        sha = repo["git"].head(pull["head"]["ref"])
        if sha:
            pull["head"]["sha"] = sha
        return pull
