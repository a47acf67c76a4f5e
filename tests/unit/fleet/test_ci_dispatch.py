"""CI runners as the fleet: what is sent to CI, failures keep the job, order per issue."""

from __future__ import annotations

import json
import threading

import pytest

from bot.errors import DispatchError, RepoConfigError, SettingsError
from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from bot.forges.resilience import RetryPolicy
from bot.jobs.ci_dispatch import RUN_NAME_PREFIX, CiDispatcher, RoutingDispatcher, build_routing
from bot.jobs.dispatched import decode, event_text, sign
from bot.jobs.queue import Delivery, JobQueue
from bot.jobs.worker import WorkerPool
from bot.parsers import parse_event
from bot.repoconfig import load_files
from bot.services import ConfigCache, ForgeConfigSource
from bot.settings import Settings
from bot.store.db import Database
from tests.conftest import webhook_path
from tests.fakes import Fault
from tests.fakes.github_api import GitHubFake
from tests.fakes.gitlab_api import GitLabFake

REPO = "Codertocat/Hello-World"
PROJECT = "gitlab-org/hello-world"
TOKEN = "bot-token-0123456789abcdef"
SECRET = "dispatch-secret-0123456789abcdef"
CI_CONFIG = "dispatch:\n  mode: ci\n  workflow: agentforge.yml\n"
FAST = RetryPolicy(attempts=2, sleep=lambda seconds: None)


class NotHere:
    """The in-process dispatcher of a repository that dispatches to CI: never called."""

    calls = 0

    def dispatch(self, job, event):
        NotHere.calls += 1
        return {"handled": True, "kind": event.kind.value, "actions": [], "where": "server"}


def comment_body(comment: str = "/approve") -> bytes:
    data = json.loads(webhook_path("github", "issue_comment.created.variant-1.json").read_bytes())
    data["comment"]["body"] = comment
    return json.dumps(data).encode()


@pytest.fixture
def github(tmp_path):
    fake = GitHubFake(tmp_path)
    # The recorded payload names "master" as the default branch.
    git = fake.add_repo(REPO, default_branch="master")
    git.commit("master", {".agentforge/config.yaml": CI_CONFIG}, base="master")
    fake.add_token(TOKEN, "agentforge-bot")
    fake.grant(REPO, "agentforge-bot", "write")
    fake.add_workflow(REPO, "agentforge.yml")
    yield fake
    fake.close()


def settings(fake, **extra) -> Settings:
    values = {"github_token": TOKEN, "github_url": fake.url, "dispatch_secret": SECRET}
    return Settings(**{**values, **extra})


def routing(fake, cfg: Settings, sleep, forge_cls=GitHubForge, **forge_kw) -> RoutingDispatcher:
    forge = forge_cls(token=TOKEN, base_url=fake.url, policy=FAST, **forge_kw)

    def dispatch_config(event):
        return ForgeConfigSource(forge, ConfigCache()).load(event.repo.full_name).config.dispatch

    ci = CiDispatcher(cfg, lambda name: forge, sleep=sleep)
    return RoutingDispatcher(NotHere(), ci, dispatch_config)


def one_job(queue: JobQueue, n: int = 1, body: bytes | None = None, lane: str = "heavy"):
    queue.enqueue(
        Delivery(
            forge="github",
            delivery_id=f"d{n}",
            event_name="issue_comment",
            payload=body or comment_body(),
            content_key=f"c{n}",
            subject=f"github:{REPO}:issue:1",
            repo=REPO,
            queue=lane,
        )
    )


@pytest.fixture
def queue(tmp_path):
    db = Database.open(tmp_path / "data")
    q = JobQueue(db, max_attempts=3, backoff_seconds=0)
    yield q
    q.close()
    db.close()


def ci_runner(fake, conclusion: str = "success"):
    """A ``sleep`` standing in for the CI runner: each wait finishes the newest run."""

    def sleep(seconds: float) -> None:
        queued = [r for r in fake.runs if r["status"] != "completed"]
        if queued:
            fake.finish_run(queued[-1]["id"], conclusion)

    return sleep


