"""The sandbox: timeouts, resource limits, no secrets, no network, bounded output."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agents.roles.sandbox import Sandbox, SandboxLimits, network_isolation
from bot.errors import SandboxError

PY = sys.executable
needs_netns = pytest.mark.skipif(
    network_isolation() is None,
    reason="this machine cannot make a network namespace (no unshare, or not permitted)",
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    return root


def script(tree: Path, name: str, code: str) -> list[str]:
    (tree / name).write_text(code)
    return [PY, name]


def test_a_command_runs_in_the_tree_and_reports_its_exit_code(tree):
    (tree / "hello.txt").write_text("hello from the tree\n")
    result = Sandbox().run("cat hello.txt; exit 3", tree)
    assert result.exit_code == 3
    assert result.stdout == "hello from the tree\n"
    assert not result.timed_out


def test_a_command_that_loops_forever_is_killed_at_its_timeout(tree):
    argv = script(
        tree,
        "loop.py",
        "import subprocess\nsubprocess.Popen(['sleep', '600'])\nwhile True:\n    pass\n",
    )
    result = Sandbox(SandboxLimits(timeout_s=1)).run(argv, tree)
    assert result.timed_out
    assert result.exit_code is None


def test_the_timeout_can_be_shortened_but_not_lengthened(tree):
    sandbox = Sandbox(SandboxLimits(timeout_s=1))
    result = sandbox.run("sleep 30", tree, timeout_s=600)
    assert result.timed_out


def test_the_environment_holds_no_bot_secret(tree, monkeypatch):
    canaries = {
        "AGENTFORGE_GITHUB_TOKEN": "canary-gh-7f3a",
        "AGENTFORGE_WEBHOOK_SECRET": "canary-wh-91c2",
        "OPENAI_API_KEY": "canary-oa-55d0",
        "ANTHROPIC_API_KEY": "canary-an-0b7e",
        "GITLAB_TOKEN": "canary-gl-d4e4",
        "AWS_SECRET_ACCESS_KEY": "canary-aws-1111",
    }
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    # Even an allowlist that names them does not let them through.
    sandbox = Sandbox(env_allowlist=("PATH", *canaries), extra_env={"DEPLOY_KEY": "canary-dk"})
    argv = script(tree, "env.py", "import os\nfor k, v in os.environ.items(): print(k, v)\n")
    result = sandbox.run(argv, tree)
    assert result.exit_code == 0
    for value in [*canaries.values(), "canary-dk"]:
        assert value not in result.stdout
    seen = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert seen["HOME"] != os.environ.get("HOME")
    assert seen["TMPDIR"] == seen["HOME"]
    assert not Path(seen["HOME"]).exists()  # the scratch home is removed afterwards


def test_the_bot_interpreter_is_on_path(tree):
    (tree / "test_one.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    result = Sandbox().run("python -m pytest -q -p no:cacheprovider test_one.py", tree)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


@needs_netns
def test_opening_a_network_socket_fails_where_isolation_is_available(tree):
    argv = script(
        tree,
        "net.py",
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=5)\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
        "else:\n"
        "    print('connected')\n",
    )
    result = Sandbox().run(argv, tree)
    assert result.isolated_network
    assert result.stdout.startswith("refused")


@needs_netns
def test_loopback_works_inside_the_namespace(tree):
    argv = script(
        tree,
        "lo.py",
        "import socket\n"
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
        "c = socket.create_connection(srv.getsockname(), timeout=5)\n"
        "conn, _ = srv.accept(); c.sendall(b'ping'); print(conn.recv(4).decode())\n",
    )
    result = Sandbox().run(argv, tree)
    assert result.stdout.strip() == "ping", result.stderr


def test_network_true_runs_without_a_namespace(tree):
    result = Sandbox(network=True).run("true", tree)
    assert result.exit_code == 0
    assert not result.isolated_network


def test_output_is_cut_head_and_tail_with_a_marker(tree):
    argv = script(
        tree, "big.py", "print('START' + 'x' * 100000 + 'END')\nimport sys\nsys.stderr.write('e')\n"
    )
    result = Sandbox(SandboxLimits(output_chars=1000)).run(argv, tree)
    assert result.truncated
    assert result.stdout.startswith("STARTxx")
    assert result.stdout.rstrip().endswith("xxEND")
    assert "bytes of output cut" in result.stdout
    assert len(result.stdout) < 1200
    assert result.stderr == "e"


def test_a_memory_hog_is_stopped(tree):
    argv = script(tree, "hog.py", "data = bytearray(1024 * 1024 * 1024)\nprint('allocated')\n")
    result = Sandbox(SandboxLimits(memory_mb=256)).run(argv, tree)
    assert result.exit_code != 0
    assert "allocated" not in result.stdout
    assert "MemoryError" in result.stderr


def test_a_cpu_hog_is_killed_by_its_cpu_limit(tree):
    argv = script(tree, "spin.py", "while True:\n    pass\n")
    result = Sandbox(SandboxLimits(cpu_s=1, timeout_s=60)).run(argv, tree)
    assert not result.timed_out
    assert result.exit_code is not None
    assert result.exit_code < 0  # SIGXCPU, then SIGKILL at the hard limit


def test_a_file_larger_than_the_limit_cannot_be_written(tree):
    argv = script(
        tree,
        "fill.py",
        "try:\n"
        "    with open('out.bin', 'wb') as f:\n"
        "        f.write(b'x' * (3 * 1024 * 1024))\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n",
    )
    result = Sandbox(SandboxLimits(file_size_mb=1)).run(argv, tree)
    assert "refused" in result.stdout or result.exit_code != 0
    assert (tree / "out.bin").stat().st_size <= 1024 * 1024


@pytest.mark.skipif(os.geteuid() == 0, reason="the kernel does not enforce RLIMIT_NPROC for root")
def test_a_fork_bomb_hits_the_process_limit(tree):
    argv = script(
        tree,
        "fork.py",
        "import subprocess\nprocs = []\n"
        "try:\n"
        "    for _ in range(50):\n"
        "        procs.append(subprocess.Popen(['sleep', '5']))\n"
        "except OSError:\n"
        "    print('limited at', len(procs))\n"
        "for p in procs: p.kill()\n",
    )
    result = Sandbox(SandboxLimits(processes=10)).run(argv, tree)
    assert "limited at" in result.stdout


def test_a_missing_tree_or_empty_command_is_an_error(tmp_path, tree):
    with pytest.raises(SandboxError):
        Sandbox().run("true", tmp_path / "absent")
    with pytest.raises(SandboxError):
        Sandbox().run("  ", tree)
    with pytest.raises(SandboxError):
        Sandbox().run([], tree)


def test_a_missing_program_exits_127(tree):
    result = Sandbox().run(["no-such-program-here"], tree)
    assert result.exit_code == 127
    assert "no-such-program-here" in result.stderr
