"""Webhook deliveries from the GitHub fake's state, built the way GitHub sends them.

Each payload starts from a real recorded delivery (``fixtures/webhooks/github/``) and
gets the fake's own objects in place of the recorded ones — the fake's REST JSON has
the webhook shapes (both are GitHub's), so ``issue``, ``comment``, ``pull_request``,
``review``, ``check_run``, ``repository`` and ``sender`` are what the fake would serve.
:meth:`GitHubHooks.deliver` signs the body with the webhook secret
(``X-Hub-Signature-256``) and POSTs it to the app under a fresh delivery id.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from typing import Any

from tests.conftest import load_webhook
from tests.fakes.github_api import GitHubFake


class GitHubHooks:
    """Builds and delivers GitHub webhooks about one repository of a :class:`GitHubFake`.

    Args:
        fake: The fake whose state the payloads describe.
        repo: ``owner/name``.
        client: The app's test client (``POST /webhooks/github``).
        secret: The webhook secret the app verifies.
        path: The app's webhook route.
    """

    def __init__(
        self, fake: GitHubFake, repo: str, client: Any, secret: str, path: str = "/webhooks/github"
    ) -> None:
        self.fake = fake
        self.repo = repo
        self.client = client
        self.secret = secret
        self.path = path

    # --- the fake's objects

    def _state(self) -> dict[str, Any]:
        return self.fake.repos[self.repo]

    def repository(self) -> dict[str, Any]:
        """The repository object."""
        return copy.deepcopy(self._state()["info"])

    def user(self, login: str) -> dict[str, Any]:
        """A user object (created if new)."""
        return copy.deepcopy(self.fake.add_user(login))

    def issue(self, number: int) -> dict[str, Any]:
        """An issue (or a pull request seen as an issue, as ``issue_comment`` carries it)."""
        item = self._state()["items"][number]
        return copy.deepcopy(self.fake._issue_view(item))

    def pull(self, number: int) -> dict[str, Any]:
        """A pull request with its current head."""
        state = self._state()
        return copy.deepcopy(self.fake._refresh(state, state["items"][number]))

    def comment(self, comment_id: int | str) -> dict[str, Any]:
        """A comment object."""
        return copy.deepcopy(self._state()["comments"][int(comment_id)])

    # --- payloads

    def _base(self, name: str, **values: Any) -> dict[str, Any]:
        payload = load_webhook("github", name)
        for drop in ("organization", "installation", "enterprise"):
            payload.pop(drop, None)
        payload.update(values)
        return payload

    def issue_opened(self, number: int, by: str) -> tuple[str, dict[str, Any]]:
        """``issues`` ``opened``."""
        return "issues", self._base(
            "issues.opened.json",
            action="opened",
            issue=self.issue(number),
            repository=self.repository(),
            sender=self.user(by),
        )

    def comment_created(self, number: int, comment_id: int | str) -> tuple[str, dict[str, Any]]:
        """``issue_comment`` ``created`` (on an issue or a pull request)."""
        comment = self.comment(comment_id)
        return "issue_comment", self._base(
            "issue_comment.created.variant-1.json",
            action="created",
            issue=self.issue(number),
            comment=comment,
            repository=self.repository(),
            sender=comment["user"],
        )

    def comment_edited(
        self, number: int, comment_id: int | str, old_body: str
    ) -> tuple[str, dict[str, Any]]:
        """``issue_comment`` ``edited`` (``changes.body.from`` holds the old text)."""
        comment = self.comment(comment_id)
        return "issue_comment", self._base(
            "issue_comment.edited.json",
            action="edited",
            changes={"body": {"from": old_body}},
            issue=self.issue(number),
            comment=comment,
            repository=self.repository(),
            sender=comment["user"],
        )

    def pull_synchronize(self, number: int, before: str, by: str) -> tuple[str, dict[str, Any]]:
        """``pull_request`` ``synchronize``: someone pushed to the head branch."""
        pull = self.pull(number)
        return "pull_request", self._base(
            "pull_request.synchronize.json",
            action="synchronize",
            number=number,
            pull_request=pull,
            before=before,
            after=pull["head"]["sha"],
            repository=self.repository(),
            sender=self.user(by),
        )

    def review_submitted(self, number: int, review: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """``pull_request_review`` ``submitted``."""
        return "pull_request_review", self._base(
            "pull_request_review.submitted.approved.owners-bot.json",
            action="submitted",
            review=copy.deepcopy(review),
            pull_request=self.pull(number),
            repository=self.repository(),
            sender=copy.deepcopy(review["user"]),
        )

    def check_run_completed(self, run: dict[str, Any], branch: str) -> tuple[str, dict[str, Any]]:
        """``check_run`` ``completed`` as GitHub Actions reports it."""
        recorded = load_webhook("github", "check_run.completed.json")
        check = copy.deepcopy(run)
        suite = dict(recorded["check_run"]["check_suite"])
        suite.update(
            id=run["check_suite"]["id"],
            head_branch=branch,
            head_sha=run["head_sha"],
            status=run["status"],
            conclusion=run["conclusion"],
            pull_requests=[],
        )
        check["check_suite"] = suite
        return "check_run", self._base(
            "check_run.completed.json",
            action="completed",
            check_run=check,
            repository=self.repository(),
            sender=self.user("github-actions[bot]"),
        )

    # --- delivery

    def deliver(self, event: tuple[str, dict[str, Any]]) -> Any:
        """Sign and POST one delivery; returns the response (asserted accepted)."""
        name, payload = event
        body = json.dumps(payload).encode()
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        response = self.client.post(
            self.path,
            content=body,
            headers={
                "content-type": "application/json",
                "x-github-event": name,
                "x-github-delivery": str(uuid.uuid4()),
                "x-hub-signature-256": f"sha256={digest}",
            },
        )
        assert response.status_code in (200, 202), response.text
        return response
