"""Fixtures for the model layer: strict wire fakes, config helpers, a sleep recorder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_wire import AnthropicWireFake
from tests.fakes.openai_wire import OpenAIWireFake


@pytest.fixture
def anthropic_fake() -> Iterator[AnthropicWireFake]:
    """An Anthropic-wire fake; any unexpected or unused request fails the test."""
    fake = AnthropicWireFake()
    try:
        yield fake
        fake.verify()
    finally:
        fake.close()


@pytest.fixture
def openai_fake() -> Iterator[OpenAIWireFake]:
    """An OpenAI-wire fake; any unexpected or unused request fails the test."""
    fake = OpenAIWireFake()
    try:
        yield fake
        fake.verify()
    finally:
        fake.close()


class SleepRecorder:
    """Stands in for time.sleep: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    """A sleep recorder for retry backoff."""
    return SleepRecorder()
