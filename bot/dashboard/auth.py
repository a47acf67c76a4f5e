"""Who may read the dashboard: the local machine freely, anyone else with the admin token.

The rules, in order:

1. A request from a loopback address that carries no forwarding header
   (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``) needs nothing: it comes from this
   machine. A request that a proxy on this machine forwarded does carry such a header,
   so it is treated like a remote one (fail closed, whether or not the server trusts
   the proxy's headers).
2. Anyone else needs ``AGENTFORGE_ADMIN_TOKEN``, given as ``Authorization: Bearer
   <token>`` (scripts), as ``?token=<token>`` once (a browser: the answer sets a
   cookie and redirects to the same page without the token in the address), or as
   that cookie. The cookie holds a value derived from the token, not the token
   itself, so it opens the dashboard but not the admin API.
3. With no admin token configured, only the local machine gets in (403 for others:
   no credential would help). A missing or wrong token is 401 with the reason.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from pydantic import SecretStr
from starlette.requests import Request

from bot.intake.access import client_is_loopback

COOKIE = "agentforge_dashboard"
"""Name of the cookie a browser keeps after opening the dashboard with ``?token=``."""
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
_COOKIE_CONTEXT = b"agentforge dashboard cookie v1"


@dataclass(frozen=True)
class Denied:
    """Why a request may not see the dashboard.

    Attributes:
        status: 401 (a token would help) or 403 (no token is configured).
        reason: What to do about it, shown to the client.
    """

    status: int
    reason: str


@dataclass(frozen=True)
class Granted:
    """The request may see the dashboard.

    Attributes:
        how: ``local``, ``bearer``, ``cookie`` or ``query``.
        set_cookie: The cookie value to set (only when the token came in the query).
    """

    how: str
    set_cookie: str | None = None


def cookie_value(token: SecretStr) -> str:
    """The dashboard cookie for ``token``: an HMAC of a fixed context, keyed by it."""
    key = token.get_secret_value().encode()
    return hmac.new(key, _COOKIE_CONTEXT, hashlib.sha256).hexdigest()


def is_local(request: Request) -> bool:
    """Whether the request comes straight from this machine (not through a proxy)."""
    host = request.client.host if request.client else None
    if not client_is_loopback(host):
        return False
    return not any(name in request.headers for name in _FORWARDING_HEADERS)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def check(request: Request, token: SecretStr | None) -> Granted | Denied:
    """Apply the module's rules to one request."""
    if is_local(request):
        return Granted("local")
    if token is None:
        return Denied(
            403,
            "the dashboard is open to this machine only; set AGENTFORGE_ADMIN_TOKEN "
            "to let other clients in with it",
        )
    secret = token.get_secret_value()
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if scheme:
        if scheme.lower() == "bearer" and _same(bearer.strip(), secret):
            return Granted("bearer")
        return Denied(401, "the Authorization header does not hold the admin token")
    query = request.query_params.get("token")
    if query is not None:
        if _same(query, secret):
            return Granted("query", set_cookie=cookie_value(token))
        return Denied(401, "the token in the address is not the admin token")
    cookie = request.cookies.get(COOKIE)
    if cookie is not None:
        if _same(cookie, cookie_value(token)):
            return Granted("cookie")
        return Denied(401, "the dashboard cookie is out of date; open the page with ?token=")
    return Denied(
        401,
        "the dashboard needs the admin token: send Authorization: Bearer <token>, "
        "or open the page once with ?token=<token>",
    )
