"""load_file on CSV: counts, rejects, row numbers and the awkward files real sources produce."""
from __future__ import annotations

import io
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from graphfraud.errors import ValidationError
from graphfraud.progress import reporting
from loaders import load_file

from loader_factories import HEADER, accounted, make_rows, read_rejects, write_csv


def test_good_file_is_stored_exactly(tmp_path, store):
    path = write_csv(tmp_path / "tx.csv", make_rows(50))
    s = load_file(path, store, progress=False)
    assert (s.rows_read, s.inserted, s.rejected, s.rejects_path) == (50, 50, 0, None)
    assert store.info()["transactions"] == 50
    tx = store.get_transaction("t3")
    assert (tx["user_id"], tx["amount"], tx["card_id"], tx["timestamp"]) == ("u3", 4.25, "c3", "2026-01-04T10:03:00Z")
    assert not (tmp_path / "tx.rejects.csv").exists()


def test_links_left_unfolded_are_folded_by_their_first_reader(tmp_path, store):
    path = write_csv(tmp_path / "tx.csv", make_rows(50))
    load_file(path, store, progress=False, fold_links=False)
    assert store.get_meta("links_seq") == "0"  # nothing folded yet
    users = {r["user_id"] for r in store.neighbours("card", "c3", 100)}
    assert users == {f"u{i % 7}" for i in range(50) if i % 11 == 3}
    assert int(store.links_frame()["n"].sum()) == sum(1 for r in make_rows(50) for c in ("card_id", "device_id",
                                                                                       "ip", "merchant_id") if r.get(c))


def test_empty_file_is_a_clear_error(tmp_path, store):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValidationError) as e:
        load_file(tmp_path / "empty.csv", store, progress=False)
    assert e.value.code == "empty_file" and "empty" in str(e.value)
    assert store.info()["transactions"] == 0


def test_header_only_loads_nothing(tmp_path, store):
    s = load_file(write_csv(tmp_path / "h.csv", []), store, progress=False)
    assert (s.rows_read, s.inserted, s.rejected, s.rejects_path) == (0, 0, 0, None)


def test_header_only_still_checks_required_columns(tmp_path, store):
    with pytest.raises(ValidationError) as e:
        load_file(write_csv(tmp_path / "h.csv", [], header=("transaction_id", "timestamp", "user_id")), store,
                  progress=False)
    assert e.value.code == "missing_column" and "amount" in str(e.value)


def test_missing_column_fails_before_anything_is_written(tmp_path, store):
    path = write_csv(tmp_path / "tx.csv", make_rows(30), header=[c for c in HEADER if c != "user_id"])
    with pytest.raises(ValidationError) as e:
        load_file(path, store, chunk_size=10, progress=False)
    assert e.value.code == "missing_column"
    assert "user_id" in str(e.value) and "\n" not in str(e.value)
    assert store.info()["transactions"] == 0
    assert not (tmp_path / "tx.rejects.csv").exists()


