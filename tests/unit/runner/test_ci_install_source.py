"""The CI templates install AgentForge only from a pinned source the user controls.

`agentforge` on the public package index is an unrelated project, and a branch ref
(`@main`) changes under the user: neither may appear in what the templates run or in the
snippets the docs tell users to copy.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
GITLAB = ROOT / "deploy" / "gitlab-ci.yml"
ACTION = ROOT / "action" / "action.yml"
SNIPPETS = [ROOT / "README.md", ROOT / "action" / "README.md", ACTION]

# A requirement naming the package on an index: "agentforge", "AgentForge==1.0", "agent_forge>=2".
_INDEX_NAME = re.compile(r"^\s*agent[-_.]?forge\s*(\[[^\]]*\])?\s*([=<>~!;].*)?$", re.IGNORECASE)
_USES_AGENTFORGE = re.compile(r"uses:\s*([^\s#`]+/agentforge/action)@([^\s#`]+)")
_FLOATING = {"main", "master", "head", "develop", "latest", "trunk"}
_SHA = re.compile(r"^[0-9a-f]{40}$")
_PLACEHOLDER = re.compile(r"^<[^>]+>$")


def _install_step(script: list[str]) -> str:
    return next(line for line in script if "pip install" in line)


def _pip_targets(command: str) -> list[str]:
    """What each `pip install` in a shell text installs (options dropped)."""
    targets = []
    for match in re.finditer(r"pip install((?:\s+[^\s;|&]+)+)", command):
        targets.extend(a for a in match.group(1).split() if not a.startswith("-"))
    return targets


def test_gitlab_default_installs_nothing_from_the_index() -> None:
    job = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))[".agentforge"]
    default = str(job["variables"]["AGENTFORGE_INSTALL"])
    assert not _INDEX_NAME.match(default), f"AGENTFORGE_INSTALL defaults to {default!r}"
    for target in _pip_targets(_install_step(job["script"])):
        assert target.strip("\"'") == "$AGENTFORGE_INSTALL", target
        assert not _INDEX_NAME.match(target.strip("\"'"))


def test_action_installs_from_its_own_checkout() -> None:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    steps = action["runs"]["steps"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert _pip_targets(install["run"]) == ['"$AGENTFORGE_SOURCE"']
    assert install["env"]["AGENTFORGE_SOURCE"].startswith("${{ github.action_path }}")


@pytest.mark.parametrize("path", SNIPPETS, ids=lambda p: str(p.relative_to(ROOT)))
def test_action_references_are_pinned_not_floating(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "OWNER/agentforge/action@main" not in text
    for repo, ref in _USES_AGENTFORGE.findall(text):
        assert ref.lower() not in _FLOATING, f"{path.name}: {repo}@{ref} follows a branch"
        assert _SHA.match(ref) or _PLACEHOLDER.match(ref), f"{path.name}: {repo}@{ref}"
    for line in text.splitlines():
        assert not re.search(r"pip install\s+['\"]?agent[-_.]?forge\b(?![-/.\w]*[/@])", line), line


# --- the install step itself, run by bash with a fake python that records its arguments


@pytest.fixture(params=["bash", "sh"])
def install_script(request, tmp_path: Path):
    # GitLab runs the script with bash when the image has it, else with a POSIX sh.
    shell = shutil.which(request.param)
    if shell is None:
        pytest.skip(f"{request.param} is not installed")
    job = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))[".agentforge"]
    script = _install_step(job["script"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "pip-args"
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n', encoding="utf-8")
    fake.chmod(0o755)
    for tool in ("tr", "printf"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)

    def run(value: str, *, has_agentforge: bool = False) -> tuple[int, str, list[str]]:
        if has_agentforge:
            exe = bin_dir / "agentforge"
            exe.write_text("#!/bin/sh\n", encoding="utf-8")
            exe.chmod(0o755)
        record.unlink(missing_ok=True)
        proc = subprocess.run(
            [shell, "-c", script],
            env={"PATH": str(bin_dir), "AGENTFORGE_INSTALL": value},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        args = record.read_text(encoding="utf-8").split() if record.exists() else []
        return proc.returncode, proc.stderr, args

    return run


@pytest.mark.parametrize(
    "value",
    [
        "agentforge",
        "AgentForge==0.1.0",
        "agent_forge>=0.1",
        "agentforge[test]",
        "git+https://gitlab.example.com/tools/agentforge.git@main",
    ],
)
def test_install_refuses_index_names_and_branches(install_script, value) -> None:
    status, stderr, pip_args = install_script(value)
    assert status == 2
    assert "AGENTFORGE_INSTALL" in stderr
    assert pip_args == []


def test_install_without_a_source_or_an_image_says_what_to_set(install_script) -> None:
    status, stderr, pip_args = install_script("")
    assert status == 2
    assert "AGENTFORGE_INSTALL is not set" in stderr
    assert pip_args == []


def test_install_uses_the_image_agentforge_when_no_source_is_set(install_script) -> None:
    status, _, pip_args = install_script("", has_agentforge=True)
    assert status == 0
    assert pip_args == []


def test_install_from_a_pinned_repository_url(install_script) -> None:
    url = "git+https://gitlab.example.com/tools/agentforge.git@v0.1.0"
    status, stderr, pip_args = install_script(url)
    assert status == 0, stderr
    assert pip_args[:3] == ["-m", "pip", "install"]
    assert pip_args[-1] == url
