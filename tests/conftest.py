"""Shared test fixtures: the real webhook payloads, isolated settings, a fresh data directory.

**Real payloads.** The recorded GitHub/GitLab deliveries are not part of this repository:
they live in the project's shared fixtures directory (``fixtures/webhooks/`` with its
``SOURCES.md``), found at ``../shared`` beside the clone or wherever
``AGENTFORGE_SHARED_DIR`` points. Every test that reads them goes through
:func:`shared_webhooks` (or :func:`webhook_path` / :func:`load_webhook` / the
``webhooks_dir`` fixture, which call it), so without them those tests are *skipped* with a
reason saying how to get them, and everything else still runs. CI sets
``AGENTFORGE_REQUIRE_SHARED=1``, which turns that skip into a failure.

**Isolation.** Every test runs with no ``AGENTFORGE_*`` variable from the caller's
shell, its data directory and settings file in a temporary directory, and ``HOME`` and
the XDG directories pointed there too, so no test reads or writes the user's
``./.agentforge-data`` (``agentforge serve`` run in the same checkout) or their settings.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SHARED_DIR_ENV = "AGENTFORGE_SHARED_DIR"
"""Where the shared fixtures directory is (default: ``../shared`` beside the clone)."""
REQUIRE_SHARED_ENV = "AGENTFORGE_REQUIRE_SHARED"
"""Set to 1 (CI does) to fail, not skip, the tests whose shared payloads are missing."""

# Read once, when the test session starts: the isolation fixture below removes every
# AGENTFORGE_* variable from each test's environment.
_SHARED_FROM_ENV = os.environ.get(SHARED_DIR_ENV, "").strip()
SHARED = Path(_SHARED_FROM_ENV).expanduser() if _SHARED_FROM_ENV else ROOT.parent / "shared"
_REQUIRE_SHARED = os.environ.get(REQUIRE_SHARED_ENV, "").strip().lower() in {"1", "true", "yes"}

ISOLATED_ENV = ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")
"""Variables pointed into each test's temporary directory."""


def shared_webhooks() -> Path:
    """The directory of real recorded webhook payloads, or skip the calling test.

    The one place tests find the shared payloads. Called inside a test or fixture it
    skips that test; called while a module is imported it skips the whole module.

    Raises:
        pytest.skip.Exception: the payloads are absent (the reason says how to get them).
        pytest.fail.Exception: they are absent and ``AGENTFORGE_REQUIRE_SHARED`` is set.
    """
    webhooks = SHARED / "fixtures" / "webhooks"
    if webhooks.is_dir():
        return webhooks
    reason = (
        f"needs the shared real webhook payloads, not found at {webhooks}: put the "
        f"project's shared fixtures directory beside this clone as ../shared, or set "
        f"{SHARED_DIR_ENV}=/path/to/shared (the directory holding fixtures/webhooks/)"
    )
    if _REQUIRE_SHARED:
        pytest.fail(f"{reason} [{REQUIRE_SHARED_ENV} is set]", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def webhook_path(*parts: str) -> Path:
    """A payload file: ``webhook_path("github", "issues.opened.json")`` (skips if absent)."""
    return shared_webhooks().joinpath(*parts)


def load_webhook(forge: str, name: str) -> dict:
    """A real recorded payload from ``<shared>/fixtures/webhooks/<forge>/<name>``."""
    return json.loads(webhook_path(forge, name).read_text(encoding="utf-8"))


def __getattr__(name: str) -> Path:
    # ``from tests.conftest import WEBHOOKS`` (older tests) goes through the helper too:
    # without the payloads, the importing module is skipped instead of erroring.
    if name == "WEBHOOKS":
        return shared_webhooks()
    raise AttributeError(name)


@pytest.fixture
def webhooks_dir() -> Path:
    """The directory of real recorded webhook payloads (read-only; skips if absent)."""
    return shared_webhooks()


@pytest.fixture(autouse=True)
def _isolated_settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Give every test its own settings: no caller AGENTFORGE_*, data and HOME in tmp."""
    for variable in list(os.environ):
        if variable.upper().startswith("AGENTFORGE_"):
            monkeypatch.delenv(variable)
    home = tmp_path_factory.mktemp("isolated-home")
    for variable in ISOLATED_ENV:
        target = home if variable == "HOME" else home / variable.lower()
        monkeypatch.setenv(variable, str(target))
    # git (run by tests and by the code under test) still needs an identity.
    (home / ".gitconfig").write_text(
        "[user]\n\tname = AgentForge Tests\n\temail = tests@agentforge.invalid\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AGENTFORGE_DATA_DIR", str(home / "agentforge-data"))
    return home


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty AGENTFORGE_DATA_DIR for one test."""
    d = tmp_path / "data"
    monkeypatch.setenv("AGENTFORGE_DATA_DIR", str(d))
    return d


# --- the working directory's data directory stays untouched --------------------------------

_WATCHED = (Path.cwd() / ".agentforge-data", ROOT / ".agentforge-data")


def snapshot_tree(path: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime in ns) of every file under ``path``; {} when it does not exist."""
    if not path.is_dir():
        return {}
    return {
        p.relative_to(path).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remember the working directory's ``.agentforge-data`` before any test runs."""
    session.config.stash[_BEFORE] = {p: (p.exists(), snapshot_tree(p)) for p in set(_WATCHED)}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any test created or changed the working directory's data dir."""
    before = session.config.stash.get(_BEFORE, {})
    changed = [p for p, state in before.items() if (p.exists(), snapshot_tree(p)) != state]
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            "a test wrote outside its temporary directories: "
            + ", ".join(str(p) for p in changed)
            + " changed during the run"
        )
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[dict]()


_SESSION = pytest.StashKey[pytest.Session]()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep the session, so the exit below knows its final status."""
    session.config.stash[_SESSION] = session


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the test process with pytest's status once everything is reported.

    DuckDB aborts interpreter teardown (SIGABRT, "FATAL: exception not rethrown") when a
    connection is still alive in a native thread (duckdb/duckdb#13904); a run whose tests
    all passed then exits 134. The ``agentforge`` executable avoids it the same way
    (:func:`bot.cli.run`): exit handlers first, then end the process at once.
    """
    import atexit
    import os
    import sys

    session = config.stash.get(_SESSION, None)
    if session is None or threading.current_thread() is not threading.main_thread():
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(int(session.exitstatus))