def test_bom_and_crlf(tmp_path, store):
    path = write_csv(tmp_path / "bom.csv", make_rows(5), newline="\r\n", bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbftransaction_id")
    s = load_file(path, store, progress=False)
    assert s.inserted == 5
    assert store.get_transaction("t4")["is_fraud"] == 0  # last column not polluted by \r


def test_quoted_commas_and_newlines_stay_in_their_field(tmp_path, store):
    rows = make_rows(3)
    rows[1]["note"] = 'first, second\r\n"third" line'
    path = write_csv(tmp_path / "q.csv", rows, header=(*HEADER, "note"))
    s = load_file(path, store, progress=False)
    assert s.inserted == 3 and s.rows_read == 3
    assert store.get_transaction("t1")["attributes"]["note"] == 'first, second\r\n"third" line'


def test_text_ids_keep_leading_zeros_and_unicode(tmp_path, store):
    rows = make_rows(2)
    rows[0].update(transaction_id="007", user_id="Zoë-用户-🙂")
    path = write_csv(tmp_path / "u.csv", rows)
    assert load_file(path, store, progress=False).inserted == 2
    assert store.get_transaction("007")["user_id"] == "Zoë-用户-🙂"
    assert store.get_transaction("7") is None


def test_very_long_ids(tmp_path, store):
    rows = make_rows(2)
    rows[0]["transaction_id"] = "x" * 256
    rows[1]["transaction_id"] = "y" * 5000
    s = load_file(write_csv(tmp_path / "l.csv", rows), store, progress=False)
    assert (s.inserted, s.rejected) == (1, 1)
    rej = read_rejects(s.rejects_path)
    assert rej[0]["row"] == "2" and "5000 characters" in rej[0]["reason"]
    assert rej[0]["transaction_id"] == "y" * 5000  # the original field is kept


def test_bad_rows_are_rejected_with_reasons_and_numbers_across_chunks(tmp_path, store):
    rows = make_rows(20)
    rows[1]["amount"] = "abc"
    rows[4]["amount"] = "-5"
    rows[7]["timestamp"] = "notatime"
    rows[10]["user_id"] = ""
    rows[13]["amount"] = "12 EUR"
    rows[19]["timestamp"] = "2026-02-30T10:00:00Z"
    s = load_file(write_csv(tmp_path / "bad.csv", rows), store, chunk_size=3, progress=False)
    assert (s.rows_read, s.inserted, s.rejected) == (20, 14, 6)
    rej = {r["row"]: r for r in read_rejects(s.rejects_path)}
    assert sorted(rej, key=int) == ["2", "5", "8", "11", "14", "20"]
    assert "not a number" in rej["2"]["reason"] and rej["2"]["transaction_id"] == "t1"
    assert "negative" in rej["5"]["reason"]
    assert "timestamp" in rej["8"]["reason"] and rej["8"]["timestamp"] == "notatime"
    assert "user_id is required" in rej["11"]["reason"]
    assert "timestamp" in rej["20"]["reason"]
    assert accounted(s) == s.rows_read


def test_mixed_time_zones_are_read_to_the_same_instant(tmp_path, store):
    rows = make_rows(4)
    for r, ts in zip(rows, ["2026-01-02T10:00:00Z", "2026-01-02T12:00:00+02:00", "2026-01-02 10:00:00",
                            "2026-01-02T05:00:00-0500"]):
        r["timestamp"] = ts
    s = load_file(write_csv(tmp_path / "tz.csv", rows), store, progress=False)
    assert s.inserted == 4
    assert {store.get_transaction(f"t{i}")["timestamp"] for i in range(4)} == {"2026-01-02T10:00:00Z"}


def test_duplicates_within_a_file_and_across_loads(tmp_path, store):
    rows = make_rows(10) + make_rows(3)  # the first three again
    path = write_csv(tmp_path / "d.csv", rows)
    first = load_file(path, store, chunk_size=4, progress=False)
    assert (first.inserted, first.duplicates) == (10, 3)
    second = load_file(path, store, chunk_size=4, progress=False)
    assert (second.inserted, second.duplicates, second.conflicts) == (0, 13, 0)
    assert store.info()["transactions"] == 10


def _tx_indexes(store):
    con = sqlite3.connect(store.location)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='tx'")}
    finally:
        con.close()


def test_a_first_load_ends_with_every_index_of_the_store(tmp_path, store, monkeypatch):
    seen = []  # the indexes while the first load writes: the user index is built once at the end
    write = type(store).write_transactions
    monkeypatch.setattr(type(store), "write_transactions", lambda st, frame: (seen.append(_tx_indexes(st)),
                                                                             write(st, frame))[1])
    rows = make_rows(10) + make_rows(3)
    first = load_file(write_csv(tmp_path / "d.csv", rows), store, chunk_size=4, progress=False)
    assert (first.inserted, first.duplicates) == (10, 3)
    assert seen and all(s == {"tx_id"} for s in seen)
    assert _tx_indexes(store) == {"tx_id", "tx_user", "tx_counterparty"}
    seen.clear()
    load_file(write_csv(tmp_path / "e.csv", make_rows(12)), store, chunk_size=4, progress=False)
    assert seen and all(s == {"tx_id", "tx_user", "tx_counterparty"} for s in seen)  # not a first load


def test_same_id_other_content_is_a_conflict_in_the_rejects(tmp_path, store):
    load_file(write_csv(tmp_path / "a.csv", make_rows(3)), store, progress=False)
    changed = make_rows(3)
    changed[2]["amount"] = "999"
    s = load_file(write_csv(tmp_path / "b.csv", changed), store, progress=False)
    assert (s.duplicates, s.conflicts) == (2, 1) and accounted(s) == 3
    rej = read_rejects(s.rejects_path)
    assert rej[0]["row"] == "3" and "conflict" in rej[0]["reason"] and rej[0]["amount"] == "999"


def test_label_arriving_later_is_added(tmp_path, store):
    load_file(write_csv(tmp_path / "a.csv", make_rows(2, is_fraud="")), store, progress=False)
    s = load_file(write_csv(tmp_path / "b.csv", make_rows(2, is_fraud="1")), store, progress=False)
    assert (s.labelled, s.duplicates) == (2, 0)


def test_ragged_records_are_rejected_not_fatal(tmp_path, store):
    path = tmp_path / "r.csv"
    good = make_rows(3)
    lines = [",".join(HEADER)] + [",".join(r[c] for c in HEADER) for r in good]
    lines.insert(2, "t9,2026-01-01,u1")  # too few fields
    lines.insert(4, "t8,2026-01-01,u1,1,c,10.0.0.1,0,extra")  # too many
    path.write_text("\n".join(lines) + "\n")
    s = load_file(path, store, progress=False)
    assert (s.rows_read, s.inserted, s.rejected) == (5, 3, 2)
    reasons = [r["reason"] for r in read_rejects(s.rejects_path)]
    assert any("3 fields" in r and "t9" in r for r in reasons) and any("8 fields" in r for r in reasons)


@pytest.mark.parametrize("gz", [False, True])
def test_ragged_records_and_the_rows_after_them_keep_their_numbers(tmp_path, store, gz):
    # pyarrow skips a ragged record without saying where it was: the rows after it were numbered one short
    rows = make_rows(12)
    rows[9]["amount"] = "abc"  # record 12 once the two ragged records below are counted
    lines = [",".join(HEADER)] + [",".join(r[c] for c in HEADER) for r in rows]
    lines.insert(3, "t90,2026-01-01,u1")  # record 3
    lines.insert(8, "t91,2026-01-01,u1,1,c,10.0.0.1,0,extra")  # record 8
    lines.insert(9, "")  # a blank line is no record
    text = "\n".join(lines) + "\n"
    path = tmp_path / ("r.csv.gz" if gz else "r.csv")
    if gz:
        import gzip

        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    s = load_file(path, store, chunk_size=4, progress=False)
    assert (s.rows_read, s.inserted, s.rejected) == (14, 11, 3)
    rej = {r["row"]: r["reason"] for r in read_rejects(s.rejects_path)}
    assert sorted(rej, key=int) == ["3", "8", "12"]
    assert "t90" in rej["3"] and "extra" in rej["8"] and "not a number" in rej["12"]


def test_a_quote_never_closed_refuses_the_file_naming_its_line(tmp_path, store):
    # the parser took the rest of the file as one value: "4 rows read, 4 inserted" and six rows gone
    lines = [",".join(HEADER) + ",note"] + [",".join(r[c] for c in HEADER) + ",ok" for r in make_rows(10)]
    lines[4] = lines[4].rsplit(",", 1)[0] + ',"27"" monitor'  # its last field opens a quote, never closed
    (tmp_path / "q.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationError, match="line 5 opens a quoted value that is never closed"):
        load_file(tmp_path / "q.csv", store, chunk_size=3, progress=False)
    # the chunk holding the broken record is not stored (chunks before it are, as when a load stops)
    assert store.info()["transactions"] == 3 and store.get_transaction("t3") is None
    # fixed: a last value over several lines whose quote closes is a value like any other
    lines[4] = lines[4].rsplit(",", 1)[0] + ',"27"" monitor\nand stand"'
    (tmp_path / "q.csv").write_text("\n".join(lines) + "\n")
    s = load_file(tmp_path / "q.csv", store, chunk_size=3, progress=False)
    assert (s.inserted, s.duplicates) == (7, 3)
    assert store.get_transaction("t3")["attributes"] == {"note": '27" monitor\nand stand'}


def test_rejects_path_default_and_explicit(tmp_path, store):
    rows = make_rows(3)
    rows[0]["amount"] = "x"
    s = load_file(write_csv(tmp_path / "in.csv.gz", rows, gz=True), store, progress=False)
    assert s.rejects_path == tmp_path / "in.rejects.csv"
    (tmp_path / "out").mkdir()
    s2 = load_file(write_csv(tmp_path / "in2.csv", rows), store, progress=False,
                   rejects_path=tmp_path / "out" / "mine.csv")
    assert s2.rejects_path == tmp_path / "out" / "mine.csv"
    assert read_rejects(s2.rejects_path)[0]["row"] == "1"
    with pytest.raises(ValidationError) as e:
        load_file(tmp_path / "in2.csv", store, progress=False, rejects_path=tmp_path / "nowhere" / "r.csv")
    assert "nowhere" in str(e.value)


@pytest.mark.parametrize("name", ["tx.csv.gz", "tx.gz"], ids=["csv.gz", "bare-gz"])
def test_gzip_csv(tmp_path, store, name):
    s = load_file(write_csv(tmp_path / name, make_rows(25), gz=True), store, chunk_size=7, progress=False)
    assert (s.rows_read, s.inserted) == (25, 25)


def test_unknown_extension(tmp_path, store):
    (tmp_path / "tx.xlsx").write_text("x")
    with pytest.raises(ValidationError) as e:
        load_file(tmp_path / "tx.xlsx", store, progress=False)
    assert e.value.code == "unknown_format"


def test_progress_callback_sees_every_chunk(tmp_path, store):
    calls = []
    load_file(write_csv(tmp_path / "p.csv", make_rows(25)), store, chunk_size=10,
              progress=lambda rows, frac: calls.append((rows, frac)))
    assert [c[0] for c in calls] == [10, 20, 25]
    assert calls[-1][1] == pytest.approx(1.0)


def test_progress_goes_to_the_command_reporter_and_is_silent_off_a_terminal(tmp_path, store, monkeypatch):
    path = write_csv(tmp_path / "p.csv", make_rows(25))
    err = io.StringIO()
    with reporting("load", stream=err):
        load_file(path, store, chunk_size=10)
    assert "load: loading p.csv done: 25 rows in " in err.getvalue()
    quiet = io.StringIO()
    monkeypatch.setattr("sys.stderr", quiet)  # no reporter and not a terminal: nothing drawn
    load_file(write_csv(tmp_path / "q.csv", make_rows(5)), store)
    assert quiet.getvalue() == ""


def _peak_load(tmp_path: Path, n: int) -> int:
    from graphfraud.storage import open_store

    path = tmp_path / f"big{n}.csv"
    with open(path, "w") as f:  # a small generator: nothing big is kept in the repository
        f.write(",".join(HEADER) + "\n")
        for i in range(n):
            f.write(f"t{i},2026-01-{1 + i % 28:02d}T10:00:00Z,u{i % 5000},{i % 900}.5,c{i % 7000},"
                    f"10.{i % 200}.{i % 250}.1,{i % 2}\n")
    store = open_store(str(tmp_path / f"big{n}.db"), durable=False)  # memory is the point, not fsync
    tracemalloc.start()
    try:
        s = load_file(path, store, chunk_size=20_000, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        store.close()
    assert s.inserted == n
    return peak


def test_memory_does_not_grow_with_the_file(tmp_path):
    small = _peak_load(tmp_path, 60_000)
    big = _peak_load(tmp_path, 300_000)
    # 5x the rows; chunked streaming keeps the peak at a chunk or two: the writer thread may still hold chunk k
    # while this one validates chunk k+1, or may be done with it, as the threads happen to run (a 3-chunk file
    # was measured at 20 MB and at 30 MB; the 15-chunk file at 31-32 MB), so the bound allows one chunk more
    # than the smaller file happened to need, and still fails if memory grows with the file
    print(f"peak traced memory: {small:,} bytes for 60k rows, {big:,} for 300k")
    assert big < 2 * small, (small, big)


def _links(store):
    return {(r.type, r.entity_id, r.user_id): (r.first_seen, r.last_seen, r.n)
            for r in store.links_frame().itertuples()}


def _links_from_transactions(store):
    """The link table as the stored transactions define it, counted here one by one."""
    want: dict[tuple[str, str, str], tuple[int, int, int]] = {}
    for tx, _ in store.iter_transactions():
        for typ, name in tx.entities():
            first, last, n = want.get((typ, name, tx.user_id), (tx.ts, tx.ts, 0))
            want[(typ, name, tx.user_id)] = (min(first, tx.ts), max(last, tx.ts), n + 1)
    return want


@pytest.mark.parametrize("max_rows", [4_000_000, 12])
def test_links_folded_from_the_loaders_totals_match_the_stored_transactions(tmp_path, store, monkeypatch, max_rows):
    """A load folds links from totals gathered chunk by chunk; runs broken by duplicates, conflicts, new
    labels and another process's writes between chunks still give exactly the links of what is stored
    (held in memory, or written to disk past a bound)."""
    from graphfraud.schema import validate_record
    from graphfraud.storage import open_store
    from loaders.bulk import _LinkFold

    monkeypatch.setattr(_LinkFold, "MAX_ROWS", max_rows)

    header = [*HEADER, "email"]
    rows = make_rows(60)
    for i, r in enumerate(rows):
        r["email"] = f"m{i % 7 % 3}@x.org" if i % 3 else ""  # the same user, the same email
    folds = []
    real_fold = store.fold_link_totals
    store.fold_link_totals = lambda t, a, b: folds.append(real_fold(t, a, b)) or folds[-1]
    other = open_store(store.location)  # another writer on the same file, between two chunks
    calls = []

    def write_between(done, frac):
        calls.append(done)
        if len(calls) == 2:
            other.add_transaction(validate_record({"transaction_id": "other1", "timestamp": "2026-01-03",
                                                   "user_id": "u1", "amount": 1, "card_id": "c5"}))

    mapping = {"extra_entities": ["email"]}
    s = load_file(write_csv(tmp_path / "a.csv", rows, header=header), store, mapping=mapping, chunk_size=25,
                  progress=write_between)
    assert s.inserted == 60 and len(calls) == 3
    assert folds and all(folds)  # the totals were used (the gap made two runs of them)
    assert _links(store) == _links_from_transactions(store)
    # again, overlapping: duplicates, a newly labelled row, a conflict, new rows, in one file
    again = make_rows(40, start=40)  # t40..t59 are stored: duplicates, but for one conflict
    for r in again:
        r["email"] = rows[int(r["transaction_id"][1:])]["email"] if r["transaction_id"] < "t60" else "late@x.org"
    again[1]["amount"] = "999.25"  # t41 with another amount: a conflict
    unlabelled = make_rows(1, start=200, is_fraud="")
    folds.clear()
    load_file(write_csv(tmp_path / "u.csv", unlabelled, header=header), store, mapping=mapping, progress=False)
    again.append({**unlabelled[0], "is_fraud": "1"})  # the same row, now with a label: newly labelled
    s = load_file(write_csv(tmp_path / "b.csv", again, header=header), store, mapping=mapping, chunk_size=6,
                  progress=False)
    assert (s.duplicates, s.conflicts, s.labelled) == (19, 1, 1)
    assert _links(store) == _links_from_transactions(store)
    assert store.get_meta("links_seq") == str(store.last_seq())
    other.close()


def test_link_totals_past_a_bound_go_to_disk_and_are_folded_once_range_by_range(tmp_path, store, monkeypatch):
    """Memory for gathered link totals is bounded: past a limit they are merged and written to disk by
    ranges of the link key; the run is folded once at the end, each range in key order, and the files go."""
    import os

    from loaders.bulk import _LinkFold
    from loaders.linkruns import LinkRuns

    monkeypatch.setattr(_LinkFold, "MAX_ROWS", 40)
    dirs, parts = [], []
    real_write, real_parts = LinkRuns.write, LinkRuns.parts

    def write(self, t):
        real_write(self, t)
        dirs.append(self.dir)

    def each_part(self):
        for p in real_parts(self):
            parts.append(p.to_pylist())
            yield p

    monkeypatch.setattr(LinkRuns, "write", write)
    monkeypatch.setattr(LinkRuns, "parts", each_part)
    folds = []
    real_fold = store.fold_link_totals
    store.fold_link_totals = lambda t, a, b: folds.append(real_fold(t, a, b)) or folds[-1]
    load_file(write_csv(tmp_path / "a.csv", make_rows(200)), store, chunk_size=10, progress=False)
    assert len(dirs) >= 3 and folds == [True]  # several runs on disk, one fold of them all
    assert len(parts) > 1  # range by range ...
    keys = [(r["type"], r["entity_id"], r["user_id"]) for part in parts for r in part]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)  # ... in key order, each link once
    assert _links(store) == _links_from_transactions(store)
    assert not any(os.path.exists(d) for d in dirs)


def test_a_file_without_a_mapping_links_users_through_its_email_phone_and_address_columns(tmp_path, store):
    """A fourth generator's file had `email`, `phone` and `address` columns: without a mapping they were kept
    as attributes, so rings sharing only those were invisible, while the API took the same fields as
    identifiers. Columns named like the link types beyond the built-ins are identifiers, as in the API."""
    path = tmp_path / "tx.csv"
    path.write_text("transaction_id,timestamp,user_id,amount,email,phone,address,note\n"
                    "t1,2026-01-01T10:00:00Z,u1,5,Ann@X.org,+44 20 7946 0000,1 Main St,a\n"
                    "t2,2026-01-02T10:00:00Z,u2,6,ann@x.org,+442079460000,1 Main St,b\n")
    assert load_file(str(path), store, progress=False).rejected == 0
    for kind, value in (("email", "ann@x.org"), ("phone", "+442079460000"), ("address", "1 Main St")):
        assert {r["user_id"] for r in store.neighbours(kind, value, 10)} == {"u1", "u2"}, kind
    assert store.get_transaction("t1")["attributes"] == {"note": "a"}  # any other column stays an attribute


def test_link_types_decide_which_columns_a_file_without_a_mapping_links_through(tmp_path, store, monkeypatch):
    monkeypatch.setenv("GRAPHFRAUD_LINK_TYPES", "card,device,ip")
    path = tmp_path / "tx.csv"
    path.write_text("transaction_id,timestamp,user_id,amount,email\nt1,2026-01-01T10:00:00Z,u1,5,ann@x.org\n")
    load_file(str(path), store, progress=False)
    assert store.neighbours("email", "ann@x.org", 10) == []
    assert store.get_transaction("t1")["attributes"] == {"email": "ann@x.org"}


def test_an_address_written_on_two_lines_loads_as_one_line_as_in_the_api(tmp_path, store):
    """A hostile probe: once `address` columns were identifiers, a postal address written on two lines (or
    with a tab) refused its row for control characters, where as an attribute it had loaded."""
    from graphfraud.schema import validate_record

    path = tmp_path / "tx.csv"
    path.write_text('transaction_id,timestamp,user_id,amount,address\n'
                    't1,2026-01-01T10:00:00Z,u1,5,"1 Main St\r\n  Leeds"\n'
                    't2,2026-01-02T10:00:00Z,u2,6,1 Main St\tLeeds\n'
                    't3,2026-01-03T10:00:00Z,u3,7,"1 Main St,  Leeds\x01"\n')
    s = load_file(str(path), store, progress=False)
    assert (s.inserted, s.rejected) == (2, 1)  # other control characters still refuse the row
    assert {r["user_id"] for r in store.neighbours("address", "1 Main St Leeds", 10)} == {"u1", "u2"}
    api = validate_record({"transaction_id": "t9", "timestamp": "2026-01-04", "user_id": "u9", "amount": 1,
                           "address": "1 Main St\n\tLeeds"}, extra_types=("address",))
    assert api.extra == {"address": "1 Main St Leeds"}


def test_a_column_named_like_a_field_in_another_case_is_named_in_a_warning(tmp_path, store):
    """A hostile probe: `Email` and `PHONE` columns stayed attributes without a word."""
    path = tmp_path / "tx.csv"
    path.write_text("transaction_id,timestamp,user_id,amount,Email,Card ID,note\n"
                    "t1,2026-01-01T10:00:00Z,u1,5,a@x.org,c1,n\n")
    s = load_file(str(path), store, progress=False)
    assert s.inserted == 1 and s.warnings == [
        "column 'Email' is kept as an attribute; name it 'email' to read it as that field",
        "column 'Card ID' is kept as an attribute; name it 'card_id' to read it as that field"]
    assert store.get_transaction("t1")["attributes"] == {"Email": "a@x.org", "Card ID": "c1", "note": "n"}
