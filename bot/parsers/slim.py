"""Decoding only the fields a forge parser reads, for the webhook intake.

A 12 KB GitHub payload decodes into hundreds of Python objects (mostly API URLs), of
which a parser reads a few dozen. The intake parses every delivery on the event loop
that acknowledges it, and the decode, plus freeing what it built, was the largest part
of that work (~26% of the server's main-thread samples under bench/webhook_load.py).
Decoding into msgspec structs that name only the fields a parser reads skips the rest
of the body without building it.

A forge parser states what it reads as a :data:`Reads` tree (``READS`` in its module);
:func:`decoder` turns the tree into structs once. The result of a decode is a plain
dict holding exactly those fields that are present (absent stays absent, ``null``
stays ``None``), so the parser runs on it unchanged. Whatever the structs refuse (a
field of another JSON type, a body that is not a JSON object) is left to the full
decode, which words the error; see :func:`bot.parsers.parse_for_intake`.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

Reads = dict[str, "Reads | list[Reads] | None"]
"""What a parser reads from one JSON object, by key.

``None``: the value is read whole, whatever its type. A nested ``Reads``: an object of
which only those keys are read (``{}``: only whether it is there). ``[Reads]``: an
array whose items are such objects or strings (labels may be either).
"""

_names = itertools.count()


def decoder(reads: Reads) -> Any:
    """A ``msgspec.json.Decoder`` of the root object ``reads`` describes."""
    return _decoder(_freeze(reads))


def decode(dec: Any, body: bytes) -> dict[str, Any]:
    """``body`` decoded by ``dec`` into plain dicts and lists.

    Raises:
        msgspec.MsgspecError: not a JSON object, or a field is not of the type read.
    """
    import msgspec

    return msgspec.to_builtins(dec.decode(body))


def covers(reads: Reads, path: tuple[str, ...]) -> bool:
    """Whether ``reads`` keeps the value at ``path`` (keys; ``[]`` for an array item)."""
    node: Any = reads
    for key in path:
        if node is None:
            return True  # read whole: everything under it is kept
        if key == "[]":
            if not isinstance(node, list):
                return False
            node = node[0]
            continue
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _freeze(reads: Any) -> Any:
    """A hashable copy of a reads tree, so each distinct tree is built into structs once."""
    if reads is None:
        return None
    if isinstance(reads, list):
        return ("[]", _freeze(reads[0]))
    return tuple(sorted((key, _freeze(value)) for key, value in reads.items()))


@functools.cache
def _decoder(frozen: tuple) -> Any:
    import msgspec

    return msgspec.json.Decoder(_struct(frozen))


@functools.cache
def _struct(frozen: tuple) -> Any:
    """A struct type with one field per key; absent keys default to ``UNSET`` (left out
    of :func:`msgspec.to_builtins`), so the decoded dict tells absent from ``null``."""
    import msgspec

    fields = []
    rename = {}
    for index, (key, sub) in enumerate(frozen):
        attr = f"f{index}"  # JSON keys need not be identifiers
        rename[attr] = key
        fields.append((attr, _field_type(sub), msgspec.UNSET))
    return msgspec.defstruct(f"Reads{next(_names)}", fields, rename=rename)


def _field_type(sub: Any) -> Any:
    from msgspec import UnsetType

    if sub is None:
        return Any
    if sub and sub[0] == "[]":
        return list[_struct(sub[1]) | str] | None | UnsetType
    return _struct(sub) | None | UnsetType
