"""Bot time per workflow phase on a 1,000-file repository, against plain git.

A generated repository (Python modules, tests, docs, configs and a few larger files)
is put on a local forge with an ``.agentforge/`` whose workflow has ``--phases``
phases, every gate ``human``. The benchmark then runs the real stack in this process,
as ``agentforge serve --local`` does: the local forge's outbox is polled by
:class:`bot.intake.local_feed.LocalFeed` into the intake journal and the DuckDB job queue,
:class:`bot.jobs.worker.WorkerPool` threads lease the jobs, and the dispatcher of
:func:`bot.services.build_dispatcher` runs the shipped workflow handlers with their
services (run store with compare-and-set, config read at the default branch, the
real :class:`bot.roles.ShellRoleRunner`) and the executor (status comment, push with
trailers, MR open/update, reactions, audit log).

Each phase is one job: the label on a new issue starts phase 1; every later phase is
started by an ``/approve`` on the MR (the gate is evaluated, the next phase runs).
The model answers instantly from a loopback OpenAI-compatible server in this process
(two completions per phase: ``write_file`` of the phase's change, then
``final_answer``); the time spent in the provider model's ``complete`` (the openai
SDK, the loopback HTTP round trip and the stub's answer) is measured by wrapping it
and subtracted, so **bot time = job wall time (parse + handlers + executor) minus
model time**.

Baseline, in the same run and per phase: ``git clone`` over ``file://`` of the same
repository (a bare copy of the forge's), write the same file, ``git commit``,
``git push`` (subprocess git, timed end to end).

    python bench/phase_overhead.py --files 1000 --phases 6 --repeat 2
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPO = "bench/app"
TARGET_S = 1.0
OWNER = "olivia"
REVIEWER = "rita"
"""Approves the phases: the run's starter (the owner) does not approve phases that
change code (``approvers.self_approval: docs_only``)."""
BOT = "agentforge"
ROLES = [
    # (phase, role, outputs glob, path of the change, content kind)
    ("discovery", "analyst", "docs/requirements/*.md", "docs/requirements/issue-{n}.md", "req"),
    ("design", "architect", "docs/design/*.md", "docs/design/issue-{n}.md", "md"),
    ("build", "developer", "app/**", "app/feature_{n}.py", "py"),
    ("validate", "qa", "docs/test-reports/**", "docs/test-reports/issue-{n}.md", "md"),
    ("launch", "devops", "deploy/**", "deploy/issue-{n}.yaml", "yaml"),
    ("document", "writer", "docs/**", "docs/feature-{n}.md", "md"),
]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


# --- the repository --------------------------------------------------------------------


def _module(rng: random.Random, name: str, lines: int) -> str:
    out = [f'"""{name}: generated module."""', "", "from __future__ import annotations", ""]
    while len(out) < lines:
        fn = f"{rng.choice(['load', 'parse', 'apply', 'merge', 'check'])}_{len(out)}"
        out += [
            "",
            f"def {fn}(items: list[int], factor: int = {rng.randint(1, 9)}) -> list[int]:",
            f'    """Scale items by factor ({fn})."""',
            "    result = []",
            "    for item in items:",
            f"        if item % {rng.randint(2, 7)}:",
            "            result.append(item * factor)",
            "    return result",
        ]
    return "\n".join(out) + "\n"


def _doc(rng: random.Random, title: str, paragraphs: int) -> str:
    words = [
        "request",
        "cart",
        "order",
        "user",
        "payment",
        "index",
        "search",
        "cache",
        "worker",
        "queue",
        "retry",
    ]
    body = [f"# {title}", ""]
    for _ in range(paragraphs):
        body += [" ".join(rng.choice(words) for _ in range(60)), ""]
    return "\n".join(body)


def generate_files(count: int, seed: int = 7) -> dict[str, str]:
    """``count`` files: ~55 % modules, ~25 % tests, ~12 % docs, configs, ~2 % large."""
    rng = random.Random(seed)
    files: dict[str, str] = {
        "README.md": _doc(rng, "app", 6),
        "pyproject.toml": '[project]\nname = "app"\nversion = "0.1.0"\n',
    }
    packages = [f"app/{p}" for p in ("core", "api", "store", "jobs", "web", "util", "cli")]
    i = 0
    while len(files) < count:
        i += 1
        roll = rng.random()
        if roll < 0.55:
            pkg = packages[i % len(packages)]
            files[f"{pkg}/mod_{i}.py"] = _module(rng, f"mod_{i}", rng.randint(40, 300))
        elif roll < 0.80:
            files[f"tests/test_mod_{i}.py"] = (
                f"from app.core import mod_{i}  # noqa\n\n\ndef test_{i}():\n    assert {i} > 0\n"
            )
        elif roll < 0.92:
            files[f"docs/topic_{i}.md"] = _doc(rng, f"Topic {i}", rng.randint(2, 12))
        elif roll < 0.98:
            files[f"config/service_{i}.yaml"] = "".join(
                f"key_{k}: value_{rng.randint(0, 999)}\n" for k in range(rng.randint(5, 40))
            )
        else:  # larger files: generated data and a big module
            if rng.random() < 0.5:
                rows = rng.randint(2000, 6000)
                files[f"data/table_{i}.csv"] = "".join(
                    f"{r},{rng.randint(0, 10**6)},{rng.random():.6f}\n" for r in range(rows)
                )
            else:
                files[f"app/generated/big_{i}.py"] = _module(rng, f"big_{i}", 3000)
    return files


def phases_for(count: int) -> list[tuple[str, str, str, str, str]]:
    """``count`` phases from the default six (names suffixed when they repeat)."""
    out = []
    for k in range(count):
        name, role, glob, path, kind = ROLES[k % len(ROLES)]
        lap = k // len(ROLES)
        suffix = f"-{lap + 1}" if lap else ""
        out.append((name + suffix, role, glob, path.replace("{n}", "{n}" + suffix), kind))
    return out


def agentforge_files(phases: list, base_url: str) -> dict[str, str]:
    """``.agentforge/config.yaml`` (the stub model, local) and ``workflow.yaml``."""
    config = (
        "models:\n"
        "  use_shipped_defaults: false\n"
        "  providers:\n"
        f"    stub: {{kind: openai, base_url: '{base_url}', local: true}}\n"
        "  routes:\n"
        "    default: [{provider: stub, model: gpt-4.1, max_tokens: 2000}]\n"
    )
    workflow = "version: 1\nphases:\n" + "".join(
        f"  - name: {name}\n    role: {role}\n    outputs: ['{glob}']\n    gate: human\n"
        for name, role, glob, _, _ in phases
    )
    return {".agentforge/config.yaml": config, ".agentforge/workflow.yaml": workflow}


def change_for(phase: tuple, issue: int) -> tuple[str, str]:
    """The file the phase's role writes for ``issue``: (path, content)."""
    name, _, _, path, kind = phase
    path = path.format(n=issue)
    if kind == "req":
        text = (
            f"# Requirements for issue {issue}\n\n## Acceptance criteria\n"
            f"1. AC-1: the feature of issue {issue} works.\n"
        )
    elif kind == "py":
        text = (
            f'"""Feature {issue}."""\n\n\ndef feature() -> int:\n'
            f'    """Its value."""\n    return {issue}\n'
        )
    elif kind == "yaml":
        text = f"service: feature-{issue}\nreplicas: 2\n"
    else:
        text = f"# {name} for issue {issue}\n\nWhat the {name} phase found.\n"
    return path, text


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` under ``root``."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# --- the model ------------------------------------------------------------------------


class StubModel:
    """A loopback OpenAI chat-completions server that answers at once.

    With no tool result in the conversation yet it asks for ``write_file`` of
    :attr:`change`; after one (an ``Observation:``), it calls ``final_answer``.
    ``change`` is set by the benchmark before it triggers each phase (phases run one
    at a time).
    """

    def __init__(self) -> None:
        self.change: tuple[str, str] = ("docs/x.md", "x\n")
        self.requests = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests += 1
                data = json.dumps(stub.answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        """The provider's ``base_url``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, body: dict) -> dict:
        """One completion: the next tool call of the scripted role."""
        # smolagents sends tool results back as "Observation:" user messages.
        done = any(
            m.get("role") == "tool" or "Observation:" in json.dumps(m.get("content"))
            for m in body.get("messages", [])
        )
        if done:
            call = ("final_answer", {"summary": "Done.", "confidence": 0.9})
        else:
            path, content = self.change
            call = ("write_file", {"path": path, "content": content})
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{self.requests}",
                    "type": "function",
                    "function": {"name": call[0], "arguments": json.dumps(call[1])},
                }
            ],
        }
        return {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4.1",
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls", "logprobs": None}
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050},
        }

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class ModelClock:
    """Seconds spent in provider models' ``complete``, per thread (wraps the class)."""

    def __init__(self) -> None:
        self._by_thread: dict[int, float] = {}
        self._lock = threading.Lock()
        self._original: Any = None

    def install(self) -> None:
        """Wrap :meth:`agents.models.base.ProviderModel.complete`."""
        from agents.models.base import ProviderModel

        original = self._original = ProviderModel.complete
        clock = self

        def complete(model: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(model, *args, **kwargs)
            finally:
                clock.add(time.perf_counter() - started)

        ProviderModel.complete = complete  # type: ignore[method-assign]

    def uninstall(self) -> None:
        """Put the original back."""
        from agents.models.base import ProviderModel

        if self._original is not None:
            ProviderModel.complete = self._original  # type: ignore[method-assign]

    def add(self, seconds: float) -> None:
        """Count ``seconds`` for the calling thread."""
        key = threading.get_ident()
        with self._lock:
            self._by_thread[key] = self._by_thread.get(key, 0.0) + seconds

    def of_thread(self) -> float:
        """The calling thread's total so far."""
        with self._lock:
            return self._by_thread.get(threading.get_ident(), 0.0)


# --- the stack -------------------------------------------------------------------------


@dataclass
class JobTime:
    """One job's timing."""

    job_id: int
    kind: str
    action: str | None
    actor: str
    wall: float
    model: float
    result: dict | None = None
    error: str | None = None


@dataclass
class Stack:
    """The server's pieces in this process (see the module docstring)."""

    forge_dir: Path
    data_dir: Path
    clock: ModelClock
    times: list[JobTime] = field(default_factory=list)
    profiling: bool = False
    profiles: dict[int, cProfile.Profile] = field(default_factory=dict)

    def start(self, workers: int = 4, poll_seconds: float = 0.2) -> None:
        """Open the stores, start the workers and the local feed."""
        from bot.commands._imports import register_shipped_handlers
        from bot.intake.journal import JOURNAL_DIR, JournalIntake, recover
        from bot.intake.local_feed import LocalFeed
        from bot.jobs.feeder import JournalFeeder
        from bot.jobs.ids import IDS_NAME, IdCounter
        from bot.jobs.queue import JobQueue
        from bot.jobs.runtime import tune_store
        from bot.jobs.subjects import MrAliases
        from bot.jobs.worker import WorkerPool
        from bot.logs import configure_logging
        from bot.services import build_dispatcher
        from bot.settings import load_settings
        from bot.store.db import Database

        configure_logging("WARNING", "console")
        register_shipped_handlers()
        self.settings = load_settings(
            data_dir=self.data_dir, local_dir=self.forge_dir, bot_login=BOT, workers=workers
        )
        self.db = Database.open(self.settings.data_dir)
        tune_store(self.db)
        aliases = MrAliases.for_db(self.db)
        self.queue = JobQueue(self.db)
        # One process, as create_app() without a jobs process: journal, feeder, workers.
        journal = self.data_dir / JOURNAL_DIR
        ids = IdCounter(self.data_dir / IDS_NAME)
        keys = recover(self.db, journal, self.queue.max_attempts, ids)
        self.queue.id_source = ids.next
        self.feeder = JournalFeeder(self.queue, journal, aliases)
        self.feeder.start()
        self.intake = JournalIntake(journal, keys=keys, ids=ids, feeder=self.feeder)
        bench = self

        class TimedPool(WorkerPool):
            def execute(self, job: Any) -> Any:
                """The worker's job (parse, handlers, executor), timed."""
                model_before = bench.clock.of_thread()
                profiler = cProfile.Profile() if bench.profiling else None
                started = time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                finished = super().execute(job)
                if profiler is not None:
                    profiler.disable()
                    bench.profiles[job.id] = profiler
                wall = time.perf_counter() - started
                payload = json.loads(job.payload)
                bench.times.append(
                    JobTime(
                        job.id,
                        payload.get("kind", job.event_name),
                        payload.get("action"),
                        payload.get("actor", {}).get("login", ""),
                        wall,
                        bench.clock.of_thread() - model_before,
                        finished.result,
                        finished.error,
                    )
                )
                return finished

        self.pool = TimedPool(self.queue, build_dispatcher(self.settings, self.db), workers=workers)
        self.pool.start()
        self.feed = LocalFeed(
            self.forge_dir,
            self.intake,
            self.data_dir / "local-feed.json",
            poll_seconds=poll_seconds,  # only how soon events are seen, not job time
            aliases=aliases,
        )
        self.feed.start()

    def settle(self, timeout: float = 600.0) -> None:
        """Wait until every forge event is fed and no job is queued or running."""
        from bot.forges.local import LocalForge

        reader = LocalForge(self.forge_dir, OWNER)
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            events = reader.events(after=self.feed.cursor.load())
            fed = not self.intake.busy() and self.intake.flush(0.0)
            depth = self.queue.depth()
            busy = depth.get("queued", 0) + depth.get("running", 0) or not fed
            quiet = quiet + 1 if not events and not busy else 0
            if quiet >= 3:  # three quiet looks in a row: the bot's own echoes are done
                return
            time.sleep(0.03)
        raise RuntimeError(f"the bot did not settle within {timeout:.0f} s: {self.queue.depth()}")

    def stop(self) -> None:
        """Stop the feed, the workers and the stores."""
        self.feed.stop()
        self.pool.stop(30)
        self.intake.close()
        self.feeder.stop()
        self.queue.close()
        self.db.close()


# --- driving a run ---------------------------------------------------------------------


def warm_imports() -> float:
    """Import what the first role run imports (once per process); returns seconds.

    ``agentforge serve`` pays this once, at the first job that runs a role; it is
    reported on its own line and kept out of the per-phase numbers.
    """
    started = time.perf_counter()
    import lancedb  # noqa: F401
    import openai  # noqa: F401
    import smolagents  # noqa: F401

    import bot.roles
    import bot.roles_context  # noqa: F401

    return time.perf_counter() - started


def run_state(stack: Stack, issue: int) -> Any:
    """The run's stored state for ``issue`` (RunData), or None."""
    from bot.store.runs import DuckDBRunStore
    from handlers.workflow.state import RunData

    store = DuckDBRunStore(stack.db)
    record = store.active_for_issue("local", REPO, issue) or store.latest_for_issue(
        "local", REPO, issue
    )
    return RunData.from_data(record.data) if record is not None else None


def drive_run(stack: Stack, model: StubModel, phases: list, rep: int) -> list[dict]:
    """One issue through every phase; per phase the job that ran it and its echoes."""
    from bot.forges.local import LocalForge

    owner = LocalForge(stack.forge_dir, OWNER)
    reviewer = LocalForge(stack.forge_dir, REVIEWER)
    rows: list[dict] = []
    issue = None
    for k, phase in enumerate(phases):
        before = len(stack.times)
        if issue is None:
            number = len(owner.list_issues(REPO, state="all")) + len(
                owner.list_mrs(REPO, state="all")
            )
            model.change = change_for(phase, number + 1)
            made = owner.create_issue(
                REPO, f"Feature {rep}", "As a user I want the feature.", ["agentforge"]
            )
            issue = made.number
        else:
            model.change = change_for(phase, issue)
            data = run_state(stack, issue)
            reviewer.create_comment(REPO, data.mr, "/approve", is_mr=True)
        stack.settle()
        jobs = stack.times[before:]
        main = [j for j in jobs if j.actor != BOT]
        echoes = [j for j in jobs if j.actor == BOT]
        data = run_state(stack, issue)
        state = data.phases[k].state if data is not None else "?"
        failed = [j for j in main if j.error]
        if not main or failed:
            raise RuntimeError(f"phase {phase[0]}: the job failed: {failed and failed[0].error}")
        # An /approve is a light job: the phase's role runs in the heavy continuation job
        # it asks for (bot.jobs.followups). The phase costs both: their times are summed.
        ran = [j for j in main if j.model > 0]
        if not ran:
            raise RuntimeError(f"phase {phase[0]}: no model time was measured")
        wall, spent = sum(j.wall for j in main), sum(j.model for j in main)
        rows.append(
            {
                "repeat": rep,
                "phase": phase[0],
                "issue": issue,
                "state": state,
                "job": ran[0].job_id,
                "wall": wall,
                "model": spent,
                "bot": wall - spent,
                "echo_jobs": len(echoes),
                "echo_s": sum(j.wall for j in echoes),
            }
        )
    # The last gate: after it the run succeeds and the MR is marked ready.
    data = run_state(stack, issue)
    reviewer.create_comment(REPO, data.mr, "/approve", is_mr=True)
    stack.settle()
    final = run_state(stack, issue)
    if final.outcome != "succeeded":
        raise RuntimeError(f"run of issue {issue} ended {final.outcome!r}")
    return rows


# --- the baseline ----------------------------------------------------------------------


def git(*args: str, cwd: Path | None = None) -> None:
    """Run git quietly; raise on failure."""
    import os

    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")


def baseline(bare: Path, work: Path, change: tuple[str, str], branch: str) -> float:
    """Seconds for ``git clone`` (file://) + write + ``git commit`` + ``git push``."""
    started = time.perf_counter()
    git("clone", "-q", bare.as_uri(), str(work))
    path, content = change
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    git("add", "--", path, cwd=work)
    git("commit", "-q", "-m", f"baseline: {path}", cwd=work)
    git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    elapsed = time.perf_counter() - started
    shutil.rmtree(work)
    return elapsed


# --- main ------------------------------------------------------------------------------


def run_bench(
    files: int, phases: int, repeat: int, *, workers: int = 4, profile: Path | None = None
) -> dict:
    """Run the benchmark; returns the per-phase rows and the summary."""
    from bot.forge import Permission
    from bot.forges.local import LocalForge

    plan = phases_for(phases)
    imports = warm_imports()
    model = StubModel()
    clock = ModelClock()
    clock.install()
    with tempfile.TemporaryDirectory(prefix="agentforge-phasebench-") as tmp:
        tmp_path = Path(tmp)
        seed = tmp_path / "seed"
        tree = generate_files(files)
        tree.update(agentforge_files(plan, model.base_url))
        write_tree(seed, tree)
        git("init", "-q", "-b", "main", cwd=seed)
        git("add", "-A", cwd=seed)
        git("commit", "-q", "-m", "initial", cwd=seed)
        forge_dir = tmp_path / "forge"
        owner = LocalForge(forge_dir, OWNER)
        owner.init_project(REPO, seed)
        owner.grant(REPO, BOT, Permission.WRITE)
        owner.grant(REPO, REVIEWER, Permission.WRITE)
        bare = tmp_path / "baseline.git"
        git("clone", "-q", "--bare", str(owner.bare_path(REPO)), str(bare))

        stack = Stack(forge_dir, tmp_path / "data", clock, profiling=profile is not None)
        stack.start(workers=workers)
        rows: list[dict] = []
        base: list[float] = []
        try:
            for rep in range(repeat):
                rows += drive_run(stack, model, plan, rep)
                for k, phase in enumerate(plan):
                    change = change_for(phase, rows[-len(plan) + k]["issue"])
                    base.append(baseline(bare, tmp_path / "work", change, f"baseline-{rep}-{k}"))
        finally:
            stack.stop()
            clock.uninstall()
            model.close()
        for row, seconds in zip(rows, base, strict=True):
            row["baseline"] = seconds
    summary = summarize(rows, base, files=len(tree), imports=imports, repeat=repeat)
    # The profile leaves out the first phase (cold: first clone, full index build).
    kept = [p for job, p in stack.profiles.items() if job != rows[0]["job"]]
    if profile is not None and kept:
        stats = pstats.Stats(kept[0])
        for more in kept[1:]:
            stats.add(more)
        stats.dump_stats(str(profile))
    return {"rows": rows, "summary": summary}


def summarize(
    rows: list[dict], base: list[float], *, files: int, imports: float, repeat: int
) -> dict:
    """The summary: the first phase on the new repository apart, the rest together."""
    cold, warm = rows[0], rows[1:] or rows[:1]
    bot = [r["bot"] for r in warm]
    summary = {
        "files": files,
        "phases": len(rows) // repeat,
        "repeat": repeat,
        "imports_s": round(imports, 3),
        "first_phase_s": round(cold["bot"], 3),
        "bot_p50_s": round(statistics.median(bot), 3),
        "bot_max_s": round(max(bot), 3),
        "model_p50_s": round(statistics.median(r["model"] for r in rows), 4),
        "echo_jobs_p50_s": round(statistics.median(r["echo_s"] for r in rows), 4),
        "baseline_p50_s": round(statistics.median(base), 3),
        "baseline_max_s": round(max(base), 3),
    }
    summary["ratio"] = round(summary["bot_p50_s"] / summary["baseline_p50_s"], 2)
    summary["target_met"] = summary["bot_max_s"] <= TARGET_S
    return summary


def report_lines(report: dict) -> list[str]:
    """The per-phase table, then the summary lines (last, as the other benchmarks)."""
    s = report["summary"]
    lines = [
        f"{s['files']} files, {s['phases']} phases, {s['repeat']} run(s); local forge, "
        "loopback model; seconds",
        f"{'run':>3} {'phase':<12} {'job':>7} {'model':>7} {'bot':>7} {'echo jobs':>12} "
        f"{'git baseline':>12}",
    ]
    for r in report["rows"]:
        lines.append(
            f"{r['repeat']:>3} {r['phase']:<12} {r['wall']:7.3f} {r['model']:7.3f} "
            f"{r['bot']:7.3f} {r['echo_jobs']:>4} {r['echo_s']:6.3f} {r['baseline']:12.3f}"
        )
    lines += [
        json.dumps(s),
        f"imports at the first role run (once per process, not counted): {s['imports_s']:.2f} s",
        f"first phase on the new repository (first clone, full index; not counted): "
        f"{s['first_phase_s']:.3f} s",
        f"bot time per phase: {s['bot_p50_s']:.3f} s (p50), {s['bot_max_s']:.3f} s (max)",
        f"baseline git clone+commit+push: {s['baseline_p50_s']:.3f} s (p50), "
        f"{s['baseline_max_s']:.3f} s (max)",
        f"ratio bot/baseline: {s['ratio']:.2f}",
        f"target <= {TARGET_S:g} s per phase (max): {'met' if s['target_met'] else 'NOT met'}",
    ]
    return lines


def main() -> None:
    """Parse options, run, print per-phase rows then the summary lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="files in the repository")
    parser.add_argument("--phases", type=int, default=6, help="phases in the workflow")
    parser.add_argument("--repeat", type=int, default=2, help="runs (issues), one after another")
    parser.add_argument("--workers", type=int, default=4, help="worker threads")
    parser.add_argument(
        "--profile", type=Path, default=None, help="write cProfile stats of the jobs here"
    )
    args = parser.parse_args()
    report = run_bench(
        args.files, args.phases, args.repeat, workers=args.workers, profile=args.profile
    )
    if args.profile:
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(40)
    for line in report_lines(report):
        print(line)


if __name__ == "__main__":
    from bot.cli import end_process

    main()
    end_process(0)  # the stores' native threads must not abort a finished run
