"""Run a role's commands (``run_command``, the tests it runs) in a sandboxed subprocess.

What a command gets (see docs/roles.md, section "Sandbox"):

- a scratch copy of the work tree as its working directory (the caller passes
  ``changes.materialize(tmp)``), and a fresh empty ``HOME``/``TMPDIR``;
- an environment built from an allowlist; names that look like secrets
  (:data:`bot.repoconfig.schema.SECRET_ENV`: ``AGENTFORGE_*``, ``*_TOKEN``, ``*_KEY``,
  ``*SECRET*``...) are never passed, whatever the allowlist says;
- resource limits set with ``setrlimit`` (CPU seconds, address space, file size,
  processes, no core dumps) by a tiny launcher that then ``exec``s the command — no
  ``preexec_fn``, which is unsafe in a threaded parent;
- no network where the platform allows it: a new network namespace with only a
  loopback interface (``unshare --net`` as root, ``unshare --user --map-root-user
  --net`` otherwise), probed once per process; :attr:`CommandResult.isolated_network`
  says whether it applied;
- a wall-clock timeout that kills the whole process group;
- stdout and stderr captured with bounded memory and cut head+tail with a marker.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import SandboxError
from bot.repoconfig.schema import SECRET_ENV

DEFAULT_ENV_ALLOWLIST = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TZ",
    "SOURCE_DATE_EPOCH",
)
"""Variables copied from the bot's environment when set (``HOME``/``TMPDIR`` are
always the run's own scratch directory)."""

_FIXED_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}

# Runs inside the sandbox (and the namespace), before the command: set the limits,
# bring the namespace's loopback up so tests can bind 127.0.0.1, then exec. Kept to
# the standard library and run with -I -S so nothing from the scratch tree is imported.
_LAUNCHER = r"""
import fcntl, json, os, resource, socket, struct, sys
cfg = json.loads(sys.argv[1])
for name, value in cfg["limits"].items():
    kind = getattr(resource, name)
    try:
        resource.setrlimit(kind, (value[0], value[1]))
    except (ValueError, OSError) as exc:
        sys.stderr.write("sandbox: cannot set %s: %s\n" % (name, exc))
if cfg["loopback"]:
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, req))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))
        s.close()
    except OSError:
        pass
argv = sys.argv[2:]
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    sys.stderr.write("sandbox: cannot run %s: %s\n" % (argv[0], exc))
    os._exit(127)
"""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one command.

    Attributes:
        timeout_s: Wall-clock seconds before the process group is killed.
        cpu_s: CPU seconds (``RLIMIT_CPU``).
        memory_mb: Address space in MiB (``RLIMIT_AS``).
        file_size_mb: Largest file the command may write (``RLIMIT_FSIZE``).
        processes: ``RLIMIT_NPROC``. The kernel does not enforce it for root: see
            docs/roles.md.
        output_chars: Characters kept of stdout and of stderr each (head + tail).
    """

    timeout_s: float = 120
    cpu_s: int = 120
    memory_mb: int = 2048
    file_size_mb: int = 64
    processes: int = 256
    output_chars: int = 20000

    def rlimits(self) -> dict[str, tuple[int, int]]:
        """``resource`` limit name → (soft, hard)."""
        mb = 1024 * 1024
        return {
            # The soft CPU limit sends SIGXCPU; the hard one a few seconds later, SIGKILL.
            "RLIMIT_CPU": (self.cpu_s, self.cpu_s + 5),
            "RLIMIT_AS": (self.memory_mb * mb, self.memory_mb * mb),
            "RLIMIT_FSIZE": (self.file_size_mb * mb, self.file_size_mb * mb),
            "RLIMIT_NPROC": (self.processes, self.processes),
            "RLIMIT_CORE": (0, 0),
        }


@dataclass(frozen=True)
class CommandResult:
    """What a sandboxed command did.

    Attributes:
        exit_code: The exit status; negative for a signal (``-9``); None when it was
            killed at the timeout.
        stdout: Captured standard output (cut head+tail when ``truncated``).
        stderr: Captured standard error (likewise).
        timed_out: Killed at the wall-clock timeout.
        truncated: Some output was cut.
        isolated_network: It ran in its own network namespace (no network).
        seconds: Wall-clock duration.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    isolated_network: bool
    seconds: float


