"""Soak/fault run: deliveries with duplicates and bad signatures, processes SIGKILLed mid-run.

Starts ``agentforge serve`` (with a recording handler imported via ``--import``), sends
every delivery, and SIGKILLs a process several times while requests are in flight:
by turns the server (then it restarts it and re-sends whatever was not acknowledged,
as a forge would) and its jobs process (the feeder and the workers; the server's
supervisor restarts it while deliveries keep arriving). At the end it checks, from the
records and from what the handler recorded, that every valid unique delivery was
processed exactly once and no invalid one was stored.

    python bench/soak.py --count 5000 --kills 6
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webhook_load import (
    FIXTURE,
    SECRET,
    _read_response,
    _request_bytes,
    child_pids,
    free_port,
    wait_ready,
)

HANDLER = '''
"""Soak handler: records each processed comment once (idempotent by comment id)."""
import os
from pathlib import Path

from bot.events import EventKind
from handlers.registry import register

RECORD = Path(os.environ["SOAK_RECORD_DIR"])


def record(event, ctx):
    with open(RECORD / "calls.log", "a") as log:
        log.write(f"{event.object_id} {ctx.job_id}\\n")
    try:
        fd = os.open(RECORD / "done" / str(event.object_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return []  # already processed: a retried job must not act twice
    os.write(fd, str(ctx.job_id).encode())
    os.close(fd)
    return []


register(EventKind.ISSUE_COMMENT, record)
'''


def build(count: int, dup_ratio: float, bad_ratio: float, rng: random.Random) -> list[dict]:
    """Valid unique deliveries, with duplicates and badly signed ones mixed in."""
    from bot.intake.verify import sign_github

    base = json.loads(FIXTURE.read_text())
    items: list[dict] = []
    for i in range(count):
        base["comment"]["id"] = 50_000_000 + i
        base["issue"]["number"] = 1 + i % 37
        body = json.dumps(base).encode()
        items.append(
            {"body": body, "delivery": f"ok-{i}", "valid": True, "comment": str(50_000_000 + i)}
        )
    extra: list[dict] = []
    for i in range(int(count * dup_ratio)):
        src = rng.choice(items)
        # Half are redeliveries (same id), half the same change via another webhook.
        delivery = src["delivery"] if i % 2 else f"dup-{i}"
        extra.append({**src, "delivery": delivery})
    for i in range(int(count * bad_ratio)):
        src = rng.choice(items)
        extra.append({**src, "delivery": f"bad-{i}", "valid": False})
    merged = items + extra
    rng.shuffle(merged)
    for item in merged:
        secret = SECRET if item["valid"] else "wrong-secret-wrong-secret-wrong"
        item["headers"] = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": item["delivery"],
            "X-Hub-Signature-256": sign_github(secret, item["body"]),
        }
    return merged


def kill_jobs_process(server_pid: int) -> None:
    """SIGKILL the server's jobs process (its supervised child)."""
    for pid in child_pids(server_pid):
        os.kill(pid, signal.SIGKILL)


async def send(
    port: int, items: list[dict], todo: list[int], kill_after: int | None, kill
) -> list[int]:
    """Send ``todo``; call ``kill()`` after ``kill_after`` answers. Returns what to resend."""
    queue = list(reversed(todo))
    resend: list[int] = []
    answered = 0
    stop_at: int | None = None

    async def connection() -> None:
        nonlocal answered
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        nonlocal stop_at
        while queue and (stop_at is None or answered < stop_at):
            index = queue.pop()
            item = items[index]
            try:
                writer.write(
                    _request_bytes(port, "/webhooks/github", item["body"], item["headers"])
                )
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                resend.append(index)
                return
            if status not in (200, 202, 401):
                resend.append(index)
            answered += 1
            if kill_after is not None and answered == kill_after:
                kill()
                # Keep sending a little while the killed process is away, then end the
                # round (the rest goes out in the next one, after the next kill).
                stop_at = answered + 50
        writer.close()

    await asyncio.gather(*(connection() for _ in range(8)))
    return resend + queue


