"""The audit anchor closes the newest-row gap; export writes verifiable JSON lines."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.store.audit import ANCHOR_FILE, GENESIS_HASH, AuditLog, canonical_json, format_at
from bot.store.db import Database


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(data_dir: Path) -> Path:
    with Database.open(data_dir) as db:
        log = AuditLog(db)
        for n in range(6):
            log.append("alice", "phase.approved", f"github:acme/app#{n}", {"n": n})
    return data_dir


def test_every_append_is_anchored_outside_the_database(filled: Path) -> None:
    lines = (filled / ANCHOR_FILE).read_text().splitlines()
    with Database.open_readonly(filled) as db:
        rows = AuditLog(db).entries()
    assert lines == [f"{r.seq} {r.hash}" for r in rows]


def test_deleting_the_newest_rows_is_reported_with_what_is_missing(filled, capsys) -> None:
    with Database.open(filled) as db:
        db.execute("DELETE FROM audit_log WHERE seq >= 5")
        result = AuditLog(db).verify()
    assert (result.ok, result.reason, result.first_bad_seq) == (False, "truncated", 5)
    assert "5-6 are missing" in result.message
    assert result.anchored_seq == 6
    code, _out, err = run_cli(capsys, "audit", "verify", "--data-dir", str(filled))
    assert code == 1
    assert "truncated" in err and "5-6" in err


def test_rewriting_the_newest_row_with_a_valid_hash_is_found(filled) -> None:
    with Database.open(filled) as db:
        seq, at, prev = db.fetchone('SELECT seq, "at", prev_hash FROM audit_log WHERE seq = 6')
        detail = {"n": 600}
        body = canonical_json(
            {
                "seq": seq,
                "at": format_at(at),
                "actor": "alice",
                "action": "phase.approved",
                "subject": "github:acme/app#5",
                "detail": detail,
            }
        )
        forged = hashlib.sha256((prev + body).encode()).hexdigest()
        db.execute(
            "UPDATE audit_log SET detail = ?, hash = ? WHERE seq = 6",
            [canonical_json(detail), forged],
        )
        result = AuditLog(db).verify()
    assert (result.ok, result.reason, result.first_bad_seq) == (False, "anchor_mismatch", 6)


def test_a_removed_anchor_is_reported(filled) -> None:
    (filled / ANCHOR_FILE).unlink()
    with Database.open(filled) as db:
        result = AuditLog(db).verify()
    assert (result.ok, result.reason) == (False, "anchor_missing")


def test_garbage_in_the_anchor_is_ignored_line_by_line(filled) -> None:
    with (filled / ANCHOR_FILE).open("a") as handle:
        handle.write("not a line\n")
    with Database.open(filled) as db:
        assert AuditLog(db).verify().ok


def test_in_memory_logs_have_no_anchor() -> None:
    db = Database.in_memory()
    log = AuditLog(db)
    log.append("a", "x.y")
    assert log.anchor is None
    assert log.verify().ok


def test_export_writes_one_verifiable_line_per_row(filled, tmp_path, capsys) -> None:
    out = tmp_path / "audit.jsonl"
    code, _o, err = run_cli(capsys, "audit", "export", "--data-dir", str(filled), "--out", str(out))
    assert code == 0
    assert "6 rows written" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    prev = GENESIS_HASH
    for row in rows:
        assert row["prev_hash"] == prev
        prev = row["hash"]


def test_export_since_and_to_stdout(filled, capsys) -> None:
    code, out, _ = run_cli(
        capsys, "audit", "export", "--data-dir", str(filled), "--since", "2999-01-01"
    )
    assert (code, out) == (0, "")
    code, out, _ = run_cli(
        capsys, "audit", "export", "--data-dir", str(filled), "--since", "2000-01-01"
    )
    assert len(out.splitlines()) == 6


def test_export_bad_since_is_a_usage_error(filled, capsys) -> None:
    code, _out, err = run_cli(
        capsys, "audit", "export", "--data-dir", str(filled), "--since", "soon"
    )
    assert code == 2
    assert "--since" in err
