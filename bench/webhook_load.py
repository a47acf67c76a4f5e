"""Webhook intake benchmark: ``agentforge serve`` against a bare FastAPI endpoint.

Starts both servers as subprocesses on loopback, then drives each from this (separate)
process with the same number of signed GitHub deliveries over keep-alive connections,
and reports accepted/s and p50/p99 acknowledgement latency, and the ratio. The bare
endpoint is measured before and after ``agentforge serve`` and the ratio is taken
against the mean of the two (the speed of a shared machine drifts between phases). Every
delivery to ``agentforge serve`` is verified, parsed, deduplicated and fsync'd to the
intake journal (its durable commit point, see ``bot/intake/journal.py``) before its 202.

``agentforge serve`` works a burst off after acknowledging it, so before the paced
(latency) phase the benchmark waits until every accepted delivery's job is finished
(``agentforge_queue_depth`` on ``/metrics``) and reports that drain time: the paced
phase measures steady-state latency, and the drain time is the cost of deferring.

With ``--handler-cpu-ms N`` every job burns N ms of CPU in its handler
(``bench/bench_cpu_handler.py``, imported with ``--import``), and the paced phase starts
without waiting for the backlog: both phases are measured while the workers (in the jobs
process) run CPU-heavy jobs, and the benchmark prints how many ran during each phase.

    python bench/webhook_load.py --count 5000 --concurrency 32
    python bench/webhook_load.py --handler-cpu-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT.parent / "shared/fixtures/webhooks/github/issue_comment.created.variant-1.json"
SECRET = "bench-secret-0123456789-abcdefghij"


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_deliveries(count: int, prefix: str = "bench") -> list[tuple[bytes, dict[str, str]]]:
    """``count`` distinct signed ``issue_comment`` deliveries (distinct comment ids)."""
    sys.path.insert(0, str(ROOT))
    from bot.intake.verify import sign_github

    base = json.loads(FIXTURE.read_text())
    out = []
    for i in range(count):
        base["comment"]["id"] = 10_000_000 + i
        base["comment"]["updated_at"] = f"2024-01-01T00:{i // 3600 % 60:02d}:{i % 60:02d}Z"
        base["issue"]["number"] = 1 + i % 200
        body = json.dumps(base).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": f"{prefix}-{i}",
            "X-Hub-Signature-256": sign_github(SECRET, body),
        }
        out.append((body, headers))
    return out


def _request_bytes(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def drive(
    port: int,
    path: str,
    deliveries: list[tuple[bytes, dict[str, str]]],
    concurrency: int,
    rate: float | None = None,
) -> dict:
    """Send every delivery once over ``concurrency`` keep-alive connections.

    With ``rate``, requests are paced to that many per second in total (an offered
    load below saturation, where latency is meaningful); without it, as fast as the
    server answers (throughput).
    """
    requests = [_request_bytes(port, path, b, h) for b, h in deliveries]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_index = 0
    t0 = time.perf_counter()

    async def connection() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_index < len(requests):
                index = next_index
                raw = requests[index]
                next_index += 1
                if rate:
                    delay = t0 + index / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                started = time.perf_counter()
                writer.write(raw)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = t0
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    accepted = statuses.get(202, 0)
    return {
        "sent": len(requests),
        "statuses": statuses,
        "seconds": elapsed,
        "accepted_per_s": accepted / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def wait_ready(port: int, path: str, timeout: float = 30) -> None:
    """Poll ``path`` until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not become ready")


def queue_depth(port: int) -> dict[str, int]:
    """``agentforge_queue_depth`` by state, from the server's ``/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    depth = {}
    for line in text.splitlines():
        if line.startswith("agentforge_queue_depth{"):
            labels, _, value = line.partition("} ")
            depth[labels.split('state="', 1)[1].rstrip('"')] = int(float(value))
    return depth


def wait_drained(port: int, accepted: int, timeout: float = 120) -> float:
    """Seconds until ``accepted`` jobs are finished (none queued or running).

    Raises:
        RuntimeError: not drained within ``timeout`` seconds.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        depth = queue_depth(port)
        finished = depth.get("done", 0) + depth.get("dead", 0)
        if finished >= accepted and not depth.get("queued") and not depth.get("running"):
            return time.perf_counter() - started
        time.sleep(0.05)
    raise RuntimeError(f"the queue did not drain within {timeout:.0f} s: {depth}")


def bare_app():
    """The baseline: a FastAPI endpoint that answers 202 and does nothing."""
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.post("/webhooks/github")
    async def accept() -> Response:
        return Response(b'{"status":"queued"}', status_code=202, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b"{}", media_type="application/json")

    return app


def run_bare_server(port: int) -> None:
    """Serve :func:`bare_app` with the same uvicorn settings as ``agentforge serve``."""
    import uvicorn

    sys.path.insert(0, str(ROOT))
    from bot.commands.serve import UVICORN_OPTIONS, tune_process

    tune_process()
    uvicorn.run(bare_app(), host="127.0.0.1", port=port, **UVICORN_OPTIONS)


