"""Validated repository configs, cached: validation is the costly part of reading one.

:class:`ConfigCache` keeps :class:`bot.repoconfig.AgentForgeConfig` objects by what
determines them, never by a name that can move:

- :meth:`ConfigCache.load` by a digest of the files' contents (any reader);
- :meth:`ConfigCache.load_tree` by the git object id of the ``.agentforge/`` tree (or
  of the default branch's head commit), which names its content: a new commit on the
  default branch that changes the config has a new id and is read and validated again,
  one that does not is a hit without reading a file.

Callers still look the id up every time (a fetch, or the forge's branch head), so the
config is always the one at the default branch's head; only the reading and
validating are skipped. Invalid configs are never cached: each job reports them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from bot.repoconfig import AgentForgeConfig, load_files


class ConfigCache:
    """Validated configs by content digest and by git object id (LRU, thread-safe).

    Args:
        size: How many configs to keep per key kind (least recently used go first).
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[str, AgentForgeConfig] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, key: str) -> AgentForgeConfig | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def _put(self, key: str, config: AgentForgeConfig) -> None:
        with self._lock:
            self._items[key] = config
            self._items.move_to_end(key)
            while len(self._items) > 2 * self.size:
                self._items.popitem(last=False)

    def load(self, files: dict[str, str]) -> AgentForgeConfig:
        """The config of ``files`` (path -> text), validated once per distinct content.

        Raises:
            RepoConfigError: with every problem (file, line, field); never cached.
        """
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(path.encode() + b"\x00" + files[path].encode() + b"\x00")
        key = "files:" + digest.hexdigest()
        found = self._get(key)
        if found is None:
            found = load_files(files)
            self._put(key, found)
        return found

    def load_tree(self, object_id: str, read: Callable[[], dict[str, str]]) -> AgentForgeConfig:
        """The config whose files are named by git object ``object_id``.

        Args:
            object_id: The id of the ``.agentforge/`` tree, or of a commit, with the
                repository it belongs to folded in by the caller when ids could clash
                across repositories (content ids cannot).
            read: Reads the files (path -> text); called only on a miss.

        Raises:
            RepoConfigError: with every problem; never cached.
        """
        key = "tree:" + object_id
        found = self._get(key)
        if found is None:
            found = self.load(read())
            self._put(key, found)
        return found
