"""`agentforge stats` and `agentforge audit verify|log` on real data directories."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.usage import UsageRecord
from bot.cli import main
from bot.store.audit import AuditLog
from bot.store.db import Database
from bot.store.records import DuckDBLedger, Records

T0 = datetime(2024, 6, 1, tzinfo=UTC)

USAGE = [
    # repo, role, provider, model, input, output, cached, cost, ok, days after T0
    ("acme/app", "architect", "anthropic", "claude-a", 1000, 200, 10, 0.5, True, 0),
    ("acme/app", "developer", "anthropic", "claude-a", 3000, 900, 0, 1.25, True, 1),
    ("acme/app", "developer", "ollama", "qwen", 5000, 100, 0, 0.0, False, 2),
    ("acme/web", "developer", "openai", "gpt-x", 700, 70, 7, 0.125, True, 3),
    ("acme/web", None, "openai", "gpt-x", 10, 1, 0, 0.0625, True, 4),
]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(data_dir: Path) -> Path:
    with Database.open(data_dir) as db:
        records, ledger, log = Records(db), DuckDBLedger(db), AuditLog(db)
        r1 = records.create_run(forge="github", repo="acme/app", issue_number=1)
        records.start_phase(r1.id, "design", role="architect")
        records.finish_phase(r1.id, "design", state="approved")
        records.start_phase(r1.id, "build", role="developer")
        r2 = records.create_run(forge="github", repo="acme/web", issue_number=2)
        records.update_run(r2.id, state="failed")
        records.create_run(forge="github", repo="acme/web", issue_number=3)
        for repo, role, provider, model, i, o, c, cost, ok, days in USAGE:
            ledger.record(
                UsageRecord(
                    repo=repo,
                    role=role,
                    provider=provider,
                    model=model,
                    input_tokens=i,
                    output_tokens=o,
                    cached_tokens=c,
                    cost_usd=cost,
                    ok=ok,
                    created_at=T0 + timedelta(days=days),
                )
            )
        for n in range(12):
            log.append("alice", "phase.approved", f"github:acme/app#{n}", {"n": n})
    return data_dir


def _sums(rows: list[tuple], key) -> dict:
    out: dict = {}
    for row in rows:
        k = key(row)
        zero = dict.fromkeys(
            ("calls", "failed", "input_tokens", "output_tokens", "cached_tokens"), 0
        )
        agg = out.setdefault(k, {**zero, "cost_usd": 0.0})
        agg["calls"] += 1
        agg["failed"] += 0 if row[8] else 1
        agg["input_tokens"] += row[4]
        agg["output_tokens"] += row[5]
        agg["cached_tokens"] += row[6]
        agg["cost_usd"] += row[7]
    return out


def test_stats_json_numbers_are_the_sums_of_the_recorded_rows(filled: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "stats", "--data-dir", str(filled), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["runs"] == {"total": 3, "by_state": {"failed": 1, "running": 2}}
    assert {(p["phase"], p["state"], p["count"]) for p in data["phases"]} == {
        ("design", "approved", 1),
        ("build", "running", 1),
    }
    usage = data["usage"]
    assert usage["total"] == _sums(USAGE, lambda r: None)[None]
    by_repo = {r["repo"]: {k: v for k, v in r.items() if k != "repo"} for r in usage["by_repo"]}
    assert by_repo == _sums(USAGE, lambda r: r[0])
    by_role = {r["role"]: {k: v for k, v in r.items() if k != "role"} for r in usage["by_role"]}
    assert by_role == _sums(USAGE, lambda r: r[1])
    by_model = {
        (r["provider"], r["model"]): {k: v for k, v in r.items() if k not in ("provider", "model")}
        for r in usage["by_model"]
    }
    assert by_model == _sums(USAGE, lambda r: (r[2], r[3]))


def test_stats_repo_and_since_filters(filled: Path, capsys) -> None:
    code, out, _ = run_cli(
        capsys, "stats", "--data-dir", str(filled), "--json", "--repo", "acme/web"
    )
    assert code == 0
    data = json.loads(out)
    assert data["runs"]["total"] == 2
    assert data["phases"] == []
    assert data["usage"]["total"]["cost_usd"] == 0.125 + 0.0625

    code, out, _ = run_cli(
        capsys, "stats", "--data-dir", str(filled), "--json", "--since", "2024-06-03"
    )
    assert code == 0
    usage = json.loads(out)["usage"]
    assert usage["total"]["calls"] == 3
    assert usage["total"]["cost_usd"] == 0.0 + 0.125 + 0.0625
    # Runs were created now, after 2024-06-03; a future --since leaves none.
    code, out, _ = run_cli(
        capsys, "stats", "--data-dir", str(filled), "--json", "--since", "2999-01-01"
    )
    assert json.loads(out)["runs"]["total"] == 0


def test_stats_table_for_people(filled: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = run_cli(capsys, "stats", "--data-dir", str(filled))
    assert code == 0
    for word in ("Runs", "Phases", "acme/app", "architect", "gpt-x", "1.9375"):
        assert word in out


def test_stats_on_an_empty_database(data_dir: Path, capsys) -> None:
    Database.open(data_dir).close()
    code, out, _ = run_cli(capsys, "stats", "--data-dir", str(data_dir))
    assert code == 0
    assert str(data_dir) in out
    code, out, _ = run_cli(capsys, "stats", "--data-dir", str(data_dir), "--json")
    assert json.loads(out)["usage"]["total"]["calls"] == 0


@pytest.mark.parametrize("argv", [["stats"], ["audit", "verify"], ["audit", "log"]])
def test_no_data_dir_is_a_clear_error(tmp_path: Path, capsys, argv: list[str]) -> None:
    missing = tmp_path / "missing"
    code, out, err = run_cli(capsys, *argv, "--data-dir", str(missing))
    assert code == 1
    assert str(missing) in err
    assert "Traceback" not in out + err


def test_data_dir_comes_from_the_environment(filled: Path, capsys) -> None:
    # The data_dir fixture sets AGENTFORGE_DATA_DIR.
    code, out, _ = run_cli(capsys, "audit", "verify", "--json")
    assert code == 0
    assert json.loads(out)["rows"] == 12


def test_bad_since_is_a_usage_error(filled: Path, capsys) -> None:
    code, _, _ = run_cli(capsys, "stats", "--data-dir", str(filled), "--since", "last tuesday")
    assert code == 2


def test_audit_verify_intact(filled: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "audit", "verify", "--data-dir", str(filled))
    assert code == 0
    assert "12 rows verified" in out


def test_audit_verify_empty_log(data_dir: Path, capsys) -> None:
    Database.open(data_dir).close()
    code, out, _ = run_cli(capsys, "audit", "verify", "--data-dir", str(data_dir), "--json")
    assert code == 0
    assert json.loads(out)["rows"] == 0


@pytest.mark.parametrize(
    ("sql", "seq", "reason"),
    [
        ("UPDATE audit_log SET detail = '{\"n\": 99}' WHERE seq = 5", 5, "content_changed"),
        ("DELETE FROM audit_log WHERE seq = 7", 8, "seq_gap"),
        ("UPDATE audit_log SET prev_hash = repeat('0', 64) WHERE seq = 9", 9, "chain_broken"),
    ],
)
def test_audit_verify_tampered(filled: Path, capsys, sql: str, seq: int, reason: str) -> None:
    with Database.open(filled) as db:
        db.execute(sql)
    code, out, err = run_cli(capsys, "audit", "verify", "--data-dir", str(filled))
    assert code == 1
    assert f"row {seq}" in err
    code, out, _ = run_cli(capsys, "audit", "verify", "--data-dir", str(filled), "--json")
    assert code == 1
    result = json.loads(out)
    assert (result["ok"], result["first_bad_seq"], result["reason"]) == (False, seq, reason)


def test_audit_log_prints_rows(filled: Path, capsys) -> None:
    code, out, _ = run_cli(
        capsys, "audit", "log", "--data-dir", str(filled), "--after", "10", "--json"
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in rows] == [11, 12]
    assert rows[0]["detail"] == {"n": 10}


HOLD = """
import sys
from pathlib import Path
from bot.store.db import Database
db = Database.open(Path(sys.argv[1]))
print("held", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("argv", [["stats"], ["audit", "verify"]])
def test_data_dir_locked_by_a_running_server(filled: Path, capsys, argv: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(filled)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        code, out, err = run_cli(capsys, *argv, "--data-dir", str(filled))
        assert code == 1
        assert str(proc.pid) in err
        assert "Traceback" not in out + err
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_record_commands_do_not_import_duckdb_until_run() -> None:
    code = (
        "import sys, bot.cli, bot.commands.stats, bot.commands.audit;"
        "print(sorted(m for m in ('duckdb', 'rich', 'lancedb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
