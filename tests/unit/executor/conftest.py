"""Fixtures for executor tests: a local forge with one project, and a flaky wrapper."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.forge import Permission
from bot.forges.local import LocalForge
from tests.unit.executor.support import BOT, REPO, Flaky


@pytest.fixture
def local(tmp_path: Path) -> LocalForge:
    """``acme/app`` on a fresh local forge (README on main); the bot may write."""
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# app\n", encoding="utf-8")
    owner = LocalForge(tmp_path / "forge", "owner")
    owner.init_project(REPO, seed)
    owner.grant(REPO, BOT, Permission.WRITE)
    return LocalForge(tmp_path / "forge", BOT, is_bot=True)


@pytest.fixture
def forge(local: LocalForge) -> Flaky:
    """The local forge behind a wrapper that counts writes and can inject errors."""
    return Flaky(local)
