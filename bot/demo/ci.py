"""The demo's CI: run the sample project's tests on a commit and report a commit status.

A local forge runs no CI. Where a team's CI would report on the MR's head, the demo
checks the commit out into ``<sandbox>/ci/<sha>``, runs ``python -m pytest -q`` there in
the same sandbox the roles' commands get (:class:`agents.roles.sandbox.Sandbox`: no
network, resource limits, no secrets in the environment), and reports the result on the
forge as a commit status named :data:`CONTEXT`, its description saying it is the demo's.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

CONTEXT = "demo-ci/pytest"
CI_USER = "demo-ci"
TEST_COMMAND = ("-m", "pytest", "-q", "-p", "no:cacheprovider")


@dataclass(frozen=True)
class TestRun:
    """The outcome of the sample project's tests on one commit.

    Attributes:
        sha: The commit.
        passed: Whether pytest exited 0.
        summary: pytest's last line (``5 passed in 0.04s``) or why it did not run.
        output: What pytest printed (cut by the sandbox when long).
        seconds: Wall time.
    """

    __test__ = False  # not a pytest test class, despite its name

    sha: str
    passed: bool
    summary: str
    output: str
    seconds: float


def checkout(bare: Path, sha: str, dest: Path) -> Path:
    """A work tree of ``sha`` from the bare repository ``bare`` in ``dest``."""
    import pygit2

    repo = pygit2.clone_repository(str(bare), str(dest))
    commit = repo.revparse_single(sha).peel(pygit2.Commit)
    repo.checkout_tree(commit, strategy=pygit2.enums.CheckoutStrategy.FORCE)
    repo.set_head(commit.id)
    return dest


def run_tests(bare: Path, sha: str, workdir: Path) -> TestRun:
    """Run the tests of ``sha`` (checked out under ``workdir``)."""
    from agents.roles.sandbox import Sandbox, SandboxLimits

    tree = workdir / sha[:12]
    if not tree.exists():
        checkout(bare, sha, tree)
    result = Sandbox(SandboxLimits(timeout_s=300, cpu_s=300)).run(
        [sys.executable, *TEST_COMMAND], tree
    )
    output = (result.stdout + ("\n" + result.stderr if result.stderr.strip() else "")).strip()
    lines = [line for line in output.splitlines() if line.strip()]
    if result.timed_out:
        summary = f"timed out after {result.seconds:.0f}s"
    else:
        summary = lines[-1].strip("= ") if lines else f"exit status {result.exit_code}"
    return TestRun(sha, result.exit_code == 0, summary, output, result.seconds)


def report(forge_dir: Path, repo: str, run: TestRun) -> None:
    """Report ``run`` on the forge as the commit status :data:`CONTEXT`."""
    from bot.forge import CommitState
    from bot.forges.local import LocalForge

    state = CommitState.SUCCESS if run.passed else CommitState.FAILURE
    LocalForge(forge_dir, CI_USER, is_bot=True).set_commit_status(
        repo,
        run.sha,
        state,
        context=CONTEXT,
        description=f"the demo's CI ran pytest on this machine: {run.summary}"[:140],
    )
