"""GitHub REST fake routes: pull request review comments and their replies, and GitHub
Actions job logs (check runs themselves are :mod:`tests.fakes.github_contents`').

Shapes follow GitHub's documented examples (the review comment object of the
``pull_request_review_comment`` webhook is the REST one). As on GitHub, a reply's
``in_reply_to_id`` names the thread's first comment, replying to a reply is refused
(422), and a job's log is a redirect to a plain-text download.
"""

from __future__ import annotations

import functools
from typing import Any

from werkzeug import Request, Response

from tests.conftest import load_webhook
from tests.fakes import json_response, now_iso
from tests.fakes.github_state import GitHubState


@functools.cache
def _review_comment_template() -> dict[str, Any]:
    # Read on first use through the shared-fixture helper (which skips without them).
    return load_webhook("github", "pull_request_review_comment.created.json")["comment"]


class GitHubThreadRoutes(GitHubState):
    """Handlers (and set-up) for review comments, check runs and job logs."""

    def _register_threads(self) -> None:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        r = self.route
        r("GET", repo + r"/pulls/(?P<number>\d+)/comments", self._list_review_comments)
        r(
            "GET",
            repo + r"/pulls/(?P<number>\d+)/reviews/(?P<rid>\d+)/comments",
            self._list_review_comments,
        )
        r(
            "POST",
            repo + r"/pulls/(?P<number>\d+)/comments/(?P<cid>\d+)/replies",
            self._reply_review_comment,
        )
        r("GET", repo + r"/actions/jobs/(?P<job>\d+)/logs", self._job_log_redirect)
        r("GET", r"/job-logs/(?P<job>\d+)\.txt", self._job_log)

    # --- set-up

    def add_review_with_comments(
        self,
        full_name: str,
        number: int,
        login: str,
        comments: list[tuple[str, int, str]],
        *,
        state: str = "COMMENTED",
        body: str = "",
    ) -> dict[str, Any]:
        """Submit a review as ``login`` with line comments ``(path, line, body)``."""
        review = self.add_review(full_name, number, login, state, body)
        repo = self.repos[full_name]
        for path, line, text in comments:
            self._new_review_comment(repo, number, login, path, line, text, review["id"], None)
        return review

    def add_check_log(
        self,
        full_name: str,
        sha: str,
        name: str,
        log: str | None,
        *,
        app: str = "github-actions",
        conclusion: str = "failure",
        summary: str | None = None,
    ) -> dict[str, Any]:
        """A completed check run on ``sha`` (``add_check_run``); an Actions run also gets
        a job log, any other app's run keeps ``log`` as its output text."""
        run = self.add_check_run(full_name, sha, name, status="completed", conclusion=conclusion)
        run["output"]["summary"] = summary
        if app != "github-actions":
            run["app"] = {"id": 1, "slug": app, "name": app}
            run["output"]["text"] = log
        elif log is not None:
            self.repos[full_name].setdefault("job_logs", {})[run["id"]] = log
        return run

    # --- plumbing

    def _new_review_comment(
        self, repo, number: int, login: str, path: str, line: int | None, body: str, rid, reply_to
    ) -> dict[str, Any]:
        cid = next(self._ids)
        full = repo["info"]["full_name"]
        comment = self._fill(
            _review_comment_template(),
            {"Codertocat/Hello-World": full, "/pull/1": f"/pull/{number}"},
            id=cid,
            node_id=f"PRRC_{cid}",
            pull_request_review_id=rid,
            path=path,
            line=line,
            original_line=line,
            body=body,
            user=self.add_user(login),
            created_at=now_iso(),
            updated_at=now_iso(),
        )
        if reply_to is not None:
            comment["in_reply_to_id"] = reply_to
        else:
            comment.pop("in_reply_to_id", None)
        repo.setdefault("review_comments", {}).setdefault(number, []).append(comment)
        return comment

    # --- handlers

    def _list_review_comments(
        self, request: Request, body: Any, owner: str, name: str, number: str, rid: str = ""
    ) -> Response:
        item = self._item(owner, name, number)
        if item is None or "head" not in item:
            return self._not_found()
        comments = self.repos[f"{owner}/{name}"].get("review_comments", {}).get(int(number), [])
        if rid:
            if not any(
                r["id"] == int(rid)
                for r in self.repos[f"{owner}/{name}"]["reviews"].get(int(number), [])
            ):
                return self._not_found()
            comments = [c for c in comments if c["pull_request_review_id"] == int(rid)]
        return self._paginate(request, comments)

    def _reply_review_comment(
        self, request: Request, body: Any, owner: str, name: str, number: str, cid: str
    ) -> Response:
        item = self._item(owner, name, number)
        if item is None or "head" not in item:
            return self._not_found()
        repo = self.repos[f"{owner}/{name}"]
        thread = repo.get("review_comments", {}).get(int(number), [])
        root = next((c for c in thread if c["id"] == int(cid)), None)
        if root is None:
            return self._not_found()
        if root.get("in_reply_to_id") is not None or not (body or {}).get("body"):
            return json_response({"message": "Validation Failed"}, 422)
        made = self._new_review_comment(
            repo,
            int(number),
            self._login(request),
            root["path"],
            root["line"],
            body["body"],
            next(self._ids),
            root["id"],
        )
        return json_response(made, 201)

    def _job_log_redirect(self, request: Request, body: Any, owner: str, name: str, job: str):
        repo = self._repo(owner, name)
        if repo is None or int(job) not in repo.get("job_logs", {}):
            return self._not_found()
        self._served_logs = {
            **getattr(self, "_served_logs", {}),
            int(job): repo["job_logs"][int(job)],
        }
        return Response(status=302, headers={"Location": f"{self.url}/job-logs/{job}.txt"})

    def _job_log(self, request: Request, body: Any, job: str) -> Response:
        text = getattr(self, "_served_logs", {}).get(int(job))
        if text is None:
            return self._not_found()
        return Response(text, status=200, mimetype="text/plain")
