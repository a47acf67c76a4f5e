"""How the jobs process keeps out of the intake process's way: DuckDB's thread count."""

from __future__ import annotations

import os

import bot.jobs.process
from bot.jobs.process import duckdb_threads


def test_duckdb_leaves_one_cpu_to_the_intake(monkeypatch) -> None:
    for cpus, threads in ((1, 1), (2, 1), (4, 3), (16, 15)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=cpus: set(range(n)))
        assert duckdb_threads() == threads


def test_without_affinity_the_cpu_count_is_used(monkeypatch) -> None:
    monkeypatch.delattr(bot.jobs.process.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert duckdb_threads() == 7
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert duckdb_threads() == 1
