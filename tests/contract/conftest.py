"""The ``harness`` fixture: every contract test runs once per forge in ``HARNESSES``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.harness import ForgeHarness
from tests.contract.harnesses import HARNESSES


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ForgeHarness]:
    """A forge under test with a repository, released after the test."""
    made = HARNESSES[request.param](tmp_path, request)
    try:
        yield made
    finally:
        made.close()
