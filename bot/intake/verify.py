"""Webhook verification: is this delivery really from the forge we share a secret with?

Runs on the raw request bytes before anything is parsed or stored:

- GitHub: ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 of the body.
- GitLab: ``X-Gitlab-Token`` equal to a configured token, and/or a Standard Webhooks
  signature (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64>``
  over ``"{id}.{timestamp}.{body}"``, keyed with a ``whsec_<base64>`` signing token)
  whose timestamp is within a tolerance of now.

Every comparison is constant-time and every configured secret is tried (rotation). A
failure raises :class:`bot.errors.VerificationError` whose message says what was
missing or wrong, never the received or expected value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from bot.errors import SettingsError, VerificationError
from bot.settings import Settings

WEAK_SECRET_LENGTH = 24
"""Secrets shorter than this get a warning at start-up."""

SIGNING_PREFIX = "whsec_"


@dataclass(frozen=True)
class Verifier:
    """The secrets of every forge, and the checks that use them.

    Attributes:
        github_secrets: Active GitHub webhook secrets (bytes).
        gitlab_tokens: Active GitLab ``X-Gitlab-Token`` values (bytes).
        gitlab_signing_keys: Decoded GitLab signing keys (bytes).
        tolerance: Seconds a signed timestamp may differ from now.
        insecure: Accept unsigned deliveries for a forge with no secret (development).
        clock: Current Unix time, injectable for tests.
    """

    github_secrets: tuple[bytes, ...] = ()
    gitlab_tokens: tuple[bytes, ...] = ()
    gitlab_signing_keys: tuple[bytes, ...] = ()
    tolerance: int = 300
    insecure: bool = False
    clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier:
        """Build the verifier, decoding signing tokens.

        Raises:
            SettingsError: no secret at all and no insecure flag, or a signing token
                that is not ``whsec_<base64>``.
        """
        keys = tuple(
            _decode_signing_token(s.get_secret_value()) for s in settings.gitlab_signing_token
        )
        verifier = cls(
            github_secrets=_encoded(settings.github_webhook_secret),
            gitlab_tokens=_encoded(settings.gitlab_webhook_token),
            gitlab_signing_keys=keys,
            tolerance=settings.webhook_timestamp_tolerance,
            insecure=settings.insecure_no_webhook_secret,
        )
        nothing_set = not verifier.configured("github") and not verifier.configured("gitlab")
        if nothing_set and not verifier.insecure:
            raise SettingsError(
                "no webhook secret configured: set AGENTFORGE_GITHUB_WEBHOOK_SECRET, "
                "AGENTFORGE_GITLAB_WEBHOOK_TOKEN or AGENTFORGE_GITLAB_SIGNING_TOKEN "
                "(or AGENTFORGE_INSECURE_NO_WEBHOOK_SECRET=true for local development)",
                variable="AGENTFORGE_GITHUB_WEBHOOK_SECRET",
            )
        return verifier

    def configured(self, forge: str) -> bool:
        """Whether any secret is set for ``forge``."""
        if forge == "github":
            return bool(self.github_secrets)
        if forge == "gitlab":
            return bool(self.gitlab_tokens or self.gitlab_signing_keys)
        return False

    def warnings(self) -> list[str]:
        """Start-up warnings: weak secrets, forges that will refuse every delivery."""
        out = []
        for name, secrets in (
            ("AGENTFORGE_GITHUB_WEBHOOK_SECRET", self.github_secrets),
            ("AGENTFORGE_GITLAB_WEBHOOK_TOKEN", self.gitlab_tokens),
        ):
            for i, secret in enumerate(secrets):
                if len(secret) < WEAK_SECRET_LENGTH:
                    out.append(
                        f"{name} entry {i + 1} is shorter than {WEAK_SECRET_LENGTH} characters; "
                        "use a long random secret"
                    )
        for forge in ("github", "gitlab"):
            if not self.configured(forge):
                if self.insecure:
                    out.append(f"{forge} webhooks are accepted WITHOUT verification (insecure)")
                else:
                    out.append(f"{forge} webhooks will be refused: no secret configured")
        return out

    def verify(self, forge: str, headers: Mapping[str, str], body: bytes) -> str:
        """Check one delivery; returns how it was verified (``hmac``, ``token``...).

        Args:
            forge: ``github`` or ``gitlab``.
            headers: Request headers (case-insensitive mapping).
            body: The raw body exactly as received.

        Raises:
            VerificationError: missing or wrong signature/token, stale timestamp.
        """
        if not self.configured(forge):
            if self.insecure:
                return "insecure"
            raise VerificationError(f"{forge} webhooks are not configured on this server")
        if forge == "github":
            return self._github(headers, body)
        return self._gitlab(headers, body)

    def _github(self, headers: Mapping[str, str], body: bytes) -> str:
        header = headers.get("x-hub-signature-256")
        if not header:
            raise VerificationError("missing X-Hub-Signature-256 header")
        algo, _, received = header.partition("=")
        if algo != "sha256" or not received:
            raise VerificationError("X-Hub-Signature-256 is not of the form sha256=<hex>")
        received_b = received.strip().lower().encode("ascii", "replace")
        matched = False
        for secret in self.github_secrets:
            expected = hmac_sha256(secret, body).hex().encode()
            # Try every secret so timing does not reveal which one matched.
            matched |= hmac.compare_digest(expected, received_b)
        if not matched:
            raise VerificationError("X-Hub-Signature-256 does not match any configured secret")
        return "hmac"

    def _gitlab(self, headers: Mapping[str, str], body: bytes) -> str:
        signature = headers.get("webhook-signature")
        if self.gitlab_signing_keys and signature is not None:
            return self._standard_webhooks(headers, body, signature)
        token = headers.get("x-gitlab-token")
        if self.gitlab_tokens:
            if token is None:
                raise VerificationError("missing X-Gitlab-Token header")
            received = token.encode("utf-8", "replace")
            matched = False
            for expected in self.gitlab_tokens:
                matched |= hmac.compare_digest(expected, received)
            if not matched:
                raise VerificationError("X-Gitlab-Token does not match any configured token")
            return "token"
        raise VerificationError("missing webhook-signature header (a signing token is configured)")

    def _standard_webhooks(self, headers: Mapping[str, str], body: bytes, signature: str) -> str:
        msg_id = headers.get("webhook-id")
        stamp = headers.get("webhook-timestamp")
        if not msg_id or not stamp:
            raise VerificationError("webhook-signature without webhook-id and webhook-timestamp")
        try:
            sent_at = int(stamp)
        except ValueError:
            raise VerificationError("webhook-timestamp is not a Unix time in seconds") from None
        if abs(self.clock() - sent_at) > self.tolerance:
            raise VerificationError(
                f"webhook-timestamp is more than {self.tolerance}s from this server's clock"
            )
        signed = f"{msg_id}.{sent_at}.".encode() + body
        candidates = []
        for part in signature.split():
            version, _, value = part.partition(",")
            if version == "v1" and value:
                candidates.append(value.encode("ascii", "replace"))
        if not candidates:
            raise VerificationError("webhook-signature has no v1 signature")
        matched = False
        for key in self.gitlab_signing_keys:
            expected = base64.b64encode(hmac_sha256(key, signed))
            for value in candidates:
                matched |= hmac.compare_digest(expected, value)
        if not matched:
            raise VerificationError("webhook-signature does not match any configured signing token")
        return "signature"


_HMAC_CHUNK = 2047
"""Below hashlib's 2 KiB threshold for releasing the GIL (see :func:`hmac_sha256`)."""


