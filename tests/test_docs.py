"""Docs that must stay in step with the code."""
from pathlib import Path

import pytest

from graphfraud.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_every_setting_is_documented(setting):
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert f"`{setting.name}`" in text and f"`{setting.env}`" in text


def test_readme_quickstart_is_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [line for line in block.splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]
