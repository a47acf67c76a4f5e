"""A real ``agentforge serve --local`` killed (SIGKILL) at each side-effect boundary.

Every scenario runs the bot as a process of its own through
``tests/e2e/crashpoints.py``, which arms one boundary
(:data:`tests.e2e.crashpoints.POINTS`: the forge writes, the git commit and push, the
run store's create and compare-and-set, the audit record, a role's heartbeat mid-run,
the queue's record of a finished job, the local feed's cursor) to kill the process at
its N-th call, and checks the call came from the engine step the scenario is named
for. Then a plain ``agentforge serve --local`` starts again, once on the same data
directory and once on an EMPTY one (the run rebuilt from the forge alone), and the
test checks what a person would see once the bot is idle: the same gate reached as
without a crash, one branch, one MR, one status comment, one commit per phase, no
failed job, and the role worked again exactly when its result was not durable where
the restarted bot looks (never once its commit had landed).

Two stretches of the run are crashed: the first phase from the issue opened to its
gate (run created, status comment, role, commit, branch, MR), and the last phase from
the ``/approve`` to the ready MR (👀, approval, hand-over to the heavy queue, role,
second commit, MR description, auto gate, marked ready).

Cost: the forge (and data directory) are templates taken once and restored at the same
absolute paths, so the first phase runs crash-free only once per module; bot
processes are forked from a process that has imported the bot already
(:class:`Zygote`), which saves seconds per start on a busy machine.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.forges.local import LocalForge
from bot.forges.local_store import release_all
from bot.intake.local_feed import CURSOR_NAME
from tests.conftest import ROOT
from tests.e2e.workflow_support import (
    BRANCH,
    bot_comments,
    branch_log,
    branches,
    git_env,
    make_project,
    project_files,
    read_json,
    run_state,
    status_comments,
)
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import RoleScript, phase_steps

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = "me/calc"
BOT = "agentforge"
BRANCH_1 = BRANCH.format(n=1)
CRASHPOINTS = Path(__file__).with_name("crashpoints.py")
WORKFLOW = """\
version: 1
phases:
  - name: discovery
    role: analyst
    outputs: ["docs/requirements/*.md"]
    gate: human
  - name: design
    role: architect
    outputs: ["docs/design/*.md"]
    gate: auto
