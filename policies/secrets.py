"""Secret scanning: a push whose added lines hold a credential is refused.

The scanner is detect-secrets' plugins, run on the added lines in memory (no baseline
file, nothing written into the repository). A finding names the file, the line and the
kind of secret, never the secret itself.

The plugin set is tuned for code an agent writes (see docs/security.md):

- every vendor-format detector (AWS, GitHub, GitLab, OpenAI, Slack, Stripe, private key
  blocks, JWTs, basic-auth URLs, npm, PyPI, SendGrid, Twilio, Azure, Discord, ...);
- high-entropy base64 strings in quotes (limit 4.5 bits per character);
- not the hex high-entropy plugin (a git sha, a checksum and a hex key are the same
  shape, and code is full of shas) nor the keyword plugin (``password = "x"`` in
  tests), nor the public-IP one.

Filters (detect-secrets' heuristics): UUIDs, sequential strings, ``*_id = ...`` values,
templated values (``${VAR}``, ``{{ var }}``), indirect references (``get_secret(...)``),
non-alphanumeric strings; high-entropy matches in lock files (``uv.lock``,
``package-lock.json``, ``go.sum``...) are integrity hashes, not secrets. A line marked
``pragma: allowlist secret`` is skipped (detect-secrets' own convention, so a test
fixture with a fake key says so where a reviewer sees it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import Any

from bot.actions import Action, PushCommit
from policies.snapshot import ChangedFile, Snapshot
from policies.verdict import Verdict

NAME = "secret_scan"
MAX_LINE_CHARS = 4000
"""Longer lines are scanned in slices (minified files would make regexes crawl)."""

_REGEX_PLUGINS = (
    ("artifactory", "ArtifactoryDetector"),
    ("aws", "AWSKeyDetector"),
    ("azure_storage_key", "AzureStorageKeyDetector"),
    ("basic_auth", "BasicAuthDetector"),
    ("discord", "DiscordBotTokenDetector"),
    ("github_token", "GitHubTokenDetector"),
    ("gitlab_token", "GitLabTokenDetector"),
    ("jwt", "JwtTokenDetector"),
    ("mailchimp", "MailchimpDetector"),
    ("npm", "NpmDetector"),
    ("openai", "OpenAIDetector"),
    ("private_key", "PrivateKeyDetector"),
    ("pypi_token", "PypiTokenDetector"),
    ("sendgrid", "SendGridDetector"),
    ("slack", "SlackDetector"),
    ("square_oauth", "SquareOAuthDetector"),
    ("stripe", "StripeDetector"),
    ("telegram_token", "TelegramBotTokenDetector"),
    ("twilio", "TwilioKeyDetector"),
)
BASE64_LIMIT = 4.5
LOCK_FILES = frozenset(
    {
        "uv.lock",
        "pnpm-lock.yaml",
        "go.sum",
        "flake.lock",
        "pdm.lock",
        "mix.lock",
        "pubspec.lock",
        "gradle.lockfile",
        "conda-lock.yml",
    }
)
"""Lock files beyond detect-secrets' own list whose hashes look random."""


@dataclass(frozen=True)
class Finding:
    """One secret found in a proposed change (the secret itself is not kept).

    Attributes:
        path: The file.
        line: The line number in the new file.
        kind: What it looks like (``AWS Access Key``, ``Private Key``...).
    """

    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}"


@cache
def _plugins() -> tuple[Any, ...]:
    # Imported on first use: detect-secrets pulls in requests, which the CLI must not
    # load at start. Plugins are stateless after construction, so one set is shared.
    import importlib

    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString

    found: list[Any] = []
    for module, cls in _REGEX_PLUGINS:
        found.append(getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls)())
    found.append(Base64HighEntropyString(limit=BASE64_LIMIT))
    return tuple(found)


def _is_lock_file(path: str) -> bool:
    from detect_secrets.filters.heuristic import is_lock_file

    return is_lock_file(path) or PurePosixPath(path).name in LOCK_FILES


def _filtered(secret: str, line: str, plugin: Any, path: str) -> bool:
    from detect_secrets.filters import heuristic as h
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin

    entropy = isinstance(plugin, HighEntropyStringsPlugin)
    return (
        h.is_potential_uuid(secret)
        or h.is_sequential_string(secret)
        or h.is_likely_id_string(secret, line, plugin)
        or h.is_templated_secret(secret)
        or h.is_prefixed_with_dollar_sign(secret)
        or h.is_not_alphanumeric_string(secret)
        or (entropy and (h.is_indirect_reference(line) or _is_lock_file(path)))
    )


def _slices(line: str) -> Iterable[str]:
    if len(line) <= MAX_LINE_CHARS:
        yield line
        return
    # Overlapping slices, so a token across a boundary is still seen whole.
    step = MAX_LINE_CHARS - 200
    for start in range(0, len(line), step):
        yield line[start : start + MAX_LINE_CHARS]


def scan_file(changed: ChangedFile) -> list[Finding]:
    """Secrets in the added lines of one changed file, one finding per line and kind."""
    from detect_secrets.filters.allowlist import is_line_allowlisted
    from detect_secrets.filters.heuristic import is_non_text_file
    from detect_secrets.util.code_snippet import get_code_snippet

    if changed.deleted or not changed.added or is_non_text_file(changed.path):
        return []
    texts = [text for _, text in changed.added]
    findings: dict[tuple[int, str], Finding] = {}
    for index, (number, text) in enumerate(changed.added):
        context = get_code_snippet(texts, index + 1)
        if is_line_allowlisted(changed.path, text, context):
            continue
        for part in _slices(text.rstrip()):
            for plugin in _plugins():
                for found in plugin.analyze_line(
                    filename=changed.path, line=part, line_number=number
                ):
                    secret = found.secret_value or ""
                    if _filtered(secret, part, plugin, changed.path):
                        continue
                    key = (number, found.type)
                    findings.setdefault(key, Finding(changed.path, number, found.type))
    return sorted(findings.values(), key=lambda f: (f.line, f.kind))


def scan(diff: Iterable[ChangedFile]) -> list[Finding]:
    """Secrets in every changed file's added lines."""
    return [finding for changed in diff for finding in scan_file(changed)]


def secret_scan(action: Action, snap: Snapshot) -> Verdict:
    """Deny a push whose added lines contain a secret; name file, line and kind."""
    if not isinstance(action, PushCommit):
        return Verdict.skip(policy=NAME)
    if snap.config is not None and not snap.config.policies.secret_scan:
        return Verdict.skip("policies.secret_scan is off", NAME)
    findings = scan(snap.diff)
    if findings:
        listed = "; ".join(str(f) for f in findings[:20])
        more = f" (and {len(findings) - 20} more)" if len(findings) > 20 else ""
        return Verdict.deny(
            f"the change contains what looks like secrets: {listed}{more}. Remove them "
            "(or mark a fake one with 'pragma: allowlist secret')",
            NAME,
        )
    lines = sum(len(c.added) for c in snap.diff)
    return Verdict.allow(f"no secrets in {lines} added line(s)", NAME)
