"""GitHub credentials: a personal access token, or a GitHub App installation token.

An App authenticates with a JWT signed by its private key and trades it for an
installation token that lives about an hour; :class:`TokenSource` mints one on first
use and again ``margin`` seconds before it expires (or at once, when GitHub rejects it
early). github3.py does the JWT and the exchange on the session the adapter sends its
requests through, so the new token is used by every later request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import github3
import github3.apps
import jwt
import requests

from bot.errors import AuthenticationError, SettingsError
from bot.forges.resilience import error_for_status, transport_error

FORGE = "github"


@dataclass(frozen=True)
class AppCredentials:
    """What a GitHub App installation logs in with."""

    key: bytes
    app_id: str
    installation_id: int


def credentials(
    token: str | None,
    app_id: str | None,
    private_key: bytes | str | None,
    installation_id: int | None,
) -> AppCredentials | None:
    """The App credentials when all three are given, else None (a token must be given).

    Raises:
        SettingsError: neither a token nor a complete App configuration was given.
    """
    if app_id and private_key and installation_id:
        key = private_key.encode() if isinstance(private_key, str) else private_key
        # PyJWT 2.10+ insists on a string "iss": github3.py passes what it is given.
        return AppCredentials(key, str(app_id), int(installation_id))
    if not token:
        raise SettingsError(
            "github: set AGENTFORGE_GITHUB_TOKEN, or AGENTFORGE_GITHUB_APP_ID with "
            "AGENTFORGE_GITHUB_APP_PRIVATE_KEY(_PATH) and "
            "AGENTFORGE_GITHUB_APP_INSTALLATION_ID",
            variable="AGENTFORGE_GITHUB_TOKEN",
        )
    return None


def private_key_from_settings(settings: Any) -> bytes | str | None:
    """The App private key from settings: the PEM text, or the file it names.

    Raises:
        SettingsError: the key file cannot be read.
    """
    if settings.github_app_private_key is not None:
        return settings.github_app_private_key.get_secret_value()
    path = settings.github_app_private_key_path
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(
            f"AGENTFORGE_GITHUB_APP_PRIVATE_KEY_PATH: cannot read {path}: {exc.strerror}",
            variable="AGENTFORGE_GITHUB_APP_PRIVATE_KEY_PATH",
        ) from exc


class TokenSource:
    """The token a github3.py session sends, refreshed when it is an App's.

    Args:
        gh: The github3.py client whose session carries the token.
        token: A personal access token (unused when ``app`` is given).
        app: App installation credentials, or None for a token.
        clock: Epoch seconds; tests advance it to force a refresh.
        margin: Refresh this many seconds before the installation token expires.
    """

    def __init__(
        self,
        gh: github3.GitHub,
        *,
        token: str | None,
        app: AppCredentials | None,
        clock: Callable[[], float] = time.time,
        margin: float = 300.0,
    ) -> None:
        self._gh = gh
        self._app = app
        self._clock = clock
        self._margin = margin
        self._token = token or ""
        self._expires_at: float | None = None

    @property
    def uses_app(self) -> bool:
        """Whether the token is an App installation's."""
        return self._app is not None

    def ensure(self, *, force: bool = False) -> None:
        """Mint an installation token if there is none, it is near expiry, or ``force``.

        Raises:
            AuthenticationError: the App key or id was rejected, or the key is unusable.
            NotFound: no such installation.
            Unavailable: GitHub could not be reached.
        """
        if self._app is None:
            return
        fresh = self._expires_at is not None and self._clock() < self._expires_at - self._margin
        if fresh and not force:
            return
        app = self._app
        operation = f"creating an installation token for app {app.app_id}"
        try:
            self._gh.login_as_app_installation(app.key, app.app_id, app.installation_id)
        except github3.exceptions.GitHubError as exc:
            resp = exc.response
            raise error_for_status(
                exc.code or 0,
                forge=FORGE,
                operation=operation,
                headers=dict(resp.headers) if resp is not None else {},
                detail=str(exc.msg or ""),
            ) from None
        except requests.RequestException as exc:
            raise transport_error(exc, forge=FORGE, operation=operation) from exc
        except (ValueError, TypeError, jwt.PyJWTError) as exc:  # a malformed PEM key
            raise AuthenticationError(
                f"{operation} on github: the App private key cannot be used ({exc})",
                forge=FORGE,
                operation=operation,
            ) from None
        auth = self._gh.session.auth
        self._token = auth.token
        # Expiry is measured on our clock: the forge's lifetime, from now.
        lifetime = auth.expires_at.timestamp() - time.time()
        self._expires_at = self._clock() + lifetime

    def current(self) -> str:
        """The token to send now (an installation token is refreshed first)."""
        self.ensure()
        return self._token

    def app_jwt_headers(self) -> dict[str, str]:
        """Headers that authenticate as the App itself (a JWT), for ``GET /app``.

        Raises:
            AuthenticationError: no App is configured, or its key cannot sign.
        """
        operation = "signing a JWT for the GitHub App"
        if self._app is None:
            raise AuthenticationError(
                f"{operation}: the adapter uses a token, not a GitHub App",
                forge=FORGE,
                operation=operation,
            )
        try:
            return github3.apps.create_jwt_headers(self._app.key, self._app.app_id)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:  # a malformed PEM key
            raise AuthenticationError(
                f"{operation} on github: the App private key cannot be used ({exc})",
                forge=FORGE,
                operation=operation,
            ) from None