"""
"""Two cheap phases: a human gate after the first, an automatic one after the last."""


# --- the scenarios ---------------------------------------------------------------------


@dataclass(frozen=True)
class Crash:
    """Kill the bot at the ``nth`` call of ``point`` made inside engine ``step``."""

    stretch: str  # "first": issue opened -> discovery gate; "last": /approve -> ready MR
    point: str
    step: str | None  # a handlers/ frame (module.function); None: any call counts
    nth: int
    landed: str  # of the stretch's role work: "nothing", its "result" (no commit), "commit"
    what: str

    def reruns(self, empty: bool) -> int:
        """How often the stretch's role must work again after the restart: when its result
        was not durable where the restarted bot looks (the records, or only the forge)."""
        if empty:
            return 0 if self.landed == "commit" else 1
        return 1 if self.landed == "nothing" else 0

    @property
    def id(self) -> str:
        return f"{self.stretch}-{self.point}-{self.step or 'any'}-{self.nth}"


FIRST = [
    Crash("first", "feed.cursor", None, 1, "nothing", "an outbox event queued, cursor not moved"),
    Crash("first", "runs.create", "engine.new_run", 1, "nothing", "run created, nothing else"),
    Crash("first", "forge.create_comment", "engine.publish", 1, "nothing", "status posted"),
    Crash("first", "audit.append", "engine.publish", 1, "nothing", "status post audited"),
    Crash("first", "runs.compare_and_set", "engine.publish", 1, "nothing", "status id kept"),
    Crash("first", "runs.compare_and_set", "engine._begin", 1, "nothing", "phase claimed"),
    Crash("first", "forge.edit_comment", "engine._begin", 1, "nothing", "status: running"),
    Crash("first", "role.heartbeat", "steps._run_role", 2, "nothing", "mid role run"),
    Crash("first", "runs.compare_and_set", "steps._record_result", 1, "result", "result kept"),
    Crash("first", "forge.edit_comment", "steps._record_result", 1, "result", "marker: result"),
    Crash("first", "git.commit", "steps._push", 1, "result", "committed in the clone only"),
    Crash("first", "git.push", "steps._push", 1, "commit", "branch pushed, not recorded"),
    Crash("first", "runs.compare_and_set", "steps._pushed", 1, "commit", "push recorded, no MR"),
    Crash("first", "forge.open_mr", "steps._open_mr", 1, "commit", "MR opened, not recorded"),
    Crash("first", "runs.compare_and_set", "steps._open_mr", 1, "commit", "MR recorded"),
    Crash("first", "runs.compare_and_set", "engine._enter_gate", 1, "commit", "needs approval"),
    Crash("first", "forge.update_mr", "engine._enter_gate", 1, "commit", "MR description"),
    Crash("first", "forge.edit_comment", "engine._enter_gate", 1, "commit", "status: gate"),
    Crash("first", "queue.finish", "issue", 1, "commit", "issue job's work done, not recorded"),
]
LAST = [
    Crash("last", "forge.add_reaction", "job.react", 1, "nothing", "👀 on the /approve"),
    Crash("last", "runs.compare_and_set", "approvals.record", 1, "nothing", "approval kept"),
    Crash("last", "runs.compare_and_set", "engine._check_gate", 1, "nothing", "gate passed"),
    Crash("last", "forge.edit_comment", "engine._check_gate", 1, "nothing", "status: approved"),
    Crash("last", "runs.compare_and_set", "engine._advance", 1, "nothing", "next phase current"),
    Crash("last", "queue.finish", "issue_comment", 1, "nothing", "/approve done, follow-up lost"),
    Crash("last", "role.heartbeat", "steps._run_role", 2, "nothing", "mid role run"),
    Crash("last", "git.push", "steps._push", 1, "commit", "second commit pushed, not recorded"),
    Crash("last", "forge.update_mr", "engine._enter_gate", 1, "commit", "MR description"),
    Crash("last", "forge.mark_ready", "engine._finish", 1, "commit", "MR ready, run not ended"),
]


def wait_for(what: str, check, timeout: float = 90.0):
    """Poll ``check`` until truthy, letting go of the forge's file between polls.

    This process reads the forge the bot writes. The local forge keeps its file open a
    moment after each use (``LINGER_SECONDS``); polling faster than that would hold it
    open for good and starve the bot's process, so each poll closes it, the way a
    short ``agentforge local`` command does.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        finally:
            release_all()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.3)


