"""Shared pieces of the end-to-end workflow tests (the forges, the app, the checks).

The product is configured only the way a user configures it: settings (what the
``AGENTFORGE_*`` variables set), ``.agentforge/config.yaml`` and ``workflow.yaml``
committed on the default branch of the repository under test, with the model a local
OpenAI-compatible server (the OpenAI-wire fake, scripted per role by
:class:`tests.fakes.role_script.RoleScript`).

Everything the tests assert is read back through the forge (the product's own forge
adapters acting as a person) and the forge's git repository: the status comment and
its marker, the branch's commits and trailers, the MR's description and draft flag.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.forge import Comment, Forge
from bot.settings import Settings
from handlers.workflow.state import RunData, decode_marker
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import CALC_FILES, RoleScript, local_model_config, phase_steps

BRANCH = "agentforge/issue-{n}"
TWO_PHASES = """\
version: 1
phases:
  - name: discovery
    role: analyst
    outputs: ["docs/requirements/*.md"]
    gate: human
  - name: build
    role: developer
    outputs: ["**"]
    gate: human
"""
"""A short workflow for the fast tests (the slow test runs the default six phases)."""
TRAILERS = ("Agentforge-Run", "Agentforge-Phase", "Agentforge-Role")


def project_files(model_url: str, workflow: str | None = TWO_PHASES) -> dict[str, str]:
    """The calc project with a local-model config (and a workflow, unless None)."""
    files = dict(CALC_FILES)
    files[".agentforge/config.yaml"] = local_model_config(model_url)
    if workflow is not None:
        files[".agentforge/workflow.yaml"] = workflow
    return files


def git_env(home: Path) -> dict[str, str]:
    """An environment for git with a test identity and no user config."""
    return {
        "GIT_AUTHOR_NAME": "Ann Person",
        "GIT_AUTHOR_EMAIL": "ann@example.test",
        "GIT_COMMITTER_NAME": "Ann Person",
        "GIT_COMMITTER_EMAIL": "ann@example.test",
        "HOME": str(home),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; fail the test with git's message."""
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(cwd), capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stderr}"
    return out.stdout


