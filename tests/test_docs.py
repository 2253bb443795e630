"""Docs that must stay in step with the code."""
from pathlib import Path

import pytest

from graphfraud.settings import SETTINGS, render_docs

ROOT = Path(__file__).resolve().parents[1]


SETTINGS_DOC = ROOT / "docs" / "settings.md"


def documented_rows() -> dict[str, list[str]]:
    """The settings tables of ``docs/settings.md``: ``{name: [environment, default, type, meaning]}``."""
    rows = {}
    for line in SETTINGS_DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) == 5:
            rows[cells[0].strip("`")] = cells[1:]
    assert len(rows) > 10  # the parse sees the tables
    return rows


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_every_setting_is_documented_with_its_default(setting):
    env, default, kind, meaning = documented_rows()[setting.name]
    assert env == f"`{setting.env}`" and meaning == setting.help
    assert default == ("(unset)" if setting.default is None else "(empty)" if setting.default == ""
                       else f"`{setting.default}`")


def test_nothing_is_documented_that_is_not_a_setting():
    assert sorted(set(documented_rows()) - {s.name for s in SETTINGS}) == []


def test_settings_page_is_the_generated_one():
    """docs/settings.md is written by ``python -m graphfraud.settings > docs/settings.md``; run it again."""
    assert SETTINGS_DOC.read_text(encoding="utf-8") == render_docs()


def test_readme_quickstart_is_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [line for line in block.splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]