_KEYED: dict[bytes, Any] = {}


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 of ``data``, computed without giving up the GIL.

    hashlib releases the GIL for inputs of 2 KiB and more. A webhook body is verified
    on the event loop thread, and getting the GIL back there waits for whichever thread
    took it (the journal writer): in profiles of bench/webhook_load.py the one-shot
    ``hmac.digest`` of a 12 KB body took ~140 us of the loop's time against ~15 us of
    hashing. Fed in smaller pieces, the hash never lets go.
    """
    keyed = _KEYED.get(key)
    if keyed is None:
        # The key's part of the HMAC, computed once per secret (a handful per server).
        keyed = _KEYED[key] = hmac.new(key, digestmod="sha256")
    mac = keyed.copy()
    view = memoryview(data)
    for start in range(0, len(view), _HMAC_CHUNK):
        mac.update(view[start : start + _HMAC_CHUNK])
    return mac.digest()


def _encoded(secrets: list[SecretStr]) -> tuple[bytes, ...]:
    return tuple(s.get_secret_value().encode() for s in secrets)


def _decode_signing_token(token: str) -> bytes:
    raw = token.removeprefix(SIGNING_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(
            "AGENTFORGE_GITLAB_SIGNING_TOKEN: expected whsec_<base64> as GitLab shows it",
            variable="AGENTFORGE_GITLAB_SIGNING_TOKEN",
        ) from None
    if not key:
        raise SettingsError(
            "AGENTFORGE_GITLAB_SIGNING_TOKEN: the signing key is empty",
            variable="AGENTFORGE_GITLAB_SIGNING_TOKEN",
        )
    return key


def sign_github(secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send (for tests and benchmarks)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def sign_standard_webhook(token: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value a Standard Webhooks sender would send."""
    key = _decode_signing_token(token)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