def make_project(root: Path, files: dict[str, str]) -> Path:
    """A git repository with one commit on ``main`` holding ``files``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def settings_for(data_dir: Path, **values: Any) -> Settings:
    """Process settings as the environment would give them (fast retries for tests)."""
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "workers": 2,
        "job_backoff_seconds": 0.2,
        "log_level": "WARNING",
    }
    return Settings(**{**base, **values})


@contextmanager
def running_app(settings: Settings) -> Iterator[Any]:
    """The real app (``agentforge serve``'s composition) with workers, as a TestClient."""
    from fastapi.testclient import TestClient

    import handlers
    from bot.intake.server import create_app
    from bot.services import build_dispatcher
    from bot.store.db import Database

    handlers.register_defaults()  # what serve and run do at start
    db = Database.open(settings.data_dir)
    app = create_app(settings, db=db, dispatcher=build_dispatcher(settings, db), shutdown_grace=5)
    with TestClient(app) as client:
        client.db = db
        yield client


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def scripted_model(roles: tuple[str, ...] = ("analyst", "developer")) -> Iterator[RoleScript]:
    """The OpenAI-wire fake scripted for one phase of each role in ``roles``; on exit,
    the fake's own assertions are checked."""
    fake = OpenAIWireFake()
    try:
        script = RoleScript(fake)
        for role in roles:
            script.set(role, phase_steps(role, 1))
        yield script
        fake.server.check_assertions()
    finally:
        fake.close()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def jobs_idle(db: Any) -> bool:
    """No job is queued or running."""
    (busy,) = db.execute(
        "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
    ).fetchone()
    return busy == 0


def failed_jobs(db: Any) -> list[tuple]:
    """Jobs that ended failed or dead, with their last error."""
    return db.execute(
        "SELECT id, event_name, state, last_error FROM jobs WHERE state IN ('failed', 'dead')"
    ).fetchall()


# --- what the bot left on the forge --------------------------------------------------


def bot_comments(forge: Forge, repo: str, number: int, bot: str, is_mr: bool = False) -> list:
    """The bot's comments on an issue or MR."""
    return [
        c
        for c in forge.list_comments(repo, number, is_mr=is_mr)
        if c.author.login.lower() == bot.lower()
    ]


def status_comments(forge: Forge, repo: str, issue: int, bot: str) -> list[Comment]:
    """The bot's comments that carry a run's state marker."""
    return [c for c in bot_comments(forge, repo, issue, bot) if decode_marker(c.body) is not None]


def run_state(forge: Forge, repo: str, issue: int, bot: str) -> RunData | None:
    """The run's state as its status comment's marker says (None before it exists)."""
    found = status_comments(forge, repo, issue, bot)
    return decode_marker(found[-1].body) if found else None


def phase_state(forge: Forge, repo: str, issue: int, bot: str, phase: str) -> str | None:
    """One phase's state from the marker."""
    data = run_state(forge, repo, issue, bot)
    if data is None:
        return None
    for p in data.phases:
        if p.name == phase:
            return p.state
    return None


def wait_phase(
    forge: Forge, repo: str, issue: int, bot: str, phase: str, state: str, timeout: float = 120
) -> RunData:
    """Wait until ``phase`` is in ``state`` (fails early when the run failed)."""

    def check() -> RunData | None:
        data = run_state(forge, repo, issue, bot)
        if data is not None and data.outcome == "failed":
            raise AssertionError(f"the run failed: {data.error}")
        if data is not None and any(p.name == phase and p.state == state for p in data.phases):
            return data
        return None

    try:
        return wait_for(f"phase {phase} to be {state}", check, timeout)
    except AssertionError as exc:
        if "timed out" not in str(exc):
            raise
        raise AssertionError(f"{exc}; the bot said:\n{_said(forge, repo, issue, bot)}") from None


def wait_outcome(forge: Forge, repo: str, issue: int, bot: str, timeout: float = 120) -> RunData:
    """Wait until the run has ended; returns its final state."""
    try:
        return wait_for(
            "the run to end",
            lambda: (d := run_state(forge, repo, issue, bot)) is not None and d.outcome and d,
            timeout,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the bot said:\n{_said(forge, repo, issue, bot)}") from None


def _said(forge: Forge, repo: str, issue: int, bot: str) -> str:
    data = run_state(forge, repo, issue, bot)
    numbers = [(issue, False)] + ([(data.mr, True)] if data and data.mr else [])
    return "\n---\n".join(
        f"{'MR' if is_mr else 'issue'} {n} {c.author.login}: {c.body[:1200]}"
        for n, is_mr in numbers
        for c in forge.list_comments(repo, n, is_mr=is_mr)
    )


def branch_log(bare: Path, branch: str, base: str = "main") -> list[dict[str, Any]]:
    """Commits on ``branch`` not on ``base`` in a bare repository, oldest first."""
    out = subprocess.run(
        [
            "git",
            "--git-dir",
            str(bare),
            "log",
            "--reverse",
            "--format=%H%x1f%an%x1f%B%x1e",
            f"{base}..{branch}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commits = []
    for record in filter(None, (r.strip("\n") for r in out.split("\x1e"))):
        sha, author, message = record.split("\x1f", 2)
        trailers = dict(
            line.split(": ", 1)
            for line in message.splitlines()
            if line.startswith("Agentforge-") and ": " in line
        )
        commits.append({"sha": sha, "author": author, "message": message, "trailers": trailers})
    return commits


def branches(bare: Path) -> list[str]:
    """The branch names in a bare repository."""
    out = subprocess.run(
        ["git", "--git-dir", str(bare), "for-each-ref", "--format=%(refname:short)", "refs/heads"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(out.split())


def assert_ready_flow(
    forge: Forge,
    repo: str,
    issue: int,
    bot: str,
    bare: Path,
    phases: list[tuple[str, str]],
    people: tuple[str, ...] = (),
) -> RunData:
    """The main road ended well: one status comment (a full checklist, every phase
    approved), one branch with one trailered commit per phase that wrote files, one MR
    out of draft whose description has every summary and the AC coverage."""
    statuses = status_comments(forge, repo, issue, bot)
    assert len(statuses) == 1, [c.body[:80] for c in statuses]
    data = decode_marker(statuses[0].body)
    assert data is not None and data.outcome == "succeeded", data and data.error
    body = statuses[0].body
    for name, role in phases:
        assert f"**{name}** ({role})" in body
    assert body.count("- [x]") == len(phases), body
    assert [(p.name, p.role, p.state) for p in data.phases] == [
        (n, r, "approved") for n, r in phases
    ]

    branch = BRANCH.format(n=issue)
    assert [b for b in branches(bare) if b.startswith("agentforge/")] == [branch]
    everything = branch_log(bare, branch)
    # A person's commits on the branch (``people``) are built on, never overwritten.
    assert [c["author"] for c in everything if c["author"] in people] == list(people)
    commits = [c for c in everything if c["author"] not in people]
    assert commits, "no commits on the run's branch"
    for commit in commits:
        assert all(t in commit["trailers"] for t in TRAILERS), commit["message"]
        assert commit["trailers"]["Agentforge-Run"] == data.run_id
    # Every scripted phase writes files: one commit per phase, in order.
    committed = [
        (c["trailers"]["Agentforge-Phase"], c["trailers"]["Agentforge-Role"]) for c in commits
    ]
    assert committed == list(phases)
    assert len({c["sha"] for c in commits}) == len(commits)

    mrs = [m for m in forge.list_mrs(repo, state="all") if m.head_ref == branch]
    assert len(mrs) == 1, [(m.number, m.state) for m in mrs]
    mr = forge.get_mr(repo, mrs[0].number)
    assert mr.number == data.mr and not mr.draft and mr.state == "open"
    for p in data.phases:
        assert p.summary and p.summary in mr.body, p.name
    assert "AC-1" in mr.body and "AC-2" in mr.body
    assert "tests/test_sub.py::test_sub" in mr.body
    return data


def read_json(path: Path) -> Any:
    """A JSON file's content."""
    return json.loads(path.read_text(encoding="utf-8"))
