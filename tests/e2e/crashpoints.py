"""Run the real ``agentforge`` CLI with a SIGKILL armed at one side-effect boundary.

Used by ``tests/e2e/test_crash_matrix.py`` as a subprocess entry::

    python tests/e2e/crashpoints.py POINT N NOTE [STEP] -- serve --local DIR --port P

``POINT`` names one boundary of :data:`POINTS` (a method the bot goes through to change
something durable: a forge write, a git commit or push, a run-store write, the queue's
record of a finished job, the local feed's cursor, a role's heartbeat). The method is
wrapped before the CLI starts; on its ``N``-th call in this process (counting only calls
made inside engine step ``STEP``, e.g. ``engine._begin``, when given) the wrapper lets the
call run (``after``) or not (``before``), appends one line to the file ``NOTE`` (synced,
so the test knows the kill was the injected one) and sends itself ``SIGKILL``: no
``finally``, no ``atexit``, no flush — the way a machine or an OOM killer stops a bot.

``agentforge serve`` is two processes: the server (intake, local feed) and the jobs
process it starts (``python -m bot.jobs.process``: engine, executor, stores). The
server is armed here; the jobs process inherits :data:`ARM_ENV` and a ``PYTHONPATH``
holding ``crashsite/sitecustomize.py``, which arms it the same way. Whichever process
fires kills both at once (:func:`kill_the_bot`).

Crash injection lives here, in test code: the product has no switch for it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Point:
    """One boundary: ``module.owner.attr`` is wrapped; ``when`` the kill comes.

    Attributes:
        module: The module that defines ``owner``.
        owner: The class whose method is wrapped.
        attr: The method.
        when: ``after`` the call returned (its effect is durable, what follows it is
            not), or ``before`` it runs (everything before it is durable, it is not).
        counts: Which calls count (all when None), e.g. only a queue cycle that
            records a finished job.
        context: What ``STEP`` is looked for in (default: the engine steps on the
            stack), for a boundary no engine step calls.
    """

    module: str
    owner: str
    attr: str
    when: str = "after"
    counts: Callable[..., bool] | None = None
    context: Callable[..., list[str]] | None = None


def _finishes_a_job(_self: Any, finished: list, *args: Any, **kwargs: Any) -> bool:
    return bool(finished)


def _finished_events(_self: Any, finished: list, *args: Any, **kwargs: Any) -> list[str]:
    # What STEP matches for queue.finish: the event names of the jobs being recorded
    # (e.g. ``issue_comment``), since no engine step is on the stack there.
    return [f.job.event_name for f in finished]


POINTS: dict[str, Point] = {
    # The forge writes: the executor's appliers (bot/executor.py) call these on the
    # local forge adapter; the first create_comment is the status comment.
    "forge.create_comment": Point("bot.forges.local", "LocalForge", "create_comment"),
    "forge.edit_comment": Point("bot.forges.local", "LocalForge", "edit_comment"),
    "forge.add_reaction": Point("bot.forges.local", "LocalForge", "add_reaction"),
    "forge.open_mr": Point("bot.forges.local", "LocalForge", "open_mr"),
    "forge.update_mr": Point("bot.forges.local", "LocalForge", "update_mr"),
    "forge.mark_ready": Point("bot.forges.local", "LocalForge", "mark_ready"),
    # Git: the executor's PushCommit commits in the clone cache, then pushes.
    "git.commit": Point("bot.workspace", "Workspace", "commit"),
    "git.push": Point("bot.workspace", "Workspace", "push"),
    # The run store: a run created, each transition's compare-and-set.
    "runs.create": Point("bot.store.runs", "DuckDBRunStore", "create"),
    "runs.compare_and_set": Point("bot.store.runs", "DuckDBRunStore", "compare_and_set"),
    # The audit record of an applied action.
    "audit.append": Point("bot.store.audit", "AuditLog", "append"),
    # A role's progress report renews the job's lease: the role is mid-run.
    "role.heartbeat": Point("bot.jobs.leases", "JobLease", "renew"),
    # The job's work is done (its writes landed) but the queue has not recorded it.
    "queue.finish": Point(
        "bot.jobs.queue", "JobQueue", "cycle", "before", _finishes_a_job, _finished_events
    ),
    # A local event is in the queue, the feed's cursor not yet past it.
    "feed.cursor": Point("bot.intake.local_feed", "CursorFile", "save", "before"),
}


def engine_steps() -> list[str]:
    """The ``handlers/`` frames of the current stack (``module.function``), outermost first."""
    return [
        f"{Path(f.filename).stem}.{f.name}"
        for f in traceback.extract_stack()
        if f"{os.sep}handlers{os.sep}" in f.filename
    ]


ARM_ENV = "CRASHPOINTS_ARM"
"""The armed crash as JSON ``[point, n, note, step]``, for the bot's jobs process: the
server starts it as ``python -m bot.jobs.process`` with the server's environment, and
``tests/e2e/crashsite/sitecustomize.py`` (on its ``PYTHONPATH``) arms it from this."""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def kill_the_bot() -> None:
    """SIGKILL the whole bot at once, as a machine stopping would: ``agentforge serve``
    (the intake) and its jobs process, whichever of the two got here."""
    me = os.getpid()
    victims = _children(me)
    if "bot.jobs.process" in sys.orig_argv:
        victims.append(os.getppid())  # the jobs process: its server goes too
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    os.kill(me, signal.SIGKILL)


def arm_from_env() -> None:
    """Arm the crash :data:`ARM_ENV` names, unless it has fired already (a process
    started after the kill, e.g. by a restarted server, runs unarmed)."""
    spec = os.environ.get(ARM_ENV)
    if not spec:
        return
    name, nth, note, step = json.loads(spec)
    if not Path(note).exists():
        arm(name, int(nth), note, step)


def arm(name: str, nth: int, note: str, step: str | None = None) -> None:
    """Wrap boundary ``name`` so that its ``nth`` counted call kills this process.

    With ``step`` (``module.function`` of a ``handlers/`` frame, e.g.
    ``engine._begin``) only calls made from inside that engine step count, so a
    boundary is named by what the engine was doing rather than by an order of jobs
    that may vary (for ``queue.finish``: only cycles recording a job of that event).
    """
    point = POINTS[name]
    owner = getattr(importlib.import_module(point.module), point.owner)
    original = getattr(owner, point.attr)
    lock = threading.Lock()
    seen = [0]

    def die() -> None:
        line = {"point": name, "call": nth, "pid": os.getpid(), "steps": engine_steps()}
        fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        kill_the_bot()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counted = point.counts is None or point.counts(*args, **kwargs)
        if counted and step is not None:
            where = point.context(*args, **kwargs) if point.context else engine_steps()
            counted = step in where
        with lock:
            if counted:
                seen[0] += 1
            fire = counted and seen[0] == nth
        if fire and point.when == "before":
            die()
        result = original(*args, **kwargs)
        if fire:
            die()
        return result

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, point.attr, wrapper)


def start_cli(args: list[str], crash: tuple | None) -> None:
    """Arm ``crash`` (point, n, note file[, step]) if given, then run ``agentforge
    ARGS``; never returns (the console script's entry ends the process with the
    command's status)."""
    if crash is not None:
        arm(*crash)
    from bot.cli import run

    sys.argv = ["agentforge", *args]
    run()


# --- the zygote: processes forked from one that has already imported the bot ---------

PRELOAD = (
    "bot.cli",
    "bot.commands.serve",
    "uvicorn",
    "fastapi",
    "bot.intake.server",
    "bot.forges.local",
    "handlers.workflow",
)
"""What ``agentforge serve`` imports before it does anything (seconds on a busy machine)."""


def _child(order: dict[str, Any]) -> None:
    os.chdir(order["cwd"])
    os.environ.clear()
    os.environ.update(order["env"])
    log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own streams
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    crash = order.get("crash")
    if crash:
        os.environ[ARM_ENV] = json.dumps(crash)
        site = str(Path(__file__).with_name("crashsite"))
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (site, os.environ.get("PYTHONPATH", "")) if p
        )
    start_cli(order["args"], tuple(crash) if crash else None)


