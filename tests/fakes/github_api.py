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

from pathlib import Path

from tests.fakes import Call, Fault
from tests.fakes.github_actions import GitHubActionsRoutes
from tests.fakes.github_contents import GitHubContentRoutes
from tests.fakes.github_issues import GitHubIssueRoutes
from tests.fakes.github_pulls import GitHubPullRoutes
from tests.fakes.github_threads import GitHubThreadRoutes


class GitHubFake(
    GitHubIssueRoutes,
    GitHubPullRoutes,
    GitHubContentRoutes,
    GitHubThreadRoutes,
    GitHubActionsRoutes,
):
    """GitHub's REST API for a few repositories, with users, tokens and an App.

    Set-up (``add_repo``, ``add_token``, ``grant``, ``set_app``, ``add_review``...) is
    in :class:`tests.fakes.github_state.GitHubState`; the handlers are in
    :mod:`tests.fakes.github_issues`, :mod:`tests.fakes.github_pulls` and
    :mod:`tests.fakes.github_contents` (contents at a ref, PR files, issue lists,
    check runs: ``add_check_run``) and :mod:`tests.fakes.github_actions` (workflow
    dispatches and runs: ``add_workflow``, ``finish_run``).
    """

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self._register()
        self._register_threads()

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
        team = r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)"
        r("GET", team, self._get_team)
        r("GET", team + r"/memberships/(?P<login>[^/]+)", self._team_membership)
        r("GET", r"/app", self._get_app)
        r("GET", r"/users/(?P<login>[^/]+)", self._get_named_user)
        r("GET", repo + r"/contents", self._get_contents)
        r("GET", repo + r"/contents/(?P<path>.*)", self._get_contents)
        r("GET", repo + r"/git/blobs/(?P<sha>[0-9a-f]{40})", self._get_blob)
        r("GET", repo + r"/pulls/(?P<number>\d+)/files", self._list_pull_files)
        r("GET", repo + r"/issues", self._list_issues)
        r("PATCH", repo + r"/issues/(?P<number>\d+)", self._update_issue)
        r("GET", repo + r"/commits/(?P<ref>[^/]+)/check-runs", self._list_check_runs)
        workflow = repo + r"/actions/workflows/(?P<file>[^/]+)"
        r("POST", workflow + r"/dispatches", self._dispatch_workflow)
        r("GET", workflow + r"/runs", self._list_workflow_runs)
        r("GET", repo + r"/actions/runs/(?P<rid>\d+)", self._get_workflow_run)


__all__ = ["Call", "Fault", "GitHubFake"]
