"""One meaning per short flag; the spellings it replaced still work, with a note (no broker:
every case is refused before a request is made)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kpoc.cli import cli

DEAD = ["-b", "127.0.0.1:1", "--timeout", "1"]


@pytest.mark.parametrize("argv,expect,note", [
    (["topics", "create", "x", "-p", "0", *DEAD], "--partitions must be ≥ 1", "-p is deprecated"),
    (["topics", "create", "x", "-r", "0", "--partitions", "1", *DEAD], "no Kafka broker",
     "-r is deprecated"),
    (["produce", "--file", "{tmp}", *DEAD], "is a directory", None),
    (["produce", "-f", "{tmp}", *DEAD], "is a directory", None),  # refused while parsing
    (["consume", "-n", "0", *DEAD], "--count must be ≥ 1", None),
    (["consume", "-c", "0", *DEAD], "--count must be ≥ 1", "-c is deprecated"),
    (["cluster", "status", "--json", "--data-dir", "{tmp}/none"], "no local cluster",
     "--json is deprecated"),
])
def test_old_spellings_reach_the_same_parameter(argv, expect, note, tmp_path: Path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    r = CliRunner().invoke(cli, argv, env={"KPOC_BOOTSTRAP_SERVERS": None})
    assert r.exit_code != 0 and expect in r.output, r.output
    assert ("is deprecated" in r.output) is (note is not None), r.output
    if note:
        assert note in r.output


#: Long names that are one meaning under different nouns: -n is "how many" (messages, lines).
MEANING = {"--lines": "--count", "--messages": "--count"}


def _short_flags(cmd: click.Command, path: str = "kpoc") -> dict[str, set[str]]:
    """Visible short flag -> the option names it stands for, over every command."""
    seen: dict[str, set[str]] = {}
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            for flag, names in _short_flags(sub, f"{path} {name}").items():
                seen.setdefault(flag, set()).update(names)
        return seen
    for p in cmd.params:
        if isinstance(p, click.Option) and not p.hidden:
            longs = sorted(o for o in p.opts if o.startswith("--"))
            for o in p.opts:
                if not o.startswith("--") and longs:
                    seen.setdefault(o, set()).add(MEANING.get(longs[0], longs[0]))
    return seen


def test_every_short_flag_means_one_thing():
    clashes = {f: names for f, names in _short_flags(cli).items() if len(names) > 1}
    assert clashes == {}