def zygote() -> int:
    """Import the bot once, then fork one process per order read from stdin.

    An order is one JSON line ``{"args", "env", "cwd", "log", "crash"}``; the answer is
    ``{"started": pid}``, and ``{"exited": pid, "status": returncode}`` (negative: the
    signal) when that process ends. Single-threaded on purpose: a process forked from a
    threaded one may inherit a lock some other thread held. EOF on stdin ends it.
    """
    import select

    for module in PRELOAD:
        importlib.import_module(module)
    children: set[int] = set()

    def say(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    say({"ready": os.getpid()})
    buffered = b""
    while True:
        readable, _, _ = select.select([0], [], [], 0.05)
        if readable:
            chunk = os.read(0, 65536)
            if not chunk:
                break
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                order = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    try:
                        _child(order)
                    finally:
                        os._exit(70)
                children.add(pid)
                say({"started": pid})
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                say({"exited": pid, "status": os.waitstatus_to_exitcode(status)})
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    return 0


def main(argv: list[str]) -> int:
    """``POINT N NOTE [STEP] -- agentforge arguments``: arm, then run the real CLI; or
    ``--zygote`` (see :func:`zygote`)."""
    if argv == ["--zygote"]:
        return zygote()
    if "--" not in argv or argv.index("--") not in (3, 4):
        print("usage: crashpoints.py POINT N NOTE [STEP] -- AGENTFORGE-ARGS...", file=sys.stderr)
        print("       crashpoints.py --zygote", file=sys.stderr)
        return 2
    split = argv.index("--")
    name, nth, note = argv[0], int(argv[1]), argv[2]
    if name not in POINTS:
        print(f"unknown crash point {name!r}; known: {', '.join(POINTS)}", file=sys.stderr)
        return 2
    step = argv[3] if split == 4 else None
    os.environ[ARM_ENV] = json.dumps([name, nth, note, step])
    site = str(Path(__file__).with_name("crashsite"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (site, os.environ.get("PYTHONPATH", "")) if p
    )
    start_cli(argv[split + 1 :], (name, nth, note, step))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
