"""Secrets never reach logs or audit rows: known values and token shapes are masked."""

from __future__ import annotations

import io
import json

from bot import redact
from bot.logs import configure_logging, get_logger
from bot.settings import load_settings
from bot.store.audit import AuditLog
from bot.store.db import Database

PAT = "ghp_" + "Q9wE8rT7yU6iO5pA4sD3fG2hJ1kL0zXcVbNm"


def test_settings_secrets_are_masked_in_log_lines(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AGENTFORGE_GITLAB_TOKEN", "canary-gitlab-token-314159")
    settings = load_settings(data_dir=tmp_path)
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    token = settings.gitlab_token.get_secret_value()
    get_logger("t").info("calling", url=f"https://oauth2:{token}@gitlab.example/x.git", note=token)
    line = stream.getvalue()
    assert token not in line
    assert json.loads(line)["note"] == redact.MASK


def test_token_shapes_are_masked_whoever_they_belong_to() -> None:
    text = (
        f"pushed with {PAT}, header Authorization: Bearer abcdefghijklmnop1234 "
        "and -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY----- "
        "key sk-proj-abcdefghijklmnopqrstuvwxyz012345 aws AKIAZ7QW3RT5YU2IOPAS"
    )
    masked = redact.redact(text)
    for secret in (PAT, "abcdefghijklmnop1234", "AAAA", "sk-proj-", "AKIAZ7QW3RT5YU2IOPAS"):
        assert secret not in masked


def test_ordinary_text_is_left_alone() -> None:
    text = "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 on main by alice, 3 files"
    assert redact.redact(text) == text


def test_exception_text_in_logs_is_masked(monkeypatch) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        raise RuntimeError(f"push failed for https://x-access-token:{PAT}@github.com/a/b")
    except RuntimeError:
        get_logger("t").exception("job.failed")
    assert PAT not in stream.getvalue()


def test_audit_details_are_scrubbed_before_hashing() -> None:
    db = Database.in_memory()
    log = AuditLog(db)
    entry = log.append("bot", "push_commit.failed", "x", {"error": {"message": f"auth {PAT}"}})
    assert PAT not in json.dumps(entry.detail)
    assert log.verify().ok


# One example of every shape in bot.redact._PATTERNS and the URL password, mixed case
# where the shape allows it: the log processor's quick pre-check must let each through.
_EXAMPLES = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    PAT,
    "github_pat_" + "A1b2C3d4E5f6G7h8I9j0K1",
    "glpat-" + "abcdefghij0123456789",
    "glcbt-" + "abcdefghij0123456789",
    "sk-ant-" + "abcdefghijklmnopqrstuvwx",
    "xoxb-" + "1234567890-abcdef",
    "AKIAZ7QW3RT5YU2IOPAS",
    "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "eyJhbGciOiJI.eyJzdWIiOiIx.SflKxwRJSMeKKF2QT4",
    "BeArEr abcdefghijklmnop1234",
    "Token abcdefghijklmnop1234",
    "https://user:hunter2-pw@git.example/x.git",
)


def test_every_shape_is_masked_in_log_lines() -> None:
    assert len(_EXAMPLES) == len(redact._PATTERNS) + 4  # gitlab x2, bearer/token, URL
    for example in _EXAMPLES:
        assert redact.redact(example) != example, example
        stream = io.StringIO()
        configure_logging("INFO", "json", stream)
        get_logger("t").info("sent", delivery_id="d-1", detail=f"see {example} here", n=3)
        line = json.loads(stream.getvalue())
        assert line["detail"] == f"see {redact.redact(example)} here", example
        assert line["delivery_id"] == "d-1" and line["n"] == 3


def test_known_secret_without_a_shape_is_masked_in_log_lines() -> None:
    redact.register(["plain-known-secret-271828"])
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    get_logger("t").info("sent", detail="x plain-known-secret-271828 y")
    assert json.loads(stream.getvalue())["detail"] == f"x {redact.MASK} y"


def test_lines_without_secrets_pass_unchanged() -> None:
    line = {"event": "webhook queued", "delivery_id": "3f1c-22", "job_id": 7, "ok": True}
    assert redact.structlog_processor(None, "info", dict(line)) == line
    nested = {"event": "x", "detail": {"error": f"auth {PAT}"}}
    assert PAT not in json.dumps(redact.structlog_processor(None, "info", nested))
