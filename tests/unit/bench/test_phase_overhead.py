"""``bench/phase_overhead.py`` on a tiny repository, so its code path cannot rot.

The numbers are not checked (no timing assertions): only that every phase ran as a
job of the real stack, with model time measured and a baseline timed beside it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.repoconfig import load_files
from bot.repoconfig.schema import Gate

BENCH = Path(__file__).resolve().parents[3] / "bench" / "phase_overhead.py"


def _bench():
    spec = importlib.util.spec_from_file_location("agentforge_bench_phase_overhead", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_generated_repository_has_the_mix_and_a_valid_workflow():
    bench = _bench()
    files = bench.generate_files(300)
    assert len(files) == 300
    kinds = {
        "module": [p for p in files if p.startswith("app/") and p.endswith(".py")],
        "test": [p for p in files if p.startswith("tests/")],
        "doc": [p for p in files if p.endswith(".md")],
        "large": [p for p, text in files.items() if len(text) > 50_000],
    }
    assert all(kinds.values()), {k: len(v) for k, v in kinds.items()}
    plan = bench.phases_for(8)
    assert len({name for name, *_ in plan}) == 8  # names stay unique past the sixth
    config = load_files(bench.agentforge_files(plan, "http://127.0.0.1:9/v1"))
    assert [p.name for p in config.workflow.phases] == [name for name, *_ in plan]
    assert {p.gate for p in config.workflow.phases} == {Gate.HUMAN}


@pytest.mark.slow  # imports the agent libraries and builds an index: ~10-30 s
def test_two_phases_on_a_tiny_repository_run_through_the_real_stack():
    # In a child process, as the benchmark runs: it registers the shipped handlers and
    # imports the workflow for real, which must not leak into other tests.
    code = (
        "import json, sys\n"
        f"sys.argv = [{str(BENCH)!r}]\n"
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('pb', {str(BENCH)!r})\n"
        "bench = importlib.util.module_from_spec(spec)\n"
        "sys.modules['pb'] = bench\n"
        "spec.loader.exec_module(bench)\n"
        "report = bench.run_bench(20, 2, 1, workers=2)\n"
        "print(json.dumps({'report': report, 'lines': bench.report_lines(report)}))\n"
        # As the benchmark ends: without the stores' native teardown (duckdb#13904).
        "from bot.cli import end_process\n"
        "end_process(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    report, lines = out["report"], out["lines"]
    rows = report["rows"]
    assert [r["phase"] for r in rows] == ["discovery", "design"]
    for row in rows:
        # Each phase ran as its own job, waited for /approve, and asked the model.
        assert row["state"] == "needs_approval"
        assert row["model"] > 0 and row["wall"] > row["model"]
        assert row["bot"] == row["wall"] - row["model"]
        assert row["baseline"] > 0
        assert row["echo_jobs"] >= 1  # the bot's own status comment edits came back
    assert lines[-4].startswith("bot time per phase: ")
    assert lines[-3].startswith("baseline git clone+commit+push: ")
    assert lines[-2].startswith("ratio bot/baseline: ")
    assert lines[-1].startswith("target <= 1 s per phase (max): ")
    assert report["summary"]["files"] == 22  # 20 generated + .agentforge/ config and workflow
