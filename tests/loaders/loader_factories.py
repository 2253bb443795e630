"""Factories shared by the loader tests (imported by name: tests/loaders is on sys.path under pytest)."""
from __future__ import annotations

import csv
import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HEADER = ("transaction_id", "timestamp", "user_id", "amount", "card_id", "ip", "is_fraud")
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "aws-fraud-detector-samples"


def make_rows(n: int, start: int = 0, **overrides: Any) -> list[dict[str, str]]:
    """``n`` valid canonical rows with ids ``t<start>``...; keyword arguments override a column."""
    rows = []
    for i in range(start, start + n):
        r = {"transaction_id": f"t{i}", "timestamp": f"2026-01-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
             "user_id": f"u{i % 7}", "amount": f"{1 + i % 500}.25", "card_id": f"c{i % 11}",
             "ip": f"10.0.{i % 250}.{1 + i % 200}", "is_fraud": "1" if i % 13 == 0 else "0"}
        r.update(overrides)
        rows.append(r)
    return rows


def write_csv(path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] = HEADER, *,
              newline: str = "\n", bom: bool = False, gz: bool = False, quote_all: bool = False) -> Path:
    opener: Any = gzip.open if gz else open
    with opener(path, "wt", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(header), lineterminator=newline, extrasaction="ignore",
                           quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        w.writeheader()
        w.writerows(rows)
    return path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def accounted(s: Any) -> int:
    return s.inserted + s.duplicates + s.labelled + s.rejected + s.conflicts
