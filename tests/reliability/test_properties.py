"""Property tests for the loaders: any CSV or JSON-lines content either loads or is rejected with a reason;
the counts add up; nothing is half-written.

Reproduce: ``.venv/bin/python -m pytest tests/reliability/test_properties.py -q``
"""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphfraud.errors import GraphFraudError
from graphfraud.storage import open_store
from loaders import load_file

text = st.text(st.characters(min_codepoint=1, max_codepoint=0x10FF, exclude_categories=("Cs",)), max_size=12)
ids = st.one_of(st.sampled_from(["t1", "t2", "t3", "T-4", " t1 ", "007", "7"]), text)
stamps = st.one_of(st.sampled_from(["2026-01-02T10:00:00Z", "2026-01-02 10:00:00", "2026-02-30T00:00:00",
                                    "1969-01-01", "2026-01-02T10:00:00+05:30", "", "yesterday"]), text)
amounts = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(["1", "-1", "1e13",
                                                                                            "", " 2.5 ", "NaN"]), text)
flags = st.sampled_from(["", "0", "1", "true", "2", "x"])
row = st.fixed_dictionaries({"transaction_id": ids, "timestamp": stamps, "user_id": ids, "amount": amounts},
                            optional={"card_id": text, "ip": st.sampled_from(["10.0.0.1", "::1", "010.0.0.1", "x"]),
                                      "currency": st.sampled_from(["USD", "usd", "XXX", ""]), "is_fraud": flags,
                                      "note": text})
COLUMNS = ["transaction_id", "timestamp", "user_id", "amount", "card_id", "ip", "currency", "is_fraud", "note"]


def _check(path: Path, n_rows: int, folder: Path) -> None:
    store = open_store(str(folder / "p.db"))
    try:
        try:
            s = load_file(path, store, progress=False, rejects_path=folder / "rejects.csv", chunk_size=1000)
        except GraphFraudError as e:  # refused as a whole (no usable header): with a reason, nothing written
            assert str(e) and store.info()["transactions"] == 0
            return
        # every row is accounted for exactly once
        assert s.inserted + s.duplicates + s.labelled + s.rejected + s.conflicts == s.rows_read
        assert s.rows_read <= n_rows
        assert store.info()["transactions"] == s.inserted
        rejects = []
        if s.rejected or s.conflicts:
            with open(folder / "rejects.csv", newline="", encoding="utf-8") as f:
                rejects = list(csv.DictReader(f))
        assert len(rejects) == s.rejected + s.conflicts
        assert all(r["reason"].strip() for r in rejects)
        # nothing half-written: each stored transaction is whole, and its links are folded
        con = store._con()
        assert con.execute("SELECT COUNT(*) FROM tx WHERE user_id IS NULL OR ts IS NULL OR amount IS NULL"
                           ).fetchone()[0] == 0
        assert store.get_meta("links_seq") == str(store.last_seq())
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # loading the same file again adds nothing
        again = load_file(path, store, progress=False, rejects_path=folder / "rejects2.csv", chunk_size=1000)
        assert again.inserted == 0 and store.info()["transactions"] == s.inserted
    finally:
        store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, max_size=25), drop=st.sets(st.sampled_from(COLUMNS), max_size=2))
def test_any_csv_loads_or_is_rejected_with_a_reason(rows: list[dict[str, str]], drop: set[str]) -> None:
    cols = [c for c in COLUMNS if c not in drop]
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        path = folder / "in.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in rows:
                w.writerow([r.get(c, "") for c in cols])
        _check(path, len(rows), folder)


json_value = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), text,
                       st.lists(st.integers(), max_size=2), st.dictionaries(text, st.integers(), max_size=2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(st.one_of(row, st.dictionaries(st.sampled_from(COLUMNS), json_value)), max_size=20),
       garbage=st.lists(st.sampled_from(["{", "[]", "42", "not json", '{"a": 1']), max_size=2))
def test_any_jsonl_loads_or_is_rejected_with_a_reason(records: list[dict], garbage: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        path = folder / "in.jsonl"
        lines = [json.dumps(r) for r in records] + garbage
        path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        _check(path, len(lines), folder)
