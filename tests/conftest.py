"""Shared test fixtures: paths to the real webhook payloads, a fresh data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
WEBHOOKS = SHARED / "fixtures" / "webhooks"


def load_webhook(forge: str, name: str) -> dict:
    """A real recorded payload from ``../shared/fixtures/webhooks/<forge>/<name>``."""
    return json.loads((WEBHOOKS / forge / name).read_text(encoding="utf-8"))


@pytest.fixture
def webhooks_dir() -> Path:
    """The directory of real recorded webhook payloads (read-only)."""
    if not WEBHOOKS.is_dir():
        pytest.fail(f"shared fixtures missing at {WEBHOOKS}")
    return WEBHOOKS


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty AGENTFORGE_DATA_DIR for one test."""
    d = tmp_path / "data"
    monkeypatch.setenv("AGENTFORGE_DATA_DIR", str(d))
    return d
