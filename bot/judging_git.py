"""What the judge reads from git: config at the default branch, a push's base files.

Both read the same cached clone the executor pushes from (fetched first, one git
operation at a time per clone), never a working tree a change could have touched:

- :meth:`GitFacts.load_config` reads ``.agentforge/`` at ``origin/<default branch>``
  and validates it with :mod:`bot.repoconfig` (an MR cannot loosen its own rules);
- :meth:`GitFacts.read_base` reads, for each path a push changes, the old text at the
  ref the push builds on (``origin/<branch>``, else ``origin/<base>``) and whether a
  part of the path is a symbolic link or a submodule there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pygit2

from bot.actions import PushCommit
from bot.config_cache import ConfigCache
from bot.errors import GitError
from bot.forge import Forge
from bot.repoconfig import AgentForgeConfig
from bot.repoconfig.loader import CONFIG_DIR, MAX_FILE_BYTES
from bot.workspace import Workspace, cache_path

_LINK = pygit2.enums.FileMode.LINK
_COMMIT = pygit2.enums.FileMode.COMMIT


@dataclass(frozen=True)
class BaseFiles:
    """The tree a push builds on, for the paths it changes.

    Attributes:
        ref: The ref read (``origin/<branch>`` or ``origin/<base>``).
        texts: Path → old text (None: the file is new, or not text).
        symlinks: Path → the part of it that is a symbolic link or submodule.
    """

    ref: str
    texts: dict[str, str | None] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)


class GitFacts:
    """Reads the judge's facts from the cached clone of a forge's repositories.

    Args:
        forge: The forge the clones come from.
        clones_dir: The executor's clone cache.
        configs: Validated configs by the id of their ``.agentforge/`` tree (share one
            between events: the judge of every event reads the config).
    """

    def __init__(self, forge: Forge, clones_dir: Path, configs: ConfigCache | None = None) -> None:
        self.forge = forge
        self.clones_dir = Path(clones_dir)
        self.configs = configs if configs is not None else ConfigCache()

    def _repo(self, repo: str) -> pygit2.Repository:
        from bot.executor import _clone_lock

        path = cache_path(self.clones_dir, self.forge.name, repo)
        with _clone_lock(path):
            ws = Workspace.open(self.forge.clone_url(repo), path)  # clones or fetches
        return pygit2.Repository(str(ws.path))

    @staticmethod
    def _tree(git: pygit2.Repository, ref: str) -> pygit2.Tree | None:
        try:
            return git.revparse_single(ref).peel(pygit2.Commit).tree
        except (KeyError, ValueError, pygit2.GitError):
            return None

    def load_config(self, repo: str, default_branch: str | None = None) -> AgentForgeConfig:
        """The validated ``.agentforge/`` of ``repo`` at its default branch's head.

        Raises:
            RepoConfigError: the files there are invalid (every issue, with lines).
            GitError: the clone or fetch failed.
        """
        branch = default_branch or self.forge.get_repo(repo).default_branch
        git = self._repo(repo)  # the fetch: the default branch's head as of now
        tree = self._tree(git, f"refs/remotes/origin/{branch}")
        if tree is None:
            # The fetch succeeded and the branch is not there: an empty repository has
            # no .agentforge/, so its config is the defaults.
            return self.configs.load({})
        try:
            top = tree[CONFIG_DIR]
        except KeyError:
            return self.configs.load({})
        if top.filemode != pygit2.enums.FileMode.TREE:
            return self.configs.load({})
        # The tree's id names its content: the same id is the same config, validated once.
        return self.configs.load_tree(str(top.id), lambda: _config_files(git, git[top.id]))

    def read_base(self, action: PushCommit) -> BaseFiles:
        """Old texts and symbolic links on the way for the paths ``action`` changes.

        Raises:
            GitError: the clone or fetch failed, or neither branch nor base exists.
        """
        git = self._repo(action.repo)
        for ref in (f"refs/remotes/origin/{action.branch}", f"refs/remotes/origin/{action.base}"):
            tree = self._tree(git, ref)
            if tree is not None:
                break
        else:
            raise GitError(
                f"judging the push to {action.repo}@{action.branch}: neither "
                f"{action.branch} nor {action.base} exists"
            )
        texts: dict[str, str | None] = {}
        links: dict[str, str] = {}
        for change in action.changes:
            link = _link_on_the_way(tree, change.path)
            if link is not None:
                links[change.path] = link
            texts[change.path] = _text(git, tree, change.path)
        return BaseFiles(ref.removeprefix("refs/remotes/"), texts, links)


def _config_files(git: pygit2.Repository, top: pygit2.Tree) -> dict[str, str]:
    """The ``.yaml``/``.yml``/``.md`` files under ``.agentforge/``, path -> text (over-large
    and non-UTF-8 files get the markers validation names)."""
    files: dict[str, str] = {}
    for rel, blob in _walk(git, top, CONFIG_DIR):
        if not rel.endswith((".yaml", ".yml", ".md")):
            continue
        data = blob.data
        if len(data) > MAX_FILE_BYTES:
            files[rel] = "\x00too-large"
            continue
        try:
            files[rel] = data.decode("utf-8")
        except UnicodeDecodeError:
            files[rel] = "\x00not-utf8"
    return files


def _walk(git: pygit2.Repository, tree: pygit2.Tree, prefix: str):
    for entry in tree:
        rel = f"{prefix}/{entry.name}"
        if entry.filemode == pygit2.enums.FileMode.TREE:
            yield from _walk(git, git[entry.id], rel)
        elif entry.filemode in (
            pygit2.enums.FileMode.BLOB,
            pygit2.enums.FileMode.BLOB_EXECUTABLE,
        ):
            yield rel, git[entry.id]


def _link_on_the_way(tree: pygit2.Tree, path: str) -> str | None:
    parts = [p for p in PurePosixPath(path).parts if p not in (".", "/")]
    for n in range(1, len(parts) + 1):
        sub = "/".join(parts[:n])
        try:
            entry = tree[sub]
        except (KeyError, ValueError):
            return None  # the rest is new: nothing on the way
        if entry.filemode in (_LINK, _COMMIT):
            return sub
    return None


def _text(git: pygit2.Repository, tree: pygit2.Tree, path: str) -> str | None:
    try:
        entry = tree[path]
    except (KeyError, ValueError):
        return None
    obj = git[entry.id]
    if not isinstance(obj, pygit2.Blob):
        return None
    try:
        return obj.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
