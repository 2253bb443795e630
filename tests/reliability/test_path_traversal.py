"""File names taken from input never climb out of where they belong."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from graphfraud.cli import main
from graphfraud.errors import ConfigError
from loaders import load_mapping


@pytest.mark.parametrize("name", ["../../etc/passwd", "../../../../../../etc/passwd", "..", "../mappings/aws_transactions",
                                  "/etc/passwd", "aws_transactions/../../x", "..\\..\\etc\\passwd", "aws transactions",
                                  "%2e%2e%2fetc%2fpasswd", "aws_transactions\x00"],
                         ids=["dotdot", "deep", "parent", "sibling", "absolute", "inside-out", "backslashes", "space",
                              "url-encoded", "nul"])
def test_mapping_names_cannot_traverse(name: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_mapping(name)
    msg = str(e.value)
    assert "shipped" in msg and "root:" not in msg  # a clear answer, and nothing read from the target


def test_shipped_mapping_still_loads_by_name(tmp_path) -> None:
    assert load_mapping("aws_transactions").columns
    own = tmp_path / "own.toml"
    own.write_text('[columns]\ntransaction_id = "id"\n')
    assert load_mapping(str(own)).columns["transaction_id"].column == "id"


def test_cli_refuses_a_traversing_mapping(tmp_path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("transaction_id,timestamp,user_id,amount\nt1,2026-01-02 10:00:00,u1,1\n")
    r = CliRunner().invoke(main, ["load", str(csv), "--mapping", "../../etc/passwd", "--store", str(tmp_path / "s.db")])
    assert r.exit_code == 1 and r.output.startswith("Error:") and "not a .toml file" in r.output
