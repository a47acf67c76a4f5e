"""docs/troubleshooting.md quotes messages the code really produces.

Each entry of the page carries a stable id (``<a id="ts-...">``). The table below maps
each id to a distinctive literal part of its message: it must occur both in the entry's
text and in the sources, so a message that is reworded or removed fails here instead of
leaving a page that describes an error nobody sees any more. An entry added to the page
without a row here fails too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"
SOURCES = ("bot", "handlers", "agents", "policies", "deploy", "action")

MESSAGES: dict[str, str] = {
    "ts-no-webhook-secret": "no webhook secret configured: set AGENTFORGE_GITHUB_WEBHOOK_SECRET",
    "ts-invalid-settings": "invalid settings: ",
    "ts-settings-file": "cannot read settings file",
    "ts-signing-token": "expected whsec_<base64> as GitLab shows it",
    "ts-data-dir-locked": "DuckDB allows one writer",
    "ts-forge-not-configured": "webhooks are not configured on this server",
    "ts-github-signature-missing": "missing X-Hub-Signature-256 header",
    "ts-github-signature-mismatch": "X-Hub-Signature-256 does not match any configured secret",
    "ts-gitlab-token": "X-Gitlab-Token does not match any configured token",
    "ts-gitlab-signature": "webhook-signature does not match any configured signing token",
    "ts-gitlab-clock": "s from this server's clock",
    "ts-missing-header": "missing X-GitHub-Delivery header",
    "ts-bad-json": "payload is not valid JSON: ",
    "ts-too-large": "-byte limit",
    "ts-content-type": "expected Content-Type application/json (set the webhook's content type",
    "ts-not-allowlisted": "is not in the allowlist",
    "ts-queue-unwritable": "the job queue cannot be written: ",
    "ts-config-invalid": "problem(s) in .agentforge/ config:",
    "ts-not-approver": "only approvers may `/approve` this phase: ",
    "ts-no-provider": "no model provider is usable for role ",
    "ts-all-routes-failed": "failed after retries: ",
    "ts-privacy": "and may only use a local model, but role ",
    "ts-budget": "**Budget reached — the run stopped before the next model call.**",
    "ts-context-too-long": ": the prompt is too long: ",
    "ts-forge-401": "the token was rejected (missing, wrong or expired)",
    "ts-forge-403": "the token lacks a scope or permission",
    "ts-forge-404": "not found (or not visible to this token)",
    "ts-forge-5xx": ": the forge answered ",
    "ts-doctor-no-forge": "no forge is configured: set AGENTFORGE_GITHUB_TOKEN",
    "ts-doctor-findings": "credentials rejected: ",
    "ts-readonly-busy": "; stop it first (`agentforge ",
    "ts-jobs-no-answer": "did not answer (",
    "ts-no-records": "(nothing has run with this data dir)",
    "ts-index-busy": ": another process is writing ",
    "ts-audit-broken": "audit log BROKEN",
    "ts-ci-unknown": "cannot tell which CI this is: pass --forge",
    "ts-ci-install": "AGENTFORGE_INSTALL is not set and the image has no agentforge",
    "ts-admin-403": "admin API is loopback-only unless AGENTFORGE_ADMIN_TOKEN is set",
    "ts-admin-401": "admin API needs Authorization: Bearer <admin token>",
    "ts-dashboard-auth": "the dashboard is open to this machine only; set AGENTFORGE_ADMIN_TOKEN",
}

_ENTRY = re.compile(r'^#+ <a id="(ts-[a-z0-9-]+)"></a>', re.MULTILINE)


def _entries() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    marks = list(_ENTRY.finditer(text))
    out: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        # An entry ends at the next heading of any level.
        following = re.search(r"^#", text[mark.end() : end], re.MULTILINE)
        stop = mark.end() + following.start() if following else end
        assert mark.group(1) not in out, f"id {mark.group(1)} is used twice"
        out[mark.group(1)] = text[mark.start() : stop]
    return out


def _sources() -> str:
    parts = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix in {".py", ".yml", ".yaml", ".sh"} and path.is_file():
                parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def test_every_entry_has_a_message_row_and_every_row_an_entry() -> None:
    entries = _entries()
    assert set(entries) == set(MESSAGES), {
        "entries without a row": sorted(set(entries) - set(MESSAGES)),
        "rows without an entry": sorted(set(MESSAGES) - set(entries)),
    }


@pytest.fixture(scope="module")
def sources() -> str:
    return _sources()


@pytest.mark.parametrize("entry_id", sorted(MESSAGES))
def test_quoted_message_occurs_in_the_entry_and_in_the_code(entry_id: str, sources: str) -> None:
    fragment = MESSAGES[entry_id]
    entry = _entries()[entry_id]
    quoted = "\n".join(line for line in entry.splitlines() if line.startswith(">"))
    assert fragment in quoted, f"{entry_id}: the quoted message lacks {fragment!r}"
    assert fragment in sources, (
        f"{entry_id}: {fragment!r} no longer occurs in {', '.join(SOURCES)}; "
        "update docs/troubleshooting.md to the message the code produces now"
    )
