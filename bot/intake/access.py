"""Who may talk to the server, and which repositories it acts for.

Shared by the webhook routes, the admin API, the dashboard and the local forge's feed.
"""

from __future__ import annotations

import fnmatch
import ipaddress


def client_is_loopback(host: str | None) -> bool:
    """Whether a client address is the local machine."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def repo_allowed(full_name: str, allowlist: list[str]) -> bool:
    """Whether ``full_name`` matches the allowlist (empty = everything; ``*`` globs)."""
    if not allowlist:
        return True
    name = full_name.lower()
    return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in allowlist)
