"""Typed, path-aware reads from a decoded webhook payload.

Both forge parsers read nested JSON through :class:`Fields`, so every shape problem
surfaces as one :class:`~bot.errors.PayloadShapeError` that names the event and the
full field path (``issues event: missing field issue.number``), and optional fields
that are absent or ``null`` read as ``None`` instead of crashing. It also builds the
parts both parsers share: the ``ignored`` event and a push's fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.errors import PayloadShapeError
from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef

_T = TypeVar("_T")


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but true/false is never a count or an id.
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class Fields:
    """A read-only view of one JSON object inside a payload.

    Args:
        data: The JSON object.
        event: The forge's event name, used in error messages.
        path: Dotted path of ``data`` inside the payload (``""`` for the root).
    """

    def __init__(self, data: dict[str, Any], event: str, path: str = "") -> None:
        self.data = data
        self.event = event
        self.path = path

    # --- errors ----------------------------------------------------------------------

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def missing(self, key: str) -> PayloadShapeError:
        """The error for a required field that is absent or null."""
        return PayloadShapeError(f"{self.event} event: missing field {self._where(key)}")

    def invalid(self, key: str, expected: str, value: Any) -> PayloadShapeError:
        """The error for a field whose JSON type is not ``expected``."""
        return PayloadShapeError(
            f"{self.event} event: field {self._where(key)} must be {expected}, "
            f"got {_type_name(value)}"
        )

    # --- readers ---------------------------------------------------------------------

    def _optional(self, key: str, expected: str, accepts: Callable[[Any], bool]) -> Any:
        """The value at ``key``: None when absent or null, else it must pass ``accepts``."""
        value = self.data.get(key)
        if value is None or accepts(value):
            return value
        raise self.invalid(key, expected, value)

    def _array(self, key: str) -> list[Any] | None:
        return self._optional(key, "an array", lambda v: isinstance(v, list))

    def _required(self, key: str, value: _T | None) -> _T:
        if value is None:
            raise self.missing(key)
        return value

    def has(self, key: str) -> bool:
        """Whether ``key`` is present and not null."""
        return self.data.get(key) is not None

    def obj(self, key: str) -> Fields:
        """A required nested object."""
        return self._required(key, self.opt_obj(key))

    def opt_obj(self, key: str) -> Fields | None:
        """An optional nested object (None when absent or null)."""
        # The readers below check types inline rather than through _optional: they run
        # a few dozen times per delivery on the server's event loop.
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.invalid(key, "an object", value)
        return Fields(value, self.event, f"{self.path}.{key}" if self.path else key)

    def text(self, key: str) -> str:
        """A required string."""
        return self._required(key, self.opt_text(key))

    def opt_text(self, key: str) -> str | None:
        """An optional string."""
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self.invalid(key, "a string", value)

    def integer(self, key: str) -> int:
        """A required integer (booleans are not integers here)."""
        return self._required(key, self.opt_int(key))

    def opt_int(self, key: str) -> int | None:
        """An optional integer."""
        return self._optional(key, "an integer", _is_int)

    def ident(self, key: str) -> str:
        """A required id, numeric or string, returned as a string."""
        return self._required(key, self.opt_ident(key))

    def opt_ident(self, key: str) -> str | None:
        """An optional id, numeric or string, returned as a string."""
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        if _is_int(value):
            return str(value)
        raise self.invalid(key, "an id (integer or string)", value)

    def flag(self, key: str) -> bool | None:
        """An optional boolean."""
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise self.invalid(key, "a boolean", value)

    def timestamp(self, key: str) -> str | None:
        """An optional time as the forge wrote it (ISO 8601 string or epoch number)."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise self.invalid(key, "a timestamp", value)

    def objects(self, key: str) -> list[Fields]:
        """An optional array of objects (``[]`` when absent or null)."""
        value = self._array(key)
        if value is None:
            return []
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.invalid(f"{key}[{index}]", "an object", item)
            out.append(Fields(item, self.event, f"{self._where(key)}[{index}]"))
        return out

    def names(self, key: str, name_key: str) -> list[str] | None:
        """Names from an optional array of strings or of objects carrying ``name_key``.

        Returns None when the array is absent, so callers can fall back elsewhere.
        """
        value = self._array(key)
        if value is None:
            return None
        out = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict):
                out.append(Fields(item, self.event, f"{self._where(key)}[{index}]").text(name_key))
            else:
                raise self.invalid(f"{key}[{index}]", "a string or an object", item)
        return out


def short_ref(ref: str | None) -> str | None:
    """``refs/heads/main`` → ``main``, ``refs/tags/v1`` → ``v1``; other refs unchanged."""
    if ref is None:
        return None
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def is_zero_sha(sha: str | None) -> bool:
    """Whether ``sha`` is the all-zero id (a ref that did not or no longer exists)."""
    return bool(sha) and set(sha) == {"0"}


def path_of_url(url: str | None) -> str | None:
    """``https://host/group/project`` → ``group/project`` (None when there is no path)."""
    if not url:
        return None
    path = urlsplit(url).path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    return path or None


def ignored_event(
    forge: ForgeKind,
    root: Fields,
    event_name: str,
    delivery_id: str | None,
    reason: str,
    *,
    action: Any,
    repo_of: Callable[[Fields], RepoRef],
    actor_of: Callable[[Fields], Actor],
) -> Event:
    """An ignored event; reads what it can and never raises on the payload's shape.

    Args:
        forge: The forge that sent it.
        root: The payload.
        event_name: The event name as the forge sent it.
        delivery_id: The delivery id, if known.
        reason: Why the bot does not act on it.
        action: The payload's action, if it has one (anything but a string reads as "").
        repo_of: The forge parser's repository reader.
        actor_of: The forge parser's actor reader.
    """
    try:
        repo = repo_of(root)
    except PayloadShapeError:
        repo = RepoRef(full_name="")
    try:
        actor = actor_of(root)
    except PayloadShapeError:
        actor = Actor(login="")
    return Event(
        forge=forge,
        kind=EventKind.IGNORED,
        action=action if isinstance(action, str) else "",
        event_name=event_name,
        delivery_id=delivery_id,
        repo=repo,
        actor=actor,
        reason=reason,
        raw=root.data,
    )


def push_fields(
    root: Fields,
    *,
    repo_of: Callable[[Fields], RepoRef],
    actor_of: Callable[[Fields], Actor],
    url_of: Callable[[Fields, str], str | None],
    read_flags: bool,
) -> dict[str, Any]:
    """The event fields of a push of one ref (branch or tag).

    Args:
        root: The payload.
        repo_of: The forge parser's repository reader.
        actor_of: The forge parser's actor reader.
        url_of: The push's web page, from the payload and the pushed sha.
        read_flags: The payload says ``deleted`` / ``created`` outright (GitHub); else
            only the all-zero sha tells.
    """
    ref = root.text("ref")
    before = root.opt_text("before")
    after = root.text("after")
    if (read_flags and root.flag("deleted")) or is_zero_sha(after):
        action = "deleted"
    elif (read_flags and root.flag("created")) or is_zero_sha(before):
        action = "created"
    else:
        action = "pushed"
    return {
        "kind": EventKind.PUSH,
        "action": action,
        "repo": repo_of(root),
        "actor": actor_of(root),
        "ref": ref,
        "head_ref": short_ref(ref),
        "head_sha": after,
        "base_sha": before,
        "url": url_of(root, after),
        "object_id": after,
    }
