"""The templates ship in the wheel: every one matches a package-data glob."""

from __future__ import annotations

import fnmatch
import tomllib

from tests.conftest import ROOT


def test_every_template_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]
    package = ROOT / "bot" / "dashboard"
    templates = sorted(package.glob("templates/*.html"))
    assert len(templates) >= 8
    patterns = globs.get("bot.dashboard", []) + globs.get("*", [])
    for path in templates:
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
    assert "jinja2" in " ".join(config["project"]["dependencies"]).lower()
