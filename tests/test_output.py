"""The one CSV writer: every CSV the product writes neutralises spreadsheet formulas (OWASP), unless --raw."""
from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from click.testing import CliRunner

from graphfraud.backtest import scores_file
from graphfraud.cli import main
from graphfraud.output import csv_writer, safe_cell

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+3+4", "@SUM(9)", "-2+3", "\tlead", "\rlead",
           "=cmd|' /C calc'!A0"]
TS = "2026-01-02T10:{:02d}:00Z"


@pytest.mark.parametrize(("cell", "shown"), [
    ("=1+1", "'=1+1"), ("+3+4", "'+3+4"), ("-2+3", "'-2+3"), ("@SUM(9)", "'@SUM(9)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("-5", "-5"), ("+1.5e3", "+1.5e3"), ("plain", "plain"), ("", ""), ("a=b", "a=b"),
    (-5, -5), (3.25, 3.25), (None, None),
], ids=["eq", "plus", "minus-formula", "at", "tab", "cr", "negative-number", "signed-number", "plain", "empty",
        "inner-eq", "int", "float", "none"])
def test_safe_cell(cell, shown):
    assert safe_cell(cell) == shown


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


def _formula_cells(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would evaluate: OWASP's starting characters, numbers excepted."""
    return [c for c in cells if safe_cell(c) != c]


def test_writer_neutralises_and_raw_keeps():
    buf = io.StringIO()
    csv_writer(buf).writerow(HOSTILE)
    assert _formula_cells(_cells(buf.getvalue())) == []
    raw = io.StringIO()
    csv_writer(raw, raw=True).writerow(HOSTILE)
    assert _cells(raw.getvalue()) == HOSTILE


@pytest.fixture
def hostile_file(tmp_path):
    ids = [h for h in HOSTILE if not h[0].isspace()]  # ids are trimmed at ingest
    rows = [{"transaction_id": tid, "timestamp": TS.format(i), "user_id": f"=u{i % 2}|' /C calc'!A0",
             "amount": "5", "card_id": "CSHARED", "device_id": "DSHARED"} for i, tid in enumerate(ids)]
    rows += [{"transaction_id": f"x{i}", "timestamp": TS.format(20 + i), "user_id": f"=u{i}|' /C calc'!A0",
              "amount": "5", "card_id": "CSHARED", "device_id": "DSHARED"} for i in range(2, 5)]
    path = tmp_path / "in.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_score_out_neutralises_ids_and_raw_keeps_them_joinable(tmp_path, hostile_file, monkeypatch):
    monkeypatch.setenv("GRAPHFRAUD_STORE", str(tmp_path / "s.db"))
    runner = CliRunner()
    out = tmp_path / "scores.csv"
    r = runner.invoke(main, ["score", str(hostile_file), "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert _formula_cells(_cells(text)) == []
    assert "'=HYPERLINK(" in text and "'+3+4" in text and "'@SUM(9)" in text
    raw = tmp_path / "raw.csv"
    assert runner.invoke(main, ["score", str(hostile_file), "--out", str(raw), "--raw"]).exit_code == 0
    ids = [row["transaction_id"] for row in csv.DictReader(io.StringIO(raw.read_text(encoding="utf-8"), newline=""))]
    assert {h for h in HOSTILE if not h[0].isspace()} <= set(ids)


def test_rings_csv_neutralises_user_ids(tmp_path, hostile_file, monkeypatch):
    monkeypatch.setenv("GRAPHFRAUD_STORE", str(tmp_path / "s.db"))
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(hostile_file), "--rejects", str(tmp_path / "rj.csv")]).exit_code == 0
    r = runner.invoke(main, ["rings", "--format", "csv", "--min-size", "2"])
    assert r.exit_code == 0, r.output
    cells = _cells(r.stdout)
    assert any(c.startswith("'=u") for c in cells), r.output
    assert _formula_cells(cells) == []
    raw = runner.invoke(main, ["rings", "--format", "csv", "--min-size", "2", "--raw"]).stdout
    assert any(c.startswith("=u") for c in _cells(raw))


def test_backtest_scores_neutralise_ids(tmp_path):
    path = tmp_path / "bt.csv"
    with scores_file(str(path), raw=False) as out:
        for tid in ["=1+1", "@x", "ok"]:
            out.writerow([tid, "0.500000", "review", "-card =C1 shared", ""])
    cells = _cells(path.read_text(encoding="utf-8"))
    assert _formula_cells(cells) == [] and "'=1+1" in cells and "'-card =C1 shared" in cells


def test_backtest_scores_file_is_whole_or_untouched(tmp_path):
    path = tmp_path / "bt.csv"
    path.write_text("the previous run's scores\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with scores_file(str(path), raw=False) as out:
            out.writerow(["t1", "0.1", "allow", "", ""])
            raise RuntimeError("the backtest failed half way")
    assert path.read_text(encoding="utf-8") == "the previous run's scores\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bt.csv"]  # no part file left


def test_rejects_file_neutralises_the_input_cells(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHFRAUD_STORE", str(tmp_path / "s.db"))
    src = tmp_path / "bad.csv"
    src.write_text("transaction_id,timestamp,user_id,amount,note\n"
                   "=HYPERLINK(1),notatime,@u,-5,+SUM(1)\n", encoding="utf-8")
    rejects = tmp_path / "rj.csv"
    res = CliRunner().invoke(main, ["load", str(src), "--rejects", str(rejects)])
    assert res.exit_code == 1 and "every one of the 1 rows was rejected" in res.stderr  # and reported
    cells = _cells(rejects.read_text(encoding="utf-8"))
    assert _formula_cells(cells) == []
    assert {"'=HYPERLINK(1)", "'@u", "-5", "'+SUM(1)"} <= set(cells)
