"""Every real recorded payload parses to the values read by hand from the payload.

``expected_events.json`` holds, per fixture file, the fields a handler relies on
(kind, action, repository, actor, number, comment/title, head sha, review state,
pipeline status, labels...). The header to pair each file with is derived from its
name as SOURCES.md describes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.events import Event
from bot.parsers import parse_event
from tests.conftest import webhook_path

EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "expected_events.json").read_text(encoding="utf-8")
)
REQUIRED_KEYS = {"kind", "action", "repo", "actor", "number", "labels"}


def header_for(name: str) -> tuple[str, str]:
    """``github/issues.opened.json`` → ("github", "issues");
    ``gitlab/merge_request_hook.open.json`` → ("gitlab", "Merge Request Hook")."""
    forge, _, filename = name.partition("/")
    event = filename.split(".", 1)[0]
    if forge == "gitlab":
        event = " ".join(word.capitalize() for word in event.split("_"))
    return forge, event


def _field(event: Event, key: str) -> Any:
    if key == "repo":
        return event.repo.full_name
    if key == "repo_id":
        return event.repo.id
    if key == "actor":
        return event.actor.login
    if key == "actor_id":
        return event.actor.id
    if key == "actor_is_bot":
        return event.actor.is_bot
    if key == "review_state":
        return event.review_state.value if event.review_state else None
    if key == "kind":
        return event.kind.value
    return getattr(event, key)


def _parse(name: str, delivery_id: str | None = None) -> Event:
    forge, header = header_for(name)
    return parse_event(forge, header, webhook_path(name).read_bytes(), delivery_id)


def test_every_fixture_file_has_expectations(webhooks_dir: Path) -> None:
    on_disk = {
        f"{forge}/{path.name}"
        for forge in ("github", "gitlab")
        for path in (webhooks_dir / forge).glob("*.json")
    }
    assert on_disk, "no fixture files found"
    assert sorted(on_disk - EXPECTED.keys()) == [], "fixtures without expectations"
    assert sorted(EXPECTED.keys() - on_disk) == [], "expectations without fixtures"


def test_every_row_states_the_core_fields() -> None:
    incomplete = {name: REQUIRED_KEYS - row.keys() for name, row in EXPECTED.items()}
    assert {name: missing for name, missing in incomplete.items() if missing} == {}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_expected_fields(name: str) -> None:
    event = _parse(name, delivery_id="delivery-1")
    mismatches = {
        key: (want, _field(event, key))
        for key, want in EXPECTED[name].items()
        if _field(event, key) != want
    }
    assert mismatches == {}
    assert event.delivery_id == "delivery-1"
    assert event.forge.value == name.split("/")[0]
    assert event.raw == json.loads(webhook_path(name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_summary_is_plain_json(name: str) -> None:
    summary = _parse(name).summary()
    again = json.loads(json.dumps(summary))
    assert again == summary
    assert "raw" not in summary
    for key in ("forge", "kind", "action", "delivery_id", "number", "comment", "head_sha"):
        assert key in summary
    assert summary["repo"]["full_name"] == EXPECTED[name]["repo"]
    assert summary["actor"]["login"] == EXPECTED[name]["actor"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dedupe_fields_are_set_for_acted_on_events(name: str) -> None:
    event = _parse(name)
    if event.kind.value == "ignored":
        assert event.reason
    else:
        assert event.object_id, "object_id drives dedupe"
        assert event.reason is None


def test_ignored_fixtures_are_exactly_the_unhandled_ones() -> None:
    ignored = sorted(n for n, row in EXPECTED.items() if row["kind"] == "ignored")
    assert ignored == sorted(
        [f"github/{n}" for n in (p.name for p in webhook_path("github").glob("installation.*"))]
        + [
            "gitlab/note_hook.commit.docs.json",
            "gitlab/note_hook.snippet.docs.json",
            "gitlab/wiki_page_hook.create.docs.json",
        ]
    )
