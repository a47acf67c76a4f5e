"""A stateful fake of the GitLab REST API v4.

Shapes follow GitLab's API documentation (projects, issues, notes, merge requests,
approvals, reviewers, members, award emoji, commit statuses). GitLab behaviours
clients often get wrong are reproduced: a project is addressed by its URL-encoded path
(``group%2Fsub%2Fapp``); a draft MR is a ``Draft:`` title prefix; a note made only of
quick actions is not stored (``202`` with ``commands_changes``) and ``/approve`` approves;
approving twice answers ``401``; rate limits are ``429`` with ``RateLimit-Reset``.
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes import Fault, json_response
from tests.fakes.gitlab_issues import GitLabIssueRoutes
from tests.fakes.gitlab_mrs import GitLabMRRoutes
from tests.fakes.gitlab_threads import GitLabThreadRoutes
from tests.fakes.gitlab_triggers import GitLabTriggerRoutes


class GitLabFake(GitLabIssueRoutes, GitLabMRRoutes, GitLabTriggerRoutes, GitLabThreadRoutes):
    """GitLab's REST API v4 for a few projects, with users, tokens and members.

    Set-up (``add_project``, ``add_token``, ``grant``, ``approve``, ``review``...) is in
    :class:`tests.fakes.gitlab_state.GitLabState`; the handlers are in
    :mod:`tests.fakes.gitlab_issues`, :mod:`tests.fakes.gitlab_mrs` and
    :mod:`tests.fakes.gitlab_contents` (files and trees at a ref, MR diffs, issue lists,
    pipelines: ``add_pipeline``, ``add_job``) and :mod:`tests.fakes.gitlab_triggers`
    (pipeline triggers: ``add_trigger``, ``set_pipeline_status``).
    """

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self._register()
        self._register_threads()

    def _register(self) -> None:
        p = r"/api/v4/projects/(?P<pid>[^/]+)"
        kinds = r"(?P<kind>issues|merge_requests)/(?P<iid>\d+)"
        r = self.route
        r("GET", r"/api/v4/user", lambda req, body: json_response(self._me(req)))
        r("GET", r"/api/v4/personal_access_tokens/self", self._token_self)
        r("GET", r"/api/v4/users", self._find_users)
        r("GET", p, self._get_project)
        r("GET", r"/api/v4/groups/(?P<gid>[^/]+)", self._get_group)
        r("GET", r"/api/v4/groups/(?P<gid>[^/]+)/members/all/(?P<uid>\d+)", self._group_member)
        r("POST", p + r"/issues", self._create_issue)
        r("GET", p + r"/issues/(?P<iid>\d+)", self._get_issue)
        r("PUT", p + r"/issues/(?P<iid>\d+)", self._edit_issue)
        r("GET", p + r"/issues", self._list_issues)
        r("GET", p + "/" + kinds + r"/notes", self._list_notes)
        r("POST", p + "/" + kinds + r"/notes", self._create_note)
        r("PUT", p + "/" + kinds + r"/notes/(?P<nid>\d+)", self._edit_note)
        for verb in ("GET", "POST"):
            r(verb, p + "/" + kinds + r"/award_emoji", self._awards)
            r(verb, p + "/" + kinds + r"/notes/(?P<nid>\d+)/award_emoji", self._awards)
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
        r("GET", p + r"/repository/files/(?P<file>[^/]+)/raw", self._raw_file)
        r("GET", p + r"/repository/tree", self._tree)
        r("GET", p + r"/merge_requests/(?P<iid>\d+)/diffs", self._mr_diffs)
        r("GET", p + r"/pipelines", self._list_pipelines)
        r("GET", p + r"/pipelines/(?P<pipeline_id>\d+)", self._get_pipeline)
        r("POST", p + r"/trigger/pipeline", self._trigger_pipeline)


__all__ = ["Fault", "GitLabFake"]
