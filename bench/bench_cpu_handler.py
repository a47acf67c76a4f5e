"""Benchmark handler: each ``issue_comment`` job burns ``BENCH_HANDLER_CPU_MS`` of CPU.

Imported by ``agentforge serve --import bench_cpu_handler`` in
``bench/webhook_load.py --handler-cpu-ms N``: it stands in for the heavy work role
agents will do (tool runs, test runs, index updates), so the benchmark measures intake
while the workers are busy. Each call also appends one line to ``BENCH_HANDLER_LOG``
(when set), so the benchmark can count how many jobs ran during each phase.
"""

from __future__ import annotations

import os
import time

from bot.events import EventKind
from handlers.registry import register

CPU_SECONDS = float(os.environ.get("BENCH_HANDLER_CPU_MS", "50")) / 1000
LOG = os.environ.get("BENCH_HANDLER_LOG")


def burn(event, ctx):
    """Spin on this thread's CPU clock (not the wall clock) for ``CPU_SECONDS``."""
    end = time.thread_time() + CPU_SECONDS
    x = 0
    while time.thread_time() < end:
        for i in range(2000):
            x += i * i
    if LOG:
        with open(LOG, "a") as f:
            f.write(f"{time.time():.6f}\n")
    return []


register(EventKind.ISSUE_COMMENT, burn)
