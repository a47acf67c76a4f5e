"""SDK clients shared between model objects of the same provider settings.

A role run builds its routed models afresh (the route, budget and usage meter are the
run's), but an SDK client is only a connection pool with settings: building one loads
the TLS trust store and sets up an HTTP pool (tens of milliseconds), and keeping it
lets later runs reuse open connections. The OpenAI and Anthropic clients are safe to
share between threads. Clients are keyed by everything they were built with (the key
by its digest, so the cache holds no second copy of it).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MAX_CLIENTS = 16
"""Clients kept (least recently used go first)."""

_CLIENTS: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.Lock()


def shared_client(kind: str, build: Callable[[], Any], *, api_key: str | None, **settings: Any):
    """The client ``build()`` makes for ``kind`` with ``api_key`` and ``settings``, built
    once per distinct combination and then shared."""
    digest = hashlib.sha256((api_key or "").encode()).hexdigest()
    key = (kind, digest, tuple(sorted((k, repr(v)) for k, v in settings.items())))
    with _LOCK:
        found = _CLIENTS.get(key)
        if found is not None:
            _CLIENTS.move_to_end(key)
            return found
    client = build()  # outside the lock: building one takes a while
    with _LOCK:
        client = _CLIENTS.setdefault(key, client)
        _CLIENTS.move_to_end(key)
        while len(_CLIENTS) > MAX_CLIENTS:
            _CLIENTS.popitem(last=False)
    return client
