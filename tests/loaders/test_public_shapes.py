"""The shipped mappings for public sets (BankSim, PaySim, the ULB card set), on small files written in those
sets' published column layouts (the sets themselves are not in the repository)."""
from __future__ import annotations

import csv
import json

import pytest

from graphfraud.errors import ConfigError
from loaders import load_file, parse_mapping, shipped_mappings


def _write(path, header, rows, **fmt):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, **fmt)
        w.writerow(header)
        w.writerows(rows)
    return path


def _stored(store):
    con = store._con()
    return con.execute("SELECT transaction_id, ts, user_id, merchant_id, counterparty_id, amount, is_fraud, extra, "
                       "attrs FROM tx ORDER BY seq").fetchall()


def test_the_public_sets_mappings_are_shipped():
    assert {"banksim", "paysim", "creditcard"} <= set(shipped_mappings())


def test_banksim_values_lose_their_quotes(tmp_path, store):
    path = tmp_path / "bs140513_032310.csv"
    # BankSim's own quoting: a header of quoted names, every text value in single quotes inside the field
    path.write_text('"step","customer","age","gender","zipcodeOri","merchant","zipMerchant","category","amount","fraud"\n'
                    "0,'C1093826151','4','M','28007','M348934600','28007','es_transportation',4.55,0\n"
                    "0,'C352968107','2','M','28007','M348934600','28007','es_transportation',39.68,0\n"
                    "1,'C1093826151','4','M','28007','M1823072687','28007','es_travel',2011.52,1\n")
    s = load_file(path, store, mapping="banksim", progress=False)
    assert (s.inserted, s.rejected, s.fraud_labels, s.legit_labels) == (3, 0, 1, 2) and not s.warnings
    rows = _stored(store)
    assert [r[0] for r in rows] == ["B1", "B2", "B3"]
    assert rows[0][2:6] == ("C1093826151", "M348934600", None, 4.55)
    assert json.loads(rows[2][7]) == {"category": "es_travel"}
    assert json.loads(rows[0][8]) == {"age": "4", "gender": "M", "zipcodeOri": "28007", "zipMerchant": "28007"}
    assert rows[2][1] - rows[0][1] == 86_400_000 + 2  # a step is a day (and a row one millisecond)


def test_paysim_rows_are_transfers_with_their_type(tmp_path, store):
    path = _write(tmp_path / "paysim.csv",
                  ["step", "type", "amount", "nameOrig", "oldbalanceOrg", "newbalanceOrig", "nameDest",
                   "oldbalanceDest", "newbalanceDest", "isFraud", "isFlaggedFraud"],
                  [[1, "PAYMENT", 9839.64, "C1231006815", 170136.0, 160296.36, "M1979787155", 0.0, 0.0, 0, 0],
                   [1, "TRANSFER", 181.0, "C1305486145", 181.0, 0.0, "C553264065", 0.0, 0.0, 1, 0],
                   [2, "CASH_OUT", 181.0, "C840083671", 181.0, 0.0, "C38997010", 21182.0, 0.0, 1, 0]])
    s = load_file(path, store, mapping="paysim", progress=False)
    assert (s.inserted, s.rejected, s.fraud_labels) == (3, 0, 2) and not s.warnings
    rows = _stored(store)
    assert [r[0] for r in rows] == ["P1", "P2", "P3"]
    assert rows[1][2:7] == ("C1305486145", None, "C553264065", 181.0, 1)
    assert json.loads(rows[1][7]) == {"payment_type": "TRANSFER"}
    assert json.loads(rows[0][8])["oldbalanceOrg"] == "170136.0"
    assert rows[2][1] - rows[0][1] == 3_600_000 + 2  # a step is an hour (and a row one millisecond)


def test_the_ulb_card_set_loads_with_its_components_as_attributes(tmp_path, store):
    header = ["Time", *(f"V{i}" for i in range(1, 29)), "Amount", "Class"]
    rows = [[float(t), *(0.1 * k for k in range(28)), amount, label]
            for t, amount, label in ((0, 149.62, "0"), (0, 2.69, "0"), (1, 378.66, "1"))]
    path = _write(tmp_path / "creditcard.csv", header, rows, quoting=csv.QUOTE_NONNUMERIC)
    s = load_file(path, store, mapping="creditcard", progress=False)
    assert (s.inserted, s.rejected, s.fraud_labels, s.legit_labels) == (3, 0, 1, 2) and not s.warnings
    stored = _stored(store)
    assert [r[2] for r in stored] == ["U1", "U2", "U3"]  # no identifier: each row its own user
    assert len(json.loads(stored[0][8])) == 28 and json.loads(stored[2][8])["V2"] == "0.1"


def test_strip_must_name_characters():
    for bad in ("", 3):
        with pytest.raises(ConfigError, match="strip"):
            parse_mapping({"columns": {}, "strip": bad})