def _uvicorn_stack() -> str:
    """The event loop and HTTP parser uvicorn's ``auto`` picks here (both servers')."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"loop {loop}, http {http}"


def start_agentforge(
    port: int,
    data_dir: Path,
    extra_env: dict[str, str] | None = None,
    imports: tuple[str, ...] = (),
):
    """Start ``agentforge serve`` on loopback; returns the process."""
    env = {
        **os.environ,
        "AGENTFORGE_GITHUB_WEBHOOK_SECRET": SECRET,
        "AGENTFORGE_DATA_DIR": str(data_dir),
        "AGENTFORGE_LOG_LEVEL": os.environ.get("AGENTFORGE_LOG_LEVEL", "WARNING"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")]),
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    for module in imports:
        command += ["--import", module]
    return subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def handler_runs(log: Path, since: float, until: float) -> int:
    """Jobs the CPU handler finished between two wall-clock times."""
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().split() if since <= float(line) <= until)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM and wait."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    """Run both servers, drive them, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200.0, help="paced requests/s")
    parser.add_argument("--paced-count", type=int, default=1000)
    parser.add_argument(
        "--handler-cpu-ms",
        type=float,
        default=0.0,
        help="each job burns this much CPU in its handler; the paced phase then runs "
        "while the workers work the backlog off",
    )
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        run_bare_server(args.port)
        return

    deliveries = make_deliveries(args.count + 200 + args.paced_count)
    warm = deliveries[args.count : args.count + 200]
    paced = deliveries[args.count + 200 :]
    deliveries = deliveries[: args.count]
    results: dict[str, dict] = {}

    cpu = args.handler_cpu_ms > 0
    phases: dict[str, tuple[float, float]] = {}

    cpu_used: dict[str, float] = {}

    def measure(name: str, port: int, drain: bool = False, pids: dict[str, int] | None = None):
        warmed = asyncio.run(drive(port, "/webhooks/github", warm, args.concurrency))
        before = {k: cpu_seconds(p) for k, p in (pids or {}).items()}
        started = time.time()
        results[name] = asyncio.run(drive(port, "/webhooks/github", deliveries, args.concurrency))
        phases[name] = (started, time.time())
        cpu_used.update({k: cpu_seconds(p) - before[k] for k, p in (pids or {}).items()})
        if drain:
            accepted = warmed["statuses"].get(202, 0) + results[name]["statuses"].get(202, 0)
            results[name]["drain_s"] = wait_drained(port, accepted)
        started = time.time()
        results[name + "@rate"] = asyncio.run(
            drive(port, "/webhooks/github", paced, 4, rate=args.rate)
        )
        phases[name + "@rate"] = (started, time.time())

    def measure_bare(name: str) -> None:
        port = free_port()
        bare = subprocess.Popen(
            [sys.executable, __file__, "--bare-server", "--port", str(port)],
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, "/healthz")
            measure(name, port, pids={name: bare.pid})
        finally:
            stop(bare)

    measure_bare("bare")

    runs: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log = Path(tmp) / "handler.log"
        extra = {"BENCH_HANDLER_CPU_MS": str(args.handler_cpu_ms), "BENCH_HANDLER_LOG": str(log)}
        imports = ("bench_cpu_handler",) if cpu else ()
        server = start_agentforge(port, Path(tmp) / "data", extra if cpu else None, imports)
        try:
            wait_ready(port, "/readyz", timeout=60)
            pids = {"server": server.pid}
            pids.update(("jobs process", p) for p in child_pids(server.pid))
            measure("agentforge", port, drain=not cpu, pids=pids)
            if cpu:
                backlog = queue_depth(port)
                runs = {name: handler_runs(log, *span) for name, span in phases.items()}
        finally:
            stop(server)
    # The baseline is measured again after agentforge: on a shared machine the speed
    # drifts between phases, and the mean of a run before and one after cancels a
    # steady drift instead of charging it to either side.
    measure_bare("bare (again)")

    print(
        f"{args.count} signed deliveries at {args.concurrency} connections (throughput), "
        f"{args.paced_count} paced at {args.rate:.0f}/s (latency); loopback"
    )
    for name, r in results.items():
        print(
            f"{name:>19}: {r['accepted_per_s']:8.0f} accepted/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  statuses {r['statuses']}"
        )
    if cpu:
        print(
            f"handler burns {args.handler_cpu_ms:.0f} ms CPU per job; jobs finished during the "
            f"burst: {runs.get('agentforge', 0)}, during the paced phase: "
            f"{runs.get('agentforge@rate', 0)}; left queued at the end: "
            f"{backlog.get('queued', 0) + backlog.get('failed', 0)}, "
            f"running {backlog.get('running', 0)}"
        )
    else:
        print(
            f"agentforge worked the burst off {results['agentforge']['drain_s']:.2f} s after "
            "its last 202; the paced phase started after that (steady state)"
        )
    print(
        "CPU during the burst, per delivery: "
        + ", ".join(f"{k} {v / args.count * 1e6:.0f} us" for k, v in cpu_used.items())
    )
    print(f"uvicorn: {_uvicorn_stack()}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bare_rate = statistics.mean(results[n]["accepted_per_s"] for n in ("bare", "bare (again)"))
    bare_p99 = max(results[n]["p99_ms"] for n in ("bare@rate", "bare (again)@rate"))
    ratio = results["agentforge"]["accepted_per_s"] / bare_rate
    print(
        f"throughput ratio agentforge/bare: {ratio:.2f} (target >= 0.50; bare: mean of "
        f"{results['bare']['accepted_per_s']:.0f} before and "
        f"{results['bare (again)']['accepted_per_s']:.0f} after)"
    )
    print(
        f"agentforge p99 at {args.rate:.0f}/s: {results['agentforge@rate']['p99_ms']:.2f} ms "
        f"(bare {bare_p99:.2f} ms; target < 20 ms)"
    )


if __name__ == "__main__":
    main()
