"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def shared_data_root() -> Path | None:
    """``$MULTI3EDGE_DATA`` if set, else ``../shared/data`` beside the repository, if it exists."""
    env = os.environ.get("MULTI3EDGE_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture
def shared_data() -> Path:
    """Root of the shared real datasets; skips the test with a reason when absent."""
    root = shared_data_root()
    if root is None:
        pytest.skip("../shared/data not present (a fresh clone has no shared datasets)")
    return root


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
