"""Soak/fault test: SIGKILL the server mid-run; every valid delivery is processed exactly once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def _soak_module():
    spec = importlib.util.spec_from_file_location("agentforge_bench_soak", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_kills_lose_nothing_and_duplicate_nothing() -> None:
    report = _soak_module().run_soak(count=600, kills=4, dup_ratio=0.25, bad_ratio=0.15)
    assert report["kills"] == 4
    # By turns: the jobs process (feeder and workers) and the server itself.
    assert report["jobs_process_kills"] == 2 and report["server_kills"] == 2
    assert report["deliveries_sent"] > report["valid_unique"] == 600
    assert report["processed_exactly_once"], report["missing"]
    assert report["jobs"] == 600 and report["jobs_not_done"] == 0
    assert report["bad_jobs"] == 0 and report["bad_deliveries"] == 0
