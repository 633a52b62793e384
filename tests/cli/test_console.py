"""`kpoc console`'s flags and their environment variables (refused before anything starts)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kpoc.cli import cli


@pytest.mark.parametrize("env,note", [
    ("KPOC_CONSOLE_READ_ONLY_TOKEN", False),
    ("KPOC_CONSOLE_READONLY_TOKEN", True),  # the old spelling still works, with a note
])
def test_the_read_only_token_is_read_from_either_spelling(env, note):
    r = CliRunner().invoke(cli, ["console"], env={env: "viewer-token-0123456789",
                                                 "KPOC_CONSOLE_TOKEN": None})
    assert r.exit_code == 2
    assert "--read-only-token needs --auth-token" in r.output
    assert ("KPOC_CONSOLE_READONLY_TOKEN is deprecated" in r.output) is note