@functools.cache
def network_isolation() -> tuple[str, ...] | None:
    """The ``unshare`` prefix that gives a command its own network namespace here, or
    None when the platform cannot (no util-linux ``unshare``, no permission, no user
    namespaces). Probed once per process."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    candidates = [(unshare, "--net"), (unshare, "--user", "--map-root-user", "--net")]
    if os.geteuid() != 0:
        candidates.reverse()
    for prefix in candidates:
        try:
            probe = subprocess.run(
                [*prefix, "--", "true"], capture_output=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return None


class _Capture:
    """Reads a pipe to the end, keeping the first and last ``keep`` bytes only."""

    def __init__(self, stream, keep: int) -> None:
        self.keep = max(keep, 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        half = self.keep // 2
        with stream:
            while chunk := stream.read(65536):
                self.total += len(chunk)
                room = half - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                if chunk:
                    self.tail += chunk
                    if len(self.tail) > self.keep - half:
                        del self.tail[: len(self.tail) - (self.keep - half)]

    def join(self, timeout: float) -> None:
        """Wait for the reader (a background child may hold the pipe open)."""
        self._thread.join(timeout)

    def text(self) -> tuple[str, bool]:
        """The captured text and whether something was cut."""
        cut = self.total - len(self.head) - len(self.tail)
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if cut <= 0:
            return head + tail, False
        return f"{head}\n[... {cut} bytes of output cut ...]\n{tail}", True


class Sandbox:
    """Runs commands under :class:`SandboxLimits` in a scratch tree.

    Args:
        limits: Resource and output limits.
        env_allowlist: Variables copied from the bot's environment when set (never one
            that looks like a secret).
        extra_env: Fixed values to add (never one that looks like a secret).
        network: Allow network access (default: isolated where the platform can).
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        env_allowlist: Sequence[str] = DEFAULT_ENV_ALLOWLIST,
        extra_env: Mapping[str, str] | None = None,
        network: bool = False,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.env_allowlist = tuple(env_allowlist)
        self.extra_env = dict(extra_env or {})
        self.network = network

    @property
    def isolates_network(self) -> bool:
        """True when commands run without network on this machine."""
        return not self.network and network_isolation() is not None

    def environment(self, home: Path) -> dict[str, str]:
        """The environment a command gets (``home`` is its ``HOME`` and ``TMPDIR``)."""
        env = {k: os.environ[k] for k in self.env_allowlist if k in os.environ}
        env.update(self.extra_env)
        env = {k: v for k, v in env.items() if not SECRET_ENV.search(k)}
        # Keep the bot's interpreter findable: tests run `python -m pytest` inside.
        bindir = str(Path(sys.executable).parent)
        path = env.get("PATH", os.defpath).split(os.pathsep)
        if bindir not in path:
            path.insert(0, bindir)
        env["PATH"] = os.pathsep.join(path)
        env.update(_FIXED_ENV)
        env["HOME"] = env["TMPDIR"] = str(home)
        return env

    def command_line(self, argv: list[str]) -> tuple[list[str], bool]:
        """The full argv (namespace prefix, launcher, command) and whether the network
        is isolated."""
        prefix = None if self.network else network_isolation()
        cfg = {"limits": self.limits.rlimits(), "loopback": prefix is not None}
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(cfg)]
        if prefix is None:
            return [*launcher, *argv], False
        return [*prefix, "--", *launcher, *argv], True

    def run(
        self, command: str | list[str], tree: Path, *, timeout_s: float | None = None
    ) -> CommandResult:
        """Run ``command`` (a shell string for ``/bin/sh -c``, or an argv) in ``tree``.

        Args:
            command: What to run.
            tree: The scratch tree (working directory); never the real checkout.
            timeout_s: Wall-clock limit, capped at :attr:`SandboxLimits.timeout_s`.

        Raises:
            SandboxError: The tree does not exist or the command is empty.
        """
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        if not argv or not str(argv[-1]).strip():
            raise SandboxError("the command is empty")
        tree = Path(tree)
        if not tree.is_dir():
            raise SandboxError(f"the scratch tree {tree} does not exist")
        limit = min(timeout_s or self.limits.timeout_s, self.limits.timeout_s)
        full, isolated = self.command_line(argv)
        home = Path(tempfile.mkdtemp(prefix="agentforge-sandbox-home-"))
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                full,
                cwd=tree,
                env=self.environment(home),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            shutil.rmtree(home, ignore_errors=True)
            raise SandboxError(f"starting {argv[0]} in the sandbox: {exc}") from exc
        out = _Capture(proc.stdout, self.limits.output_chars)
        err = _Capture(proc.stderr, self.limits.output_chars)
        timed_out = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Kill the group also after a normal exit: no background child outlives it.
            _kill_group(proc.pid)
            proc.wait()
            out.join(5)
            err.join(5)
            shutil.rmtree(home, ignore_errors=True)
        stdout, cut_out = out.text()
        stderr, cut_err = err.text()
        return CommandResult(
            exit_code=None if timed_out else proc.returncode,
            stdout=stdout,
            stderr=stderr,
            timed_out=timed_out,
            truncated=cut_out or cut_err,
            isolated_network=isolated,
            seconds=round(time.monotonic() - started, 3),
        )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, signal.SIGKILL)