def test_github_dispatch_sends_the_signed_event_and_waits_for_the_run(github, queue) -> None:
    one_job(queue)
    pool = WorkerPool(queue, routing(github, settings(github), ci_runner(github)), workers=1)
    (job,) = queue.lease_many(pool.owner, 1)
    assert pool.run_job(job) == "done"
    (run,) = github.runs
    calls = github.calls_to("POST", rf"/repos/{REPO}/actions/workflows/agentforge.yml/dispatches")
    assert len(calls) == 1 and calls[0].body["ref"] == "master"
    inputs = run["inputs"]
    assert set(inputs) == {"event", "signature", "dispatch_id"}
    event = parse_event("github", "issue_comment", comment_body(), "d1")
    assert inputs["event"] == event_text(event)
    assert inputs["signature"] == sign(SECRET, inputs["event"])
    back = decode(inputs["event"], inputs["signature"], SECRET, source="test", forge="github")
    assert back.comment == "/approve" and back.delivery_id == "d1" and back.raw == {}
    assert run["display_title"] == RUN_NAME_PREFIX + inputs["dispatch_id"]
    result = queue.get(job.id)["result"]
    assert result["dispatched"]["run_id"] == run["id"]
    assert result["dispatched"]["conclusion"] == "success"
    assert NotHere.calls == 0
    assert github.unexpected == []


def test_a_5xx_from_the_dispatch_keeps_the_job_and_it_is_retried(github, queue) -> None:
    one_job(queue)
    github.inject(Fault(status=502, path="/dispatches"), times=FAST.attempts)
    pool = WorkerPool(queue, routing(github, settings(github), ci_runner(github)), workers=1)
    (job,) = queue.lease_many(pool.owner, 1)
    assert pool.run_job(job) == "failed"
    failed = queue.get(job.id)
    assert failed["state"] == "failed" and "Unavailable" in failed["last_error"]
    assert github.runs == []  # nothing was started, nothing is lost
    (again,) = queue.lease_many(pool.owner, 1)
    assert again.id == job.id and again.attempts == 2
    assert pool.run_job(again) == "done"
    assert len(github.runs) == 1
    assert github.runs[0]["inputs"]["dispatch_id"].startswith(f"job-{job.id}-2-")


def test_a_failed_ci_run_fails_the_attempt(github, queue) -> None:
    one_job(queue)
    pool = WorkerPool(
        queue, routing(github, settings(github), ci_runner(github, "failure")), workers=1
    )
    (job,) = queue.lease_many(pool.owner, 1)
    assert pool.run_job(job) == "failed"
    assert "DispatchError" in queue.get(job.id)["last_error"]
    assert "failure" in queue.get(job.id)["last_error"]


def test_a_run_that_never_appears_fails_the_attempt(github) -> None:
    github.add_workflow(REPO, "agentforge.yml", run_name="something else")
    ticks = iter(range(0, 100_000, 60))
    forge = GitHubForge(token=TOKEN, base_url=github.url, policy=FAST)
    ci = CiDispatcher(
        settings(github), lambda name: forge, sleep=lambda s: None, clock=lambda: float(next(ticks))
    )
    event = parse_event("github", "issue_comment", comment_body(), "d1")
    from bot.jobs.queue import Job

    job = Job(1, "d1", "github", "issue_comment", REPO, None, b"", {}, 1, 3, "w")
    config = load_files({".agentforge/config.yaml": CI_CONFIG}).config.dispatch
    with pytest.raises(DispatchError, match="run-name"):
        ci.dispatch(job, event, config)


def test_without_a_dispatch_secret_the_job_fails_naming_the_setting(github) -> None:
    from bot.jobs.queue import Job

    ci = CiDispatcher(settings(github, dispatch_secret=None), lambda name: None)
    event = parse_event("github", "issue_comment", comment_body(), "d1")
    job = Job(1, "d1", "github", "issue_comment", REPO, None, b"", {}, 1, 3, "w")
    config = load_files({".agentforge/config.yaml": CI_CONFIG}).config.dispatch
    with pytest.raises(SettingsError) as caught:
        ci.dispatch(job, event, config)
    assert caught.value.variable == "AGENTFORGE_DISPATCH_SECRET"
    assert github.runs == []


def test_one_issues_jobs_wait_for_the_previous_ci_run(github, queue) -> None:
    one_job(queue, 1)
    one_job(queue, 2, comment_body("/status"))
    started, finish = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:
        started.set()
        finish.wait(30)
        ci_runner(github)(seconds)

    pool = WorkerPool(
        queue, routing(github, settings(github), sleep), lanes={"heavy": 4}, poll_seconds=0.05
    )
    pool.start()
    try:
        assert started.wait(30)
        # The first job's CI run is in progress: the issue's second job waits queued.
        assert len(github.runs) == 1 and queue.depth()["queued"] == 1
        finish.set()
        for _ in range(1500):
            if queue.depth()["done"] == 2:
                break
            threading.Event().wait(0.02)
    finally:
        finish.set()
        pool.stop(grace=10)
    first, second = github.runs
    assert json.loads(first["inputs"]["event"])["comment"] == "/approve"
    assert json.loads(second["inputs"]["event"])["comment"] == "/status"
    assert first["updated_at"] <= second["created_at"]


