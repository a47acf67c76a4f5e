"""The ``update_issue`` action: idempotent edits, close and reopen, and its bad cases."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.actions import UpdateIssue
from bot.errors import NotFound
from bot.executor import Executor, OutcomeStatus, parse_actions, subject_of
from tests.unit.executor.support import REPO, Flaky

APPLIED, SKIPPED, FAILED = OutcomeStatus.APPLIED, OutcomeStatus.SKIPPED, OutcomeStatus.FAILED


def test_close_then_close_again_writes_once(local, forge: Flaky) -> None:
    n = local.create_issue(REPO, "Add login").number
    close = UpdateIssue(repo=REPO, number=n, state="closed", reason="last phase merged")
    outcomes = Executor(forge).apply([close, close])
    assert [o.status for o in outcomes] == [APPLIED, SKIPPED]
    assert forge.writes == ["update_issue"]
    assert outcomes[0].result == {"number": n}
    assert local.get_issue(REPO, n).state == "closed"


def test_only_changed_fields_are_sent(local, forge: Flaky) -> None:
    n = local.create_issue(REPO, "Add login", "old body").number
    action = UpdateIssue(repo=REPO, number=n, title="Add login", body="new body")
    outcome = Executor(forge).apply([action])[0]
    assert outcome.status == APPLIED
    assert outcome.detail == "updated body"
    issue = local.get_issue(REPO, n)
    assert (issue.title, issue.body, issue.state) == ("Add login", "new body", "open")


def test_reopen_and_nothing_to_change(local, forge: Flaky) -> None:
    n = local.create_issue(REPO, "x").number
    local.update_issue(REPO, n, state="closed")
    executor = Executor(forge)
    assert executor.apply([UpdateIssue(repo=REPO, number=n, state="open")])[0].status == APPLIED
    assert executor.apply([UpdateIssue(repo=REPO, number=n)])[0].status == SKIPPED
    assert local.get_issue(REPO, n).state == "open"


def test_missing_issue_fails_with_not_found(forge: Flaky) -> None:
    outcome = Executor(forge).apply([UpdateIssue(repo=REPO, number=99, state="closed")])[0]
    assert outcome.status == FAILED
    assert isinstance(outcome.error, NotFound)
    assert forge.writes == []


def test_bad_state_is_refused_when_proposed() -> None:
    with pytest.raises(ValidationError):
        UpdateIssue(repo=REPO, number=1, state="merged")


def test_round_trips_through_a_job_result() -> None:
    action = UpdateIssue(repo=REPO, number=3, title="t", state="closed")
    assert parse_actions([action.model_dump(mode="json")]) == [action]
    assert subject_of(action) == f"{REPO}#3"
