"""The Portuguese quickstart exists and gives the same first two commands as the English one."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _first_screen_commands(path: Path) -> list[str]:
    first_screen = path.read_text().splitlines()[:15]
    return [m.group(1) for line in first_screen if (m := re.match(r"(make \w+)\s", line))]


def test_pt_br_quickstart_has_the_same_make_commands():
    english = _first_screen_commands(ROOT / "README.md")
    assert english == ["make demo", "make test"]
    assert _first_screen_commands(ROOT / "README.pt-BR.md") == english


def test_pt_br_is_portuguese_and_the_two_link_each_other():
    pt = (ROOT / "README.pt-BR.md").read_text()
    assert "## A demo" in pt and "## Cluster local" in pt and "## Produzir e consumir" in pt
    assert "kpoc produce" in pt and "kpoc consume" in pt and "kpoc cluster up" in pt
    assert "(README.md)" in pt
    assert "(README.pt-BR.md)" in (ROOT / "README.md").read_text()
