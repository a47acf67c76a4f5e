"""README's worked example, run as written: from `agentforge local init` to a ready MR.

The lines between ``<!-- worked-example:start -->`` and ``<!-- worked-example:end -->``
in README.md are fed, unchanged but for the model URL and the port, to one ``bash``
process in an empty directory, the way a person pastes them: a real ``agentforge serve
--local`` runs in the background and the full default workflow (six phases, every kind
of gate) runs on a local OpenAI-compatible model (the wire fake, scripted per role).
Like the person reading the status comment, the test waits before each gate line
until the phase before it asks for its gate.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.forges.local import LocalForge
from tests.conftest import ROOT
from tests.e2e.workflow_support import (
    assert_ready_flow,
    free_port,
    git_env,
    run_state,
    wait_for,
    wait_outcome,
    wait_phase,
)
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import RoleScript, phase_steps

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OLLAMA = "http://localhost:11434/v1"
DEFAULT_PHASES = [
    ("discovery", "analyst"),
    ("design", "architect"),
    ("build", "developer"),
    ("validate", "qa"),
    ("launch", "devops"),
    ("document", "writer"),
]
GATE_LINE = re.compile(r"^agentforge local (--as \S+ )?(comment|status|mr review)\b")


def example_lines() -> list[str]:
    """The worked example's shell lines, from README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- worked-example:start -->\s*```bash\n(.*?)```\s*<!-- worked-example:end -->",
        text,
        re.S,
    )
    assert match, "README.md lost its worked example markers"
    return match.group(1).splitlines()


class Shell:
    """One bash reading its script from a pipe, as if typed; output collected."""

    def __init__(self, cwd: Path) -> None:
        env = {
            **git_env(cwd),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin:/usr/local/bin",
            "AGENTFORGE_LOCAL_USER": "me",
            "AGENTFORGE_LOG_LEVEL": "WARNING",
        }
        self.proc = subprocess.Popen(
            ["bash", "-e"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._n = 0

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)

    def run(self, lines: list[str], timeout: float = 120) -> str:
        """Feed ``lines``; wait until bash has run them; their output."""
        self._n += 1
        done = f"__step_{self._n}_done__"
        start = len(self.output)
        self.proc.stdin.write("\n".join(lines) + f"\necho {done}\n")
        self.proc.stdin.flush()
        wait_for(
            f"bash to run {lines[-1]!r}",
            lambda: (
                any(done in line for line in self.output[start:]) or self.proc.poll() is not None
            ),
            timeout,
        )
        out = "".join(self.output[start:])
        assert self.proc.poll() is None, f"the example stopped at {lines!r}:\n{out}"
        return out

    def close(self) -> str:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return "".join(self.output)


def test_the_readme_worked_example_runs_as_written(tmp_path) -> None:
    lines = example_lines()
    assert any(OLLAMA in line for line in lines), "the example configures Ollama's URL"
    fake = OpenAIWireFake()
    script = RoleScript(fake)
    for _, role in DEFAULT_PHASES:
        script.set(role, phase_steps(role, 1))
    port = str(free_port())
    lines = [line.replace(OLLAMA, fake.base_url).replace("8765", port) for line in lines]
    gates = [i for i, line in enumerate(lines) if GATE_LINE.match(line)]
    assert len(gates) == len(DEFAULT_PHASES), "one gate line per default phase"

    work = tmp_path / "work"
    work.mkdir()
    shell = Shell(work)
    forge = LocalForge(work / "forge", "me")
    try:
        shell.run(lines[: gates[0]], timeout=180)  # set-up, serve, the issue
        for (phase, _), index in zip(DEFAULT_PHASES, gates, strict=True):
            wait_phase(forge, "me/calc", 1, "agentforge", phase, "needs_approval", 180)
            shell.run([lines[index]])
        wait_outcome(forge, "me/calc", 1, "agentforge", 120)
        rest = lines[gates[-1] + 1 :]
        shown = shell.run(rest[:1])  # mr show 2
        data = run_state(forge, "me/calc", 1, "agentforge")
        assert_ready_flow(
            forge, "me/calc", 1, "agentforge", forge.bare_path("me/calc"), DEFAULT_PHASES
        )
        assert "!2 [open]" in shown and "agentforge/issue-1 -> main" in shown
        assert "(draft)" not in shown
        shell.run(rest[1:])  # merge, stop the server
        assert forge.get_mr("me/calc", data.mr).state == "merged"
    except AssertionError as exc:
        tail = "".join(shell.output[-60:])
        raise AssertionError(f"{exc}\nmodel calls: {script.calls}\nshell:\n{tail}") from None
    finally:
        output = shell.close()
        fake.close()
    assert "Traceback" not in output, output
    assert all(script.runs_of(role) == 1 for _, role in DEFAULT_PHASES), script.calls
    assert os.path.isdir(work / "agentforge-data")