def start(port: int, data: Path, record: Path, handler_dir: Path, workers: int):
    env = {
        **os.environ,
        "AGENTFORGE_GITHUB_WEBHOOK_SECRET": SECRET,
        "AGENTFORGE_DATA_DIR": str(data),
        "AGENTFORGE_WORKERS": str(workers),
        "AGENTFORGE_LOG_LEVEL": "WARNING",
        "AGENTFORGE_JOB_BACKOFF_SECONDS": "0.2",
        "SOAK_RECORD_DIR": str(record),
        "PYTHONPATH": os.pathsep.join([str(handler_dir), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(
        [*cmd, "--import", "soak_handler", "--shutdown-grace", "5"],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def settled(port: int, expected: int) -> bool:
    """Every one of ``expected`` jobs is in the queue and none is open.

    Acknowledged deliveries reach the queue from the journal a moment later, and while
    the jobs process restarts ``/metrics`` has no queue depth at all: count, don't
    assume.
    """
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return False
    open_jobs = total = 0.0
    for line in text.splitlines():
        if line.startswith("agentforge_queue_depth{"):
            value = float(line.rsplit(" ", 1)[1])
            total += value
            if not any(s in line for s in ('"done"', '"dead"')):
                open_jobs += value
    return total >= expected and open_jobs == 0


def run_soak(
    count: int,
    kills: int,
    dup_ratio: float = 0.2,
    bad_ratio: float = 0.1,
    workers: int = 4,
    seed: int = 7,
) -> dict:
    """Run the soak and return its findings (see module docstring)."""
    rng = random.Random(seed)
    items = build(count, dup_ratio, bad_ratio, rng)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        data, record, handler_dir = tmp_path / "data", tmp_path / "record", tmp_path / "plugin"
        (record / "done").mkdir(parents=True)
        handler_dir.mkdir()
        (handler_dir / "soak_handler.py").write_text(HANDLER)
        todo = list(range(len(items)))
        kills_done = 0
        started = time.perf_counter()
        proc = None
        killed: dict[str, int] = {"server": 0, "jobs": 0}
        while True:
            if proc is None:
                port = free_port()
                proc = start(port, data, record, handler_dir, workers)
                wait_ready(port, "/readyz", timeout=120)
            kill_after = None
            # By turns: the jobs process first, then the server.
            target = "jobs" if kills_done % 2 == 0 else "server"
            if kills_done < kills and todo:
                kill_after = max(1, len(todo) // (kills - kills_done + 1))
            server = proc

            def kill(target=target, server=server) -> None:
                if target == "server":
                    server.send_signal(signal.SIGKILL)
                else:
                    kill_jobs_process(server.pid)

            todo = asyncio.run(send(port, items, todo, kill_after, kill))
            if kill_after is not None:
                kills_done += 1
                killed[target] += 1
                if target == "server":
                    proc.wait(30)
                    proc = None
                else:
                    wait_ready(port, "/readyz", timeout=120)  # the supervisor restarted it
                continue
            if not todo:
                break
        deadline = time.monotonic() + 300
        expected = len({i["comment"] for i in items if i["valid"]})
        while not settled(port, expected) and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        elapsed = time.perf_counter() - started
        return _findings(items, data, record, killed, elapsed)


def _findings(
    items: list[dict], data: Path, record: Path, kills: dict[str, int], elapsed: float
) -> dict:
    from bot.store.db import Database

    valid = {i["comment"] for i in items if i["valid"]}
    with Database.open_readonly(data) as db:
        jobs = db.fetchall("SELECT delivery_id, state FROM jobs")
        bad_deliveries = db.fetchone(
            "SELECT count(*) FROM deliveries WHERE delivery_id LIKE 'bad-%'"
        )[0]
    calls: dict[str, int] = {}
    for line in (record / "calls.log").read_text().splitlines():
        comment = line.split()[0]
        calls[comment] = calls.get(comment, 0) + 1
    processed = {p.name for p in (record / "done").iterdir()}
    return {
        "deliveries_sent": len(items),
        "valid_unique": len(valid),
        "kills": sum(kills.values()),
        "server_kills": kills["server"],
        "jobs_process_kills": kills["jobs"],
        "seconds": round(elapsed, 1),
        "jobs": len(jobs),
        "jobs_not_done": sum(1 for _, state in jobs if state != "done"),
        "bad_jobs": sum(1 for d, _ in jobs if d.startswith("bad-")),
        "bad_deliveries": bad_deliveries,
        "processed_exactly_once": processed == valid and len(jobs) == len(valid),
        "missing": sorted(valid - processed)[:10],
        "handler_reruns_after_kill": sum(n - 1 for n in calls.values()),
    }


def main() -> None:
    """Run a bigger soak and print its findings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=6)
    args = parser.parse_args()
    report = run_soak(args.count, args.kills)
    print(json.dumps(report, indent=2))
    ok = (
        report["processed_exactly_once"] and not report["bad_jobs"] and not report["bad_deliveries"]
    )
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
