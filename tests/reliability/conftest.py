"""Fixtures of the reliability suite."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    """About 2,000 generated transactions (300 users) as a canonical CSV."""
    from graphfraud.testing import make_transactions

    df, _ = make_transactions(300, seed=3)
    path = tmp_path / "small.csv"
    df.to_csv(path, index=False)
    return path