def test_a_repository_without_dispatch_config_runs_on_the_server(github, queue) -> None:
    github.repos[REPO]["git"].commit(
        "master", {".agentforge/config.yaml": "version: 1\n"}, base="master"
    )
    one_job(queue)
    NotHere.calls = 0
    pool = WorkerPool(queue, routing(github, settings(github), ci_runner(github)), workers=1)
    (job,) = queue.lease_many(pool.owner, 1)
    assert pool.run_job(job) == "done"
    assert NotHere.calls == 1 and github.runs == []


@pytest.mark.parametrize(
    "text",
    [
        "dispatch:\n  mode: cloud\n",
        "dispatch:\n  mode: ci\n  workflows: x.yml\n",
        "dispatch:\n  workflow: ../x.yml\n",
    ],
)
def test_the_dispatch_section_is_strict(text) -> None:
    with pytest.raises(RepoConfigError) as caught:
        load_files({".agentforge/config.yaml": text})
    assert "dispatch" in str(caught.value)


def test_gitlab_dispatch_triggers_a_pipeline_with_the_signed_event(tmp_path) -> None:
    fake = GitLabFake(tmp_path)
    try:
        git = fake.add_project(PROJECT, default_branch="master")  # as in the payload
        git.commit("master", {".agentforge/config.yaml": "dispatch:\n  mode: ci\n"}, base="master")
        fake.add_token(TOKEN, "agentforge-bot")
        fake.grant(PROJECT, "agentforge-bot", 30)
        fake.add_trigger(PROJECT, "glptt-trigger-token")
        cfg = Settings(
            gitlab_token=TOKEN,
            gitlab_url=fake.url,
            dispatch_secret=SECRET,
            gitlab_trigger_token=f"other/project=nope,{PROJECT}=glptt-trigger-token",
        )

        def runner(seconds):
            for pipeline in fake.triggered:
                fake.set_pipeline_status(pipeline["id"], "success")

        body = webhook_path("gitlab", "note_hook.issue.go-scm.json").read_bytes()
        event = parse_event("gitlab", "Note Hook", body, "gl-1")
        from bot.jobs.queue import Job

        job = Job(5, "gl-1", "gitlab", "Note Hook", PROJECT, None, body, {}, 1, 3, "w")
        dispatcher = routing(fake, cfg, runner, forge_cls=GitLabForge)
        result = dispatcher.dispatch(job, event)
        (pipeline,) = fake.triggered
        variables = pipeline["variables"]
        assert variables["AGENTFORGE_EVENT"] == event_text(event)
        assert variables["AGENTFORGE_EVENT_SIGNATURE"] == sign(SECRET, event_text(event))
        assert variables["AGENTFORGE_DISPATCH_ID"].startswith("job-5-1-")
        assert pipeline["ref"] == "master"
        assert result["dispatched"]["status"] == "success"
        assert fake.unexpected == []
        # A wrong trigger token is refused by GitLab; the attempt fails, nothing runs.
        wrong = Settings(
            gitlab_token=TOKEN,
            gitlab_url=fake.url,
            dispatch_secret=SECRET,
            gitlab_trigger_token="glptt-wrong",
        )
        with pytest.raises(Exception, match="404"):
            routing(fake, wrong, runner, forge_cls=GitLabForge).dispatch(job, event)
        assert len(fake.triggered) == 1
    finally:
        fake.close()


def test_serve_routes_through_ci_only_with_a_dispatch_secret(github) -> None:
    local = NotHere()
    assert isinstance(build_routing(settings(github), local), RoutingDispatcher)


def test_a_light_job_of_a_ci_repository_waits_for_its_run_in_the_heavy_lane(github, queue) -> None:
    one_job(queue, lane="light")
    pool = WorkerPool(queue, routing(github, settings(github), ci_runner(github)), workers=1)
    (job,) = queue.lease_many(pool.owner, 1, queue="light")
    assert pool.run_job(job) == "moved"
    assert github.runs == []  # nothing dispatched from the light lane
    assert queue.lease_many(pool.owner, 1, queue="light") == []
    (moved,) = queue.lease_many(pool.owner, 1, queue="heavy")
    assert (moved.id, moved.queue, moved.attempts) == (job.id, "heavy", 1)
    assert pool.run_job(moved) == "done"
    assert len(github.runs) == 1
