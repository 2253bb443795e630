"""Hostile files: binary input is refused in one line (no traceback, no raw bytes), a column named twice
refuses the file naming the column, a JSON line naming a key twice is rejected with its reason."""
from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from graphfraud.errors import ValidationError
from loaders import load_file

from loader_factories import HEADER, make_rows, read_rejects, write_csv

ROOT = Path(__file__).resolve().parents[2]


def garbage(n: int = 200_000, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """The command as a terminal runs it: real stderr, the interpreter's own 'Exception ignored' messages."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRAPHFRAUD_STORE": str(cwd / "gf.db")}
    return subprocess.run([sys.executable, "-c", "from graphfraud.cli import main; main()", *args], cwd=cwd,
                          env=env, capture_output=True, timeout=120)


@pytest.mark.parametrize("name", ["garbage.csv", "garbage.csv.gz", "garbage.jsonl"], ids=["csv", "gzip", "jsonl"])
def test_loading_binary_garbage_says_one_line(tmp_path, name):
    data = garbage()
    (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    r = run_cli("load", name, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == b""
    lines = r.stderr.decode("utf-8").splitlines()
    kind = "JSON lines file" if name.endswith("jsonl") else "CSV"
    assert len(lines) == 1 and lines[0].startswith(f"Error: {name} is not a text {kind} (byte "), r.stderr[:500]
    assert all(32 <= b < 127 for b in r.stderr.strip()), "raw bytes of the file reached the terminal"


def test_the_byte_is_where_the_text_stops(tmp_path, store):
    head = (",".join(HEADER) + "\n").encode()
    good = head + b"".join(f"t{i},2026-01-02T10:00:00Z,u{i},1,,,\n".encode() for i in range(30_000))
    (tmp_path / "late.csv").write_bytes(good + b"t\xff\xfe,2026-01-02T10:00:00Z,u,1,,,\n")
    with pytest.raises(ValidationError) as e:
        load_file(tmp_path / "late.csv", store, progress=False)
    assert e.value.code == "not_text" and f"(byte {len(good) + 1})" in e.value.message
    # a character split across two reads of the stream is text, not an error
    text = head + "".join(f"t{i},2026-01-02T10:00:00Z,ü{i}é,1,,,\n" for i in range(60_000)).encode()
    (tmp_path / "utf8.csv").write_bytes(text)
    assert load_file(tmp_path / "utf8.csv", store, progress=False).inserted == 60_000


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_column_named_twice_refuses_the_file_naming_it(tmp_path, store, fmt):
    rows = make_rows(3)
    if fmt == "csv":
        path = tmp_path / "dup.csv"
        path.write_text("transaction_id,timestamp,user_id,amount,card_id,amount\n" +
                        "".join(f"{r['transaction_id']},{r['timestamp']},{r['user_id']},1,c,2\n" for r in rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "dup.parquet"
        cols = [pa.array([r[c] for r in rows]) for c in ("transaction_id", "timestamp", "user_id", "amount")]
        pq.write_table(pa.Table.from_arrays(cols + [pa.array(["2"] * 3)],
                                            names=["transaction_id", "timestamp", "user_id", "amount", "amount"]), path)
    with pytest.raises(ValidationError) as e:
        load_file(path, store, progress=False)
    assert e.value.code == "duplicate_column" and "'amount'" in e.value.message
    assert e.value.errors == ["'amount': column named more than once"]
    assert store.info()["transactions"] == 0


def test_a_json_line_naming_a_key_twice_is_rejected(tmp_path, store):
    good = [json.dumps(r) for r in make_rows(3)]
    twice = good[1][:-1] + ', "amount": "999"}'
    (tmp_path / "d.jsonl").write_text("\n".join([good[0], twice, good[2]]) + "\n")
    s = load_file(tmp_path / "d.jsonl", store, progress=False)
    assert (s.inserted, s.rejected) == (2, 1)
    rejects = read_rejects(s.rejects_path)
    assert rejects[0]["row"] == "2" and "names the key 'amount' more than once" in rejects[0]["reason"]


def test_a_json_line_with_nan_or_infinity_is_rejected_naming_the_field(tmp_path, store):
    # Python's json.dumps writes NaN and Infinity, which are not JSON: the row is refused, naming the field
    rows = make_rows(4)
    lines = [json.dumps(r) for r in rows]
    lines[1] = json.dumps({**rows[1], "amount": float("nan")})
    lines[2] = json.dumps({**rows[2], "amount": float("-inf")})
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    s = load_file(tmp_path / "d.jsonl", store, progress=False)
    assert (s.inserted, s.rejected) == (2, 2)
    rejects = read_rejects(s.rejects_path)
    assert [(r["row"], r["reason"].split(":")[0]) for r in rejects] == [
        ("2", "amount is NaN, which JSON does not have (write a number, or null for none)"),
        ("3", "amount is -Infinity, which JSON does not have (write a number, or null for none)")]
    assert store.get_transaction(str(rows[1]["transaction_id"])) is None


def test_a_json_line_with_a_lone_surrogate_is_rejected_and_the_others_load(tmp_path, store):
    # "\ud800" parses as JSON but is no character: the whole load stopped with a traceback
    rows = make_rows(3)
    lines = [json.dumps(r) for r in rows]
    lines[1] = json.dumps({**rows[1], "user_id": "\ud800"})
    lines[2] = json.dumps({**rows[2], "note": "\udc00x"})
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n")
    s = load_file(tmp_path / "s.jsonl", store, progress=False)
    assert (s.inserted, s.rejected) == (1, 2)
    assert [r["row"] for r in read_rejects(s.rejects_path)] == ["2", "3"]
    assert all("lone surrogate" in r["reason"] for r in read_rejects(s.rejects_path))


def test_empty_header_cells_are_still_named_by_position(tmp_path, store):
    path = write_csv(tmp_path / "e.csv", make_rows(2))
    text = path.read_text().splitlines()
    path.write_text("\n".join([text[0] + ",,", *(t + ",x,y" for t in text[1:])]) + "\n")
    s = load_file(path, store, progress=False)
    assert s.inserted == 2
    assert store.get_transaction("t1")["attributes"] == {f"column_{len(HEADER) + 1}": "x",
                                                        f"column_{len(HEADER) + 2}": "y"}
