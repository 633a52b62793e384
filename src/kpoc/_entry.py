"""The ``kpoc`` command's entry point: the CLI when its extra is installed, else how to get it.

``pip install kpoc`` installs the library only (confluent-kafka); the command needs click and
rich from the ``[cli]`` extra. Without them ``kpoc`` says so in one line instead of a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError as exc:
        sys.stderr.write(f"kpoc: error: the kpoc command needs {exc.name}, which is not "
                         "installed (pip install kpoc installs the Python library only); "
                         "install the CLI with: pip install 'kpoc[cli]' (with the web console: "
                         "'kpoc[console]')\n")
        raise SystemExit(3) from None
    from .cli import main as cli_main

    cli_main()
