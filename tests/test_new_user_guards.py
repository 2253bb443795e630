"""What a new user's mistakes with data made elsewhere get: a warning or an error that says what is wrong, never
a silent load of unlabelled rows, an empty store made by a typo, a model of inverted labels put in service, or
a scoring run that reports success when nothing was scored."""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from graphfraud.cli import main


def _paysim_like(path, n=600, seed=3, fraud_every=40, fraud_large=False):
    """Rows shaped like the public PaySim file: hour steps, no transaction id, 0/1 labels in ``isFraud``
    (``fraud_large``: the fraud rows' amounts are larger than any other, so a model can learn them)."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "type", "amount", "nameOrig", "nameDest", "isFraud"])
        for i in range(n):
            fraud = i % fraud_every == 7
            amount = rng.uniform(10, 900) + (5000 if fraud and fraud_large else 0)
            w.writerow([1 + i // 4, "TRANSFER" if fraud else "PAYMENT", f"{amount:.2f}",
                        f"C{rng.integers(0, n // 3)}", f"M{rng.integers(0, 40)}", 1 if fraud else 0])
    return path


def _mapping(path, labels, *, column="isFraud", merchant="nameDest"):
    lines = ['name = "paysim_like"', "[columns]", 'transaction_id = {row_number = true, prefix = "P"}',
             'timestamp = {step = "step", origin = "2020-01-01T00:00:00Z", unit = "1h"}', 'user_id = "nameOrig"',
             f'merchant_id = "{merchant}"', 'amount = "amount"', "[labels]", f'column = "{column}"',
             *(f'"{k}" = {v}' for k, v in labels.items())]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def _run(*args):
    return CliRunner().invoke(main, ["--quiet", *map(str, args)])


def test_label_values_the_mapping_does_not_list_are_a_warning(tmp_path):
    data = _paysim_like(tmp_path / "p.csv")
    res = _run("load", data, "--mapping", _mapping(tmp_path / "m.toml", {"true": 1, "false": 0}),
               "--store", tmp_path / "s.db")
    assert res.exit_code == 0, res.output
    assert "labels read: 0 fraud, 0 not fraud" in res.stdout
    assert ("600 rows have a value of the label column 'isFraud' that the mapping's [labels] does not list "
            "('0' 585, '1' 15)") in res.stderr
    right = _run("load", data, "--mapping", _mapping(tmp_path / "ok.toml", {"1": 1, "0": 0}),
                 "--store", tmp_path / "ok.db")
    assert "labels read: 15 fraud, 585 not fraud" in right.stdout and "warning" not in right.stderr


def test_a_missing_optional_column_is_a_warning(tmp_path):
    res = _run("load", _paysim_like(tmp_path / "p.csv"), "--mapping",
               _mapping(tmp_path / "m.toml", {"1": 1, "0": 0}, merchant="merchnt"), "--store", tmp_path / "s.db")
    assert res.exit_code == 0
    assert "warning: the file has no column 'merchnt' for merchant_id; merchant_id is left empty" in res.stderr


def test_inverted_labels_are_a_warning(tmp_path):
    res = _run("load", _paysim_like(tmp_path / "p.csv", n=4000, fraud_every=9), "--mapping",
               _mapping(tmp_path / "m.toml", {"1": 0, "0": 1}), "--store", tmp_path / "s.db")
    assert res.exit_code == 0
    assert ("warning: 3,556 of the 4,000 labelled rows (88.9 %) say fraud, where fraud is usually rare: check "
            "that the labels are not inverted") in res.stderr


def test_a_model_no_better_than_chance_is_kept_but_not_promoted(tmp_path, monkeypatch):
    from graphfraud import training

    assert training._no_better_than_chance({"holdout_roc_auc": 0.51}) is None
    assert training._no_better_than_chance({}) is None  # no holdout measured: nothing to judge by
    assert "no better than chance" in training._no_better_than_chance({"holdout_roc_auc": 0.5})
    store = tmp_path / "s.db"
    _run("load", _paysim_like(tmp_path / "p.csv", n=3000, fraud_every=9, fraud_large=True), "--mapping",
         _mapping(tmp_path / "m.toml", {"1": 1, "0": 0}), "--store", store)
    promoted = _run("train", "--store", store)
    assert "(promoted)" in promoted.stdout, promoted.output
    # the same store trained again, its holdout judged no better than chance this time
    monkeypatch.setattr(training, "_no_better_than_chance", lambda metrics: "its holdout ROC-AUC is 0.48")
    held = _run("train", "--store", store)
    assert held.exit_code == 0 and "(not promoted)" in held.stdout
    version = held.stdout.split()[1]
    assert (f"warning: model {version} is not promoted: its holdout ROC-AUC is 0.48; `graphfraud model promote "
            f"{version}` serves it anyway") in held.stderr
    status = {r["version"]: r["status"] for r in json.loads(_run("model", "list", "--json", "--store", store).stdout)}
    assert status[promoted.stdout.split()[1]] == "promoted" and status[version] != "promoted"


def test_reading_commands_refuse_a_store_that_does_not_exist(tmp_path):
    for command in (["rings"], ["suspects"], ["info"], ["train"], ["model", "list"]):
        res = _run(*command, "--store", tmp_path / "typo.db")
        assert res.exit_code == 1, command
        assert f"No store at {tmp_path / 'typo.db'}" in res.stderr
    assert not [p for p in os.listdir(tmp_path) if p.startswith("typo")]


def test_a_bad_mapping_or_a_missing_column_writes_no_store(tmp_path):
    data = _paysim_like(tmp_path / "p.csv")
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nuser_id = "who"\n')
    for mapping in (str(tmp_path / "absent.toml"), str(bad)):
        res = _run("load", data, "--mapping", mapping, "--store", tmp_path / "s.db")
        assert res.exit_code == 1 and res.stderr.startswith("Error: "), res.output
        assert not os.path.exists(tmp_path / "s.db")


def test_backtest_checks_its_options_before_loading(tmp_path):
    data = _paysim_like(tmp_path / "p.csv")
    for opts, said in ((["--train-frac", "1.5"], "--train-frac 1.5 must be between 0 and 1"),
                       ([], "Give --train-frac, or all of")):
        res = _run("backtest", data, "--mapping", _mapping(tmp_path / "m.toml", {"1": 1, "0": 0}), *opts,
                   "--store", tmp_path / "bt.db")
        assert res.exit_code == 1 and said in res.stderr
        assert not os.path.exists(tmp_path / "bt.db")


def test_score_fails_when_no_row_is_scored_and_says_how_many_were_not(tmp_path):
    store = tmp_path / "s.db"
    data = _paysim_like(tmp_path / "p.csv")
    mapping = _mapping(tmp_path / "m.toml", {"1": 1, "0": 0})
    assert _run("load", data, "--mapping", mapping, "--store", store).exit_code == 0
    # the same rows again, with other amounts: the row-number ids are taken by other content
    rows = _read(data)
    with open(tmp_path / "again.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([rows[0]] + [r[:2] + ["1.00"] + r[3:] for r in rows[1:6]])
    res = _run("score", tmp_path / "again.csv", "--mapping", mapping, "--store", store, "--out", tmp_path / "o.csv")
    assert res.exit_code == 1 and "none of the 5 rows was scored" in res.stderr
    out = _read(tmp_path / "o.csv")
    assert len(out) == 6 and all(len(r) == 6 and r[5] for r in out[1:])
    assert "is already stored with other values of amount; use a new transaction_id" in out[1][5]
    # new rows score, with an empty error cell, and a mix says how many were not scored
    with open(tmp_path / "mix.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([rows[0]] + [r[:2] + ["1.00"] + r[3:] for r in rows[1:3]] + rows[3:4])
    ok = _run("score", tmp_path / "mix.csv", "--mapping", mapping, "--store", store, "--out", tmp_path / "m.csv")
    assert ok.exit_code == 0 and "scored 1 transactions" in ok.stdout
    assert "warning: 2 rows were not scored" in ok.stderr
    out = _read(tmp_path / "m.csv")
    assert all(len(r) == 6 for r in out) and [bool(r[5]) for r in out[1:]] == [True, True, False]


def test_an_account_that_only_received_transfers_is_one_of_its_rings_users(tmp_path):
    """PaySim-like money: a known fraudster pays an account that passes the money on to a cash-out account
    that never pays anyone. All three are the ring (its size, users, known fraud and money between them)."""
    rows = [["transaction_id", "timestamp", "user_id", "amount", "counterparty_id", "merchant_id", "is_fraud"]]
    for i in range(60):  # ordinary shoppers, so the store has a usual amount
        rows.append([f"p{i}", f"2026-01-{1 + i % 20:02d}T10:00:00Z", f"shopper{i % 12}", "20.00", "", "m1", "0"])
    rows += [["f1", "2026-01-02T10:00:00Z", "boss", "15.00", "", "m1", "0"],
             ["t1", "2026-01-03T10:00:00Z", "boss", "900.00", "mule", "", "1"],
             ["t2", "2026-01-03T14:00:00Z", "mule", "880.00", "cashout", "", "1"],
             ["f2", "2026-01-04T10:00:00Z", "mule", "12.00", "", "m1", "0"]]
    with open(tmp_path / "t.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    (tmp_path / "users.csv").write_text("user_id,user_label\nboss,fraudster\n")
    store = tmp_path / "s.db"
    assert _run("load", tmp_path / "t.csv", "--store", store).exit_code == 0
    assert _run("label", tmp_path / "users.csv", "--store", store).exit_code == 0
    res = _run("rings", "--format", "json", "--store", store)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    rings = [r for r in (out["rings"] if isinstance(out, dict) else out) if "cashout" in r["users"]]
    assert len(rings) == 1
    ring = rings[0]
    assert ring["users"] == ["boss", "cashout", "mule"] and ring["size"] == 3
    assert ring["known_fraud_users"] == ["boss", "cashout", "mule"]
    assert "3 of 3 users moved 1,780 between them in 2 transfers" in ring["reasons"]


def test_no_ring_found_is_said_on_standard_error(tmp_path):
    (tmp_path / "t.csv").write_text("transaction_id,timestamp,user_id,amount\nt1,2026-01-01,a,5\n")
    assert _run("load", tmp_path / "t.csv", "--store", tmp_path / "s.db").exit_code == 0
    res = _run("rings", "--store", tmp_path / "s.db")
    assert res.exit_code == 0 and res.stdout.startswith("ring_id")
    assert "No rings: no 3 or more users are linked" in res.stderr
    as_json = _run("rings", "--format", "json", "--store", tmp_path / "s.db")
    assert json.loads(as_json.stdout) is not None  # standard output stays what scripts read


def test_a_timestamp_format_the_parser_refuses_is_a_mapping_error(tmp_path):
    from graphfraud.errors import ConfigError
    from loaders import parse_mapping

    for fmt, said in (("%s", 'unit = \\"1s\\"'), ("%Y-%Q", "'Q' is a bad directive")):
        with pytest.raises(ConfigError, match="timestamp_format") as e:
            parse_mapping({"columns": {}, "timestamp_format": fmt})
        assert said.replace("\\", "") in str(e.value)
    (tmp_path / "m.toml").write_text('timestamp_format = "%s"\n[columns]\n')
    res = _run("load", _paysim_like(tmp_path / "p.csv"), "--mapping", tmp_path / "m.toml", "--store", tmp_path / "s.db")
    assert res.exit_code == 1 and res.stderr.startswith("Error: Mapping") and "Traceback" not in res.output
    assert not os.path.exists(tmp_path / "s.db")


def test_a_load_that_rejects_every_row_fails_and_says_why(tmp_path):
    data = _paysim_like(tmp_path / "p.csv", n=30)
    (tmp_path / "m.toml").write_text('[columns]\ntransaction_id = {row_number = true}\ntimestamp = "step"\n'
                                     'user_id = "nameOrig"\namount = "amount"\n')
    res = _run("load", data, "--mapping", tmp_path / "m.toml", "--store", tmp_path / "s.db",
               "--rejects", tmp_path / "r.csv")
    assert res.exit_code == 1
    assert ("Error: every one of the 30 rows was rejected; the first, row 1: timestamp '1' is not an ISO 8601 "
            "timestamp (a number: seconds or steps since an origin are read by a mapping") in res.stderr
    assert len(_read(tmp_path / "r.csv")) == 31


def test_a_backtest_says_when_the_label_delay_leaves_training_rows_out(tmp_path):
    # 600 rows over 150 hours: with a 10-day delay no training label is known when the test window starts
    res = _run("backtest", _paysim_like(tmp_path / "p.csv"), "--mapping",
               _mapping(tmp_path / "m.toml", {"1": 1, "0": 0}), "--train-frac", "0.6", "--label-delay", "10d")
    assert "labelled training transactions are left out: their labels were not known when the test window " \
           "starts (a label without a time of its own is known 240 hours after its transaction" in res.stderr


def test_the_mapping_check_reads_what_the_load_reads_first(tmp_path):
    """A JSON-lines key first seen after record 1,000 is still in the load's first chunk: the CLI's check before
    the store is made must not refuse what the load accepts."""
    path = tmp_path / "late.jsonl"
    with open(path, "w") as fh:
        for i in range(1200):
            rec = {"u": f"u{i % 9}", "ts": f"2026-01-0{1 + i % 9}T10:00:00Z", "amount": 5}
            if i >= 1000:
                rec["m"] = f"m{i}"
            fh.write(json.dumps(rec) + "\n")
    (tmp_path / "m.toml").write_text('[columns]\ntransaction_id = {hash = ["u", "ts", "m"]}\ntimestamp = "ts"\n'
                                     'user_id = "u"\namount = "amount"\n')
    res = _run("load", path, "--mapping", tmp_path / "m.toml", "--store", tmp_path / "s.db")
    assert res.exit_code == 0, res.output
    assert "1,200 rows read" in res.stdout


def test_strip_applies_to_label_values_and_label_needs_a_store(tmp_path):
    (tmp_path / "q.csv").write_text("id,ts,u,amt,flag\n'a','2026-01-01','u1',5,'1'\n'b','2026-01-02','u2',6,'0'\n")
    (tmp_path / "m.toml").write_text('strip = "\'"\n[columns]\ntransaction_id = "id"\ntimestamp = "ts"\n'
                                     'user_id = "u"\namount = "amt"\n[labels]\ncolumn = "flag"\n"1" = 1\n"0" = 0\n')
    res = _run("load", tmp_path / "q.csv", "--mapping", tmp_path / "m.toml", "--store", tmp_path / "s.db")
    assert "labels read: 1 fraud, 1 not fraud" in res.stdout and "warning" not in res.stderr
    (tmp_path / "l.csv").write_text("transaction_id,is_fraud\na,1\n")
    typo = _run("label", tmp_path / "l.csv", "--store", tmp_path / "typo.db")
    assert typo.exit_code == 1 and "No store at" in typo.stderr and not os.path.exists(tmp_path / "typo.db")


def test_every_record_ragged_is_named_as_a_record(tmp_path):
    (tmp_path / "r.csv").write_text("transaction_id,timestamp,user_id,amount\nt1,2026-01-01\nt2,2026-01-01,u,1,x\n")
    res = _run("load", tmp_path / "r.csv", "--store", tmp_path / "s.db", "--rejects", tmp_path / "rj.csv")
    assert res.exit_code == 1 and "the first, row 1: the record has 2 fields" in res.stderr


@pytest.mark.parametrize("args", [["score", "{f}", "--out", "{d}/no/such/o.csv"],
                                  ["backtest", "{f}", "--train-frac", "0.6", "--scores-out", "{d}/no/s.csv"],
                                  ["backtest", "{f}", "--train-frac", "0.6", "--report", "{d}/no/r.json"],
                                  ["load", "{f}", "--rejects", "{d}/no/rj.csv"]],
                         ids=["score", "backtest-scores", "backtest-report", "load-rejects"])
def test_an_output_in_a_folder_that_does_not_exist_is_refused_before_any_work(tmp_path, args):
    # the scoring run or backtest used to do all its work and fail at the end on a mistyped folder
    f = tmp_path / "t.csv"
    f.write_text("transaction_id,timestamp,user_id,amount\nt1,2026-01-01,u1,5\n")
    res = _run(*[a.format(f=f, d=tmp_path) for a in args], "--store", tmp_path / "s.db")
    assert res.exit_code == 2 and "does not exist; create it first" in res.stderr
    assert not (tmp_path / "s.db").exists()


def test_an_empty_account_name_is_refused_before_the_password_is_asked(tmp_path):
    res = CliRunner().invoke(main, ["user", "create", " ", "--store", str(tmp_path / "s.db")], input="")
    assert res.exit_code == 1 and "cannot be empty" in res.stderr and "Password" not in res.output


@pytest.mark.parametrize("name", [" ann", "ann ", "a" * 129, "line\nbreak", "e\u0301ric"],
                         ids=["space-first", "space-last", "too-long", "newline", "decomposed"])
def test_an_account_name_no_one_could_type_at_sign_in_is_refused(tmp_path, name):
    """A probe made accounts the sign-in form can never match (it strips the ends, keeps 128 characters, and
    browsers send composed text): each signed in to nothing, with a 401."""
    res = CliRunner().invoke(main, ["user", "create", name, "--store", str(tmp_path / "s.db")], input="")
    assert res.exit_code == 1 and "could never be typed at sign-in" in res.stderr and "Password" not in res.output


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    """`graphfraud generate /dev/stdout | head -1` said 'Error: [Errno 32] Broken pipe' (a probe)."""
    import subprocess
    import sys

    cmd = [sys.executable, "-c", "from graphfraud.cli import main; main()", "-q", "generate", "/dev/stdout",
           "--users", "300", "--seed", "1"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert p.stdout is not None and p.stdout.readline().startswith(b"transaction_id,")
    p.stdout.close()  # as `head -1` does
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1 and b"Broken pipe" not in err and b"Traceback" not in err, err


def test_a_label_file_whose_every_row_is_refused_fails_and_a_transactions_file_labels_its_transactions(tmp_path):
    """A probe: `label` exited 0 with every row rejected (load exits 1), each row saying 'give either ...' for a
    transactions file whose rows name their user too. Such a row now labels its transaction."""
    (tmp_path / "t.csv").write_text("transaction_id,timestamp,user_id,amount,is_fraud\n"
                                    "a,2026-01-01T10:00:00Z,u1,5,1\nb,2026-01-02T10:00:00Z,u2,6,0\n")
    store = tmp_path / "s.db"
    assert _run("load", tmp_path / "t.csv", "--store", store).exit_code == 0
    res = _run("label", tmp_path / "t.csv", "--store", store)
    assert res.exit_code == 0 and "2 added, 0 rejected" in res.stdout
    (tmp_path / "bad.csv").write_text("transaction_id,is_fraud,user_label\na,maybe,\n,,\n")
    res = _run("label", tmp_path / "bad.csv", "--store", store, "--rejects", tmp_path / "bad.rejects.csv")
    assert res.exit_code == 1 and "every one of the 2 label rows was rejected; the first, row 1: " in res.stderr
    assert "is_fraud" in res.stderr and "label a transaction" in (tmp_path / "bad.rejects.csv").read_text()


def test_commands_that_may_start_a_store_say_so(tmp_path):
    """`apikey create` and `user create` start a store for a server that has none yet; a mistyped path did so
    without a word (a probe): the new store is named on standard error."""
    res = _run("apikey", "create", "--name", "k", "--store", tmp_path / "typo.db")
    assert res.exit_code == 0 and f"created a new, empty store at {tmp_path / 'typo.db'}" in res.stderr
    res = _run("apikey", "create", "--name", "k2", "--store", tmp_path / "typo.db")
    assert res.exit_code == 0 and "created a new" not in res.stderr



def test_a_label_file_loaded_twice_stores_its_labels_once(tmp_path):
    """The same chargeback file loaded again added every label a second time ("2 added")."""
    from graphfraud.storage import open_store

    (tmp_path / "t.csv").write_text("transaction_id,timestamp,user_id,amount\n"
                                    "a,2026-01-01T10:00:00Z,u1,5\nb,2026-01-02T10:00:00Z,u2,6\n")
    store = tmp_path / "s.db"
    assert _run("load", tmp_path / "t.csv", "--store", store).exit_code == 0
    (tmp_path / "l.csv").write_text("transaction_id,is_fraud,labelled_at\na,1,2026-01-05T00:00:00Z\nb,0,\n")
    assert "2 added, 0 rejected" in _run("label", tmp_path / "l.csv", "--store", store).stdout
    res = _run("label", tmp_path / "l.csv", "--store", store)
    assert res.exit_code == 0 and "0 added, 2 stored already, 0 rejected" in res.stdout
    # a verdict that changes and changes back is three events; the same from another source is its own
    (tmp_path / "f.csv").write_text("transaction_id,is_fraud\nb,1\n")
    for f in ("f.csv", "l.csv"):
        assert "1 added" in _run("label", tmp_path / f, "--store", store).stdout
    assert "1 added" in _run("label", tmp_path / "f.csv", "--store", store, "--source", "investigator").stdout
    st = open_store(str(store))
    assert [(lb.subject_id, lb.value, lb.source) for _, lb in st.labels()] == [
        ("a", "1", "chargeback"), ("b", "0", "chargeback"), ("b", "1", "chargeback"), ("b", "0", "chargeback"),
        ("b", "1", "investigator")]
    st.close()