# --- the bot as a process --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Zygote:
    """``crashpoints.py --zygote``: forks bot processes that need not import the bot again.

    A bot process is ``agentforge serve`` run by the console script's own entry, in a
    process of its own (its own pid, environment, working directory and output, killed
    by a real SIGKILL); it is only forked from a process that already imported the
    bot's modules, which saves seconds per start on a busy machine.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CRASHPOINTS), "--zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            text=True,
            bufsize=1,
        )
        self.exited: dict[int, int] = {}
        self._started: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        first = self._started.get(timeout=120)
        assert first == self.proc.pid, first

    def _read(self) -> None:
        for line in self.proc.stdout:
            message = json.loads(line)
            if "ready" in message:
                self._started.put(message["ready"])
            elif "started" in message:
                with self._lock:
                    # Pids are reused: an earlier process's exit is not this one's.
                    self.exited.pop(message["started"], None)
                self._started.put(message["started"])
            elif "exited" in message:
                with self._lock:
                    self.exited[message["exited"]] = message["status"]

    def start(self, args: list[str], env: dict, cwd: Path, log: Path, crash) -> int:
        """Fork one process running ``agentforge ARGS``; its pid."""
        order = {"args": args, "env": env, "cwd": str(cwd), "log": str(log), "crash": crash}
        with self._lock:
            self.proc.stdin.write(json.dumps(order) + "\n")
            self.proc.stdin.flush()
        return self._started.get(timeout=30)

    def status(self, pid: int) -> int | None:
        """The process's exit status (negative: the signal), None while it runs."""
        with self._lock:
            return self.exited.get(pid)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Bot:
    """One ``agentforge serve --local`` process (with a crash armed, or not)."""

    def __init__(
        self, zygote: Zygote, forge_dir: Path, data_dir: Path, crash: Crash | None, note: Path
    ) -> None:
        self.zygote = zygote
        self.port = free_port()
        self.data_dir = data_dir
        serve = ["serve", "--local", str(forge_dir), "--host", "127.0.0.1"]
        serve += ["--port", str(self.port), "--workers", "1", "--light-workers", "1"]
        serve += ["--shutdown-grace", "5"]
        env = {
            **git_env(data_dir.parent),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin:/usr/local/bin",
            "PYTHONPATH": str(ROOT),
            "AGENTFORGE_DATA_DIR": str(data_dir),
            "AGENTFORGE_INSECURE_NO_WEBHOOK_SECRET": "true",
            "AGENTFORGE_LOG_LEVEL": "WARNING",
            "AGENTFORGE_JOB_BACKOFF_SECONDS": "0.2",
        }
        self.log = data_dir.parent / f"serve-{self.port}.log"
        armed = None if crash is None else [crash.point, crash.nth, str(note), crash.step]
        self.pid = zygote.start(serve, env, data_dir.parent, self.log, armed)

    @property
    def returncode(self) -> int | None:
        return self.zygote.status(self.pid)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-6000:]

    def died(self) -> bool:
        return self.returncode is not None

    def jobs(self) -> list[dict] | None:
        """The server's jobs (admin API), None while it is not answering."""
        try:
            reply = httpx.get(f"http://127.0.0.1:{self.port}/admin/jobs?limit=1000", timeout=5)
        except httpx.HTTPError:
            return None
        return reply.json() if reply.status_code == 200 else None

    def idle(self, forge: LocalForge) -> bool:
        """Every outbox event fed to the queue and every job finished."""
        last = max((seq for seq, _ in forge.events()), default=0)
        cursor = self.data_dir / CURSOR_NAME
        if not cursor.exists() or max(read_json(cursor)["cursors"].values(), default=0) < last:
            return False
        jobs = self.jobs()
        return jobs is not None and all(j["state"] not in ("queued", "running") for j in jobs)

    def stop(self, graceful: bool = True) -> None:
        """SIGTERM (a graceful stop; SIGKILL after 30 seconds), or SIGKILL at once."""
        if self.died():
            return
        os.kill(self.pid, signal.SIGTERM if graceful else signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not self.died():
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                deadline = time.monotonic() + 30
            time.sleep(0.05)


# --- the site: a forge and data directory restored from templates ----------------------


class Site:
    """The local forge and data directories at fixed paths, restorable from templates."""

    def __init__(self, root: Path, model_url: str, zygote: Zygote) -> None:
        self.root = root
        self.zygote = zygote
        self.forge_dir = root / "live" / "forge"
        self.data_dir = root / "live" / "data"
        self.empty_dir = root / "live" / "data-empty"
        self.note = root / "live" / "crash.jsonl"
        self.runner = CliRunner()
        source = make_project(root / "calc", project_files(model_url, WORKFLOW))
        self.local("init", str(self.forge_dir), "--from", str(source), "--name", REPO)
        self.local("grant", "reviewer", "write")
        self.viewer = LocalForge(self.forge_dir, "me")
        self.bare = self.viewer.bare_path(REPO)
        self.data_dir.mkdir()
        self.templates: dict[str, Path] = {}

    def local(self, *args: str, user: str = "me") -> str:
        result = self.runner.invoke(
            cli, ["local", "--dir", str(self.forge_dir), "--as", user, *args]
        )
        release_all()  # as when the command's process ends: the bot may open the file
        assert result.exit_code == 0, result.output
        return result.output

    def save(self, name: str) -> None:
        """Keep the live forge and data directory as template ``name``."""
        # Closed first: copying a DuckDB file this process has open would drop the
        # process's lock on it (POSIX record locks go with any closed descriptor).
        release_all()
        keep = self.root / "templates" / name
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(self.root / "live", keep, symlinks=True)
        self.templates[name] = keep

    def restore(self, name: str) -> None:
        """Put template ``name`` back at the live paths (absolute paths stay the same)."""
        live = self.root / "live"
        release_all()
        shutil.rmtree(live)
        shutil.copytree(self.templates[name], live, symlinks=True)
        self.note.unlink(missing_ok=True)

    def bot(self, data_dir: Path, crash: Crash | None = None) -> Bot:
        data_dir.mkdir(parents=True, exist_ok=True)
        return Bot(self.zygote, self.forge_dir, data_dir, crash, self.note)

    def state(self):
        return run_state(self.viewer, REPO, 1, BOT)


def reached(site: Site, stretch: str) -> bool:
    """Whether the run is at the stretch's end: discovery's gate, or the run succeeded."""
    data = site.state()
    if data is None:
        return False
    if data.outcome == "failed":
        raise AssertionError(f"the run failed: {data.error}")
    if stretch == "first":
        return data.phases[0].state == "needs_approval"
    return data.outcome == "succeeded"


def settle(site: Site, bot: Bot, stretch: str, timeout: float = 90) -> None:
    """Wait for the stretch's end and an idle bot (twice: the bot's own writes are events)."""
    try:
        wait_for(f"the {stretch} stretch to finish", lambda: reached(site, stretch), timeout)
        wait_for("the bot to be idle", lambda: bot.idle(site.viewer), timeout)
        time.sleep(1.2)  # a poll of the feed, for the events of the last job's writes
        wait_for("the bot to be idle again", lambda: bot.idle(site.viewer), timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- serve output:\n{bot.output()}") from None


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def script() -> Iterator[RoleScript]:
    fake = OpenAIWireFake()
    try:
        script = RoleScript(fake)
        script.set("analyst", phase_steps("analyst", 1))
        script.set("architect", phase_steps("architect", 1))
        yield script
        fake.server.check_assertions()
    finally:
        fake.close()


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    forks = Zygote()
    try:
        yield forks
    finally:
        forks.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory, script, zygote) -> Site:
    """The forge after ``local init`` (template ``fresh``) and after a crash-free first
    stretch, stopped gracefully (template ``gate``)."""
    site = Site(tmp_path_factory.mktemp("crash"), script.fake.base_url, zygote)
    site.save("fresh")
    bot = site.bot(site.data_dir)
    try:
        open_issue(site)
        settle(site, bot, "first")
    finally:
        bot.stop()
    site.save("gate")
    return site


def open_issue(site: Site) -> None:
    site.local(
        "issue",
        "open",
        "--title",
        "Subtract numbers",
        "--body",
        "calc needs sub(a, b).",
        "--label",
        "agentforge",
    )


def approve(site: Site) -> None:
    site.local("comment", "1", "--body", "/approve", user="reviewer")


# --- the matrix ------------------------------------------------------------------------


def completed_runs(script: RoleScript, role: str, upto: int | None = None) -> int:
    """How often ``role`` reached its final answer (in the first ``upto`` model calls)."""
    last = len(script.scripts[role]) - 1
    with script._lock:
        calls = script.calls[:upto]
    return sum(1 for r, step in calls if r == role and step == last)


def crash_once(site: Site, script: RoleScript, crash: Crash) -> dict:
    """Start the armed bot, trigger the stretch, wait for the kill; what the note says."""
    site.restore("fresh" if crash.stretch == "first" else "gate")
    with script._lock:
        script.calls.clear()
    doomed = site.bot(site.data_dir, crash)
    try:
        (open_issue if crash.stretch == "first" else approve)(site)
        wait_for(
            f"the crash at {crash.id}",
            lambda: doomed.died() or reached(site, crash.stretch),
            120,
        )
        # The kill comes right after the call, so its effect may be seen first.
        wait_for(f"the crash at {crash.id} after the stretch", doomed.died, 15)
    finally:
        doomed.stop()
    assert doomed.returncode == -signal.SIGKILL, doomed.output()
    [fired] = [json.loads(line) for line in site.note.read_text().splitlines()]
    assert fired["point"] == crash.point and fired["call"] == crash.nth
    # The boundary is the engine step it is named for (the engine's order may change).
    unchecked = crash.step is None or crash.point == "queue.finish"  # no engine frame
    assert unchecked or crash.step in fired["steps"], fired
    return fired


def resume(site: Site, data_dir: Path, crash: Crash) -> list[dict]:
    """A plain bot on ``data_dir`` until the stretch has ended and it is idle; its jobs."""
    bot = site.bot(data_dir)
    try:
        settle(site, bot, crash.stretch)
        return bot.jobs() or []
    finally:
        bot.stop(graceful=False)  # idle, everything durable; the site is restored next


def check_converged(
    site: Site, script: RoleScript, crash: Crash, jobs: list[dict], before: int, empty: bool
) -> None:
    """What a person sees is what a run without a crash leaves, with nothing twice."""
    bad = [(j["id"], j["event_name"], j["state"], j.get("last_error")) for j in jobs]
    assert [b for b in bad if b[2] in ("failed", "dead")] == [], bad
    data = site.state()
    phases = ["discovery"] if crash.stretch == "first" else ["discovery", "design"]
    # One status comment, and nothing else from the bot on the issue (no error reply).
    assert len(status_comments(site.viewer, REPO, 1, BOT)) == 1
    assert len(bot_comments(site.viewer, REPO, 1, BOT)) == 1
    # One branch, one MR, one commit per phase, in order, all of this run.
    assert [b for b in branches(site.bare) if b.startswith("agentforge/")] == [BRANCH_1]
    mrs = [m for m in site.viewer.list_mrs(REPO, state="all") if m.head_ref == BRANCH_1]
    assert [m.number for m in mrs] == [data.mr]
    commits = branch_log(site.bare, BRANCH_1)
    assert [c["trailers"]["Agentforge-Phase"] for c in commits] == phases
    assert {c["trailers"]["Agentforge-Run"] for c in commits} == {data.run_id}
    mr = site.viewer.get_mr(REPO, data.mr)
    assert mr.head_sha == commits[-1]["sha"]
    for phase in data.phases[: len(phases)]:
        assert phase.summary and phase.summary in mr.body, phase.name
        assert phase.confidence > 0, phase.name
    if crash.stretch == "first":
        assert [(p.name, p.state) for p in data.phases] == [
            ("discovery", "needs_approval"),
            ("design", "waiting"),
        ]
        assert mr.draft
    else:
        assert data.outcome == "succeeded" and not mr.draft
        assert [p.state for p in data.phases] == ["approved", "approved"]
        [command] = [c for c in site.viewer.list_comments(REPO, 1) if c.body == "/approve"]
        assert site.viewer.list_reactions(REPO, 1, comment_id=command.id) == [(BOT, "eyes")]
    role = "analyst" if crash.stretch == "first" else "architect"
    # Worked again exactly when the role's result was not durable where the restarted
    # bot looks, never a second time once it landed (and never a second commit, above).
    again = completed_runs(script, role) - completed_runs(script, role, before)
    assert again == crash.reruns(empty), (again, script.calls)


@pytest.mark.parametrize("crash", FIRST + LAST, ids=lambda c: c.id)
def test_a_crash_at_a_boundary_resumes_without_duplicates(site, script, crash) -> None:
    fired = crash_once(site, script, crash)
    site.save("crashed")
    with script._lock:
        calls = list(script.calls)
    failures = []
    for empty, data_dir in ((False, site.data_dir), (True, site.empty_dir)):
        site.restore("crashed")
        with script._lock:
            script.calls[:] = calls
        try:
            jobs = resume(site, data_dir, crash)
            check_converged(site, script, crash, jobs, len(calls), empty)
        except AssertionError as exc:
            failures.append(f"restarted on {'an empty' if empty else 'the same'} data dir: {exc}")
    assert not failures, f"killed at {fired}:\n" + "\n\n".join(failures)
