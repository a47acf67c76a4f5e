"""The demo's sandbox: the sample project, a local forge holding it, its people, the issue.

Layout of the sandbox directory::

    project/         the sample project as committed (git, branch main)
    forge/           the local forge (``agentforge local --dir DIR/forge ...``)
    data/            the bot's data directory (records, queue, index, clones)
    ci/              the demo's CI checkouts
    agentforge.log   the bot's log (JSON lines)

People on the forge: the project's owner (admin, opens the issue), ``reviewer``
(write: approves gates), ``demo-ci`` (write: reports the tests) and the bot's account
(write), as a team would set them up.
"""

from __future__ import annotations

import importlib.resources
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.demo.ci import CI_USER
from bot.demo.model import ModelChoice

REPO = "demo/inventory"
OWNER = "demo-owner"
REVIEWER = "reviewer"
TRIGGER_LABEL = "agentforge"
ISSUE_TITLE = "Warn when stock runs low"
ISSUE_BODY = """\
Shop staff find out an item ran out only when a customer asks for it.

Each item should be able to have a reorder level (a quantity). Add
`Stock.set_reorder_level(name, level)` and `Stock.needs_reorder()`, which lists the
items whose quantity is at or below their level, sorted by name. Items without a
level are never listed. The stock report should mark those items with `(reorder)`.
"""


@dataclass(frozen=True)
class Sandbox:
    """Paths of one demo sandbox (see the module docstring)."""

    root: Path

    @property
    def project(self) -> Path:
        """The sample project's source repository."""
        return self.root / "project"

    @property
    def forge(self) -> Path:
        """The local forge directory."""
        return self.root / "forge"

    @property
    def data(self) -> Path:
        """The bot's data directory."""
        return self.root / "data"

    @property
    def ci(self) -> Path:
        """Where the demo's CI checks commits out."""
        return self.root / "ci"

    @property
    def log(self) -> Path:
        """The bot's log file."""
        return self.root / "agentforge.log"


def copy_sample(dest: Path) -> list[str]:
    """Copy the shipped sample project into ``dest``; returns the files copied."""
    source = importlib.resources.files("bot.demo").joinpath("sample")
    copied: list[str] = []

    def walk(node, rel: Path) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.name in ("__pycache__", ".pytest_cache") or child.name.endswith(".pyc"):
                continue
            if child.is_dir():
                walk(child, rel / child.name)
                continue
            target = dest / rel / child.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(child.read_bytes())
            copied.append((rel / child.name).as_posix())

    walk(source, Path())
    return copied


def commit_all(path: Path, message: str) -> str:
    """Make ``path`` a git repository on ``main`` with one commit of every file."""
    import pygit2

    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    who = pygit2.Signature("AgentForge demo", "demo@agentforge.invalid")
    return str(repo.create_commit("refs/heads/main", who, who, message, tree, []))


def create(root: Path, model: ModelChoice, *, bot_login: str) -> Sandbox:
    """Build the sandbox in ``root`` (empty or absent): project, forge, grants.

    Raises:
        FileExistsError: ``root`` exists and is not empty.
    """
    from bot.forge import Permission
    from bot.forges.local import LocalForge

    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    box = Sandbox(root.resolve())
    box.project.mkdir(parents=True)
    copy_sample(box.project)
    config = box.project / ".agentforge" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(model.config_yaml(TRIGGER_LABEL), encoding="utf-8")
    commit_all(box.project, "inventory: a tiny stock keeper")
    owner = LocalForge(box.forge, OWNER)
    owner.init_project(REPO, box.project)
    owner.grant(REPO, REVIEWER, Permission.WRITE)
    owner.grant(REPO, bot_login, Permission.WRITE)
    # The CI's account writes statuses with a token that may push, as a GitHub Actions
    # or GitLab CI job token does; the policies judge the work its event resumes by it.
    owner.grant(REPO, CI_USER, Permission.WRITE)
    box.data.mkdir()
    box.ci.mkdir()
    return box


def open_issue(box: Sandbox) -> int:
    """The owner opens the sample requirement with the trigger label; its number."""
    from bot.forges.local import LocalForge

    made = LocalForge(box.forge, OWNER).create_issue(REPO, ISSUE_TITLE, ISSUE_BODY, [TRIGGER_LABEL])
    return made.number


def remove(box: Sandbox) -> None:
    """Delete the sandbox."""
    shutil.rmtree(box.root, ignore_errors=True)
