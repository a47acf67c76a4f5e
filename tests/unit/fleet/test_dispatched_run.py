"""`agentforge run` in a CI job the server dispatched: the signed event is verified first."""

from __future__ import annotations

import json

import pytest

from bot.errors import SettingsError, VerificationError
from bot.jobs.dispatched import event_text, sign
from bot.parsers import parse_event
from bot.runner import run_in_ci
from tests.conftest import webhook_path

SECRET = "dispatch-secret-0123456789abcdef"
REPO = "Codertocat/Hello-World"


class Recorder:
    """The handlers + executor path, replaced: records the event it gets."""

    def __init__(self) -> None:
        self.events = []

    def dispatch(self, job, event):
        self.events.append(event)
        return {"handled": True, "kind": event.kind.value, "actions": []}


def the_event():
    body = webhook_path("github", "issue_comment.created.variant-1.json").read_bytes()
    return parse_event("github", "issue_comment", body, "delivery-7")


def github_env(tmp_path, inputs: dict, **extra) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"inputs": inputs, "ref": "refs/heads/master"}))
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "99",
        **extra,
    }


def run(env, recorder):
    return run_in_ci(env, dispatcher_factory=lambda settings, db: recorder)


def test_a_signed_dispatched_event_is_handled_as_the_original(tmp_path) -> None:
    text = event_text(the_event())
    inputs = {"event": text, "signature": sign(SECRET, text), "dispatch_id": "job-1-1-x"}
    recorder = Recorder()
    env = github_env(tmp_path, inputs, AGENTFORGE_DISPATCH_SECRET=SECRET)
    result = run(env, recorder)
    assert result.exit_code == 0 and result.summary["status"] == "done"
    (event,) = recorder.events
    assert event.kind.value == "issue_comment" and event.delivery_id == "delivery-7"
    assert result.summary["event_name"] == "issue_comment"


@pytest.mark.parametrize("signature", ["", "sha256=00", None])
def test_an_unsigned_or_forged_event_is_refused_and_nothing_runs(tmp_path, signature) -> None:
    text = event_text(the_event()).replace("Codertocat", "Codertocat", 1)
    forged = text.replace('"comment":"', '"comment":"/approve ', 1)
    inputs = {"event": forged, "dispatch_id": "job-1-1-x"}
    if signature is not None:
        inputs["signature"] = signature or sign(SECRET, text)  # "" = signed other text
    recorder = Recorder()
    with pytest.raises(VerificationError):
        run(github_env(tmp_path, inputs, AGENTFORGE_DISPATCH_SECRET=SECRET), recorder)
    assert recorder.events == []


def test_without_the_secret_the_job_says_which_one_to_set(tmp_path) -> None:
    text = event_text(the_event())
    inputs = {"event": text, "signature": sign(SECRET, text)}
    with pytest.raises(SettingsError) as caught:
        run(github_env(tmp_path, inputs), Recorder())
    assert caught.value.variable == "AGENTFORGE_DISPATCH_SECRET"


def test_an_event_for_another_repository_is_refused(tmp_path) -> None:
    text = event_text(the_event())
    inputs = {"event": text, "signature": sign(SECRET, text)}
    env = github_env(tmp_path, inputs, AGENTFORGE_DISPATCH_SECRET=SECRET)
    env["GITHUB_REPOSITORY"] = "someone/else"
    with pytest.raises(SettingsError, match="someone/else"):
        run(env, Recorder())


def test_a_hand_started_workflow_dispatch_is_ignored(tmp_path) -> None:
    result = run(github_env(tmp_path, {"reason": "manual"}), Recorder())
    assert result.summary["status"] == "ignored" and result.exit_code == 0


def test_gitlab_trigger_with_the_servers_variables(tmp_path) -> None:
    body = webhook_path("gitlab", "note_hook.issue.go-scm.json").read_bytes()
    event = parse_event("gitlab", "Note Hook", body, "gl-9")
    text = event_text(event)
    env = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "trigger",
        "CI_PIPELINE_ID": "77",
        "CI_PROJECT_PATH": event.repo.full_name,
        "AGENTFORGE_EVENT": text,
        "AGENTFORGE_EVENT_SIGNATURE": sign(SECRET, text),
        "AGENTFORGE_DISPATCH_SECRET": SECRET,
    }
    recorder = Recorder()
    result = run(env, recorder)
    assert result.summary["status"] == "done"
    assert recorder.events[0].comment == event.comment
    env["AGENTFORGE_EVENT_SIGNATURE"] = sign("another-secret-0123456789", text)
    with pytest.raises(VerificationError):
        run(env, Recorder())
