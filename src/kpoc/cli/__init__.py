"""The ``kpoc`` command: thin wiring over the library.

Domain code raises :class:`kpoc.errors.KpocError`; this boundary turns it into one line on stderr
and the error's exit code. No traceback reaches a user for a problem they can fix.
"""

from __future__ import annotations

import contextlib
import os
import sys

import click
from click.core import ParameterSource

from .._version import __version__
from ..errors import KpocError
from . import _common
from ._common import err


class _Boundary(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            result = super().invoke(ctx)
        except KpocError as exc:
            # One line, whatever the message quotes (a path or name holding a newline).
            one_line = str(exc).replace("\r", "\\r").replace("\n", "\\n")
            err.print(f"kpoc: error: {one_line}", markup=False)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("kpoc: interrupted", markup=False)
            ctx.exit(130)
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(141)
        except click.UsageError as exc:  # a bad flag or argument: one line, not click's three
            where = exc.ctx.command_path if exc.ctx else "kpoc"
            fix = f"see `{where} --help`"
            env = _from_environment(exc)
            if env is not None:
                exc.param_hint = env  # type: ignore[attr-defined]
                fix = f"fix or unset {env}"
            msg = exc.format_message().rstrip(".")
            err.print(f"kpoc: error: {msg}; {fix}", markup=False)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # the output file or disk failed us (e.g. no space left)
            what = f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror or exc
            err.print(f"kpoc: error: {what}", markup=False)
            with contextlib.suppress(OSError, ValueError):  # what is still buffered goes nowhere
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        if _common.stdout_gone:
            ctx.exit(141)  # as a process killed by SIGPIPE, once the work is done
        return result


def _from_environment(exc: click.UsageError) -> str | None:
    """The environment variable a bad option value came from (not the flag the user never
    typed), or None."""
    if not isinstance(exc, click.BadParameter) or exc.ctx is None or exc.param is None:
        return None
    name = exc.param.name
    if name is None or exc.ctx.get_parameter_source(name) != ParameterSource.ENVIRONMENT:
        return None
    envvar = exc.param.envvar
    if isinstance(envvar, str):
        return envvar
    return next((v for v in envvar or () if os.environ.get(v) is not None), None)


@click.group(cls=_Boundary, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kpoc")
def cli() -> None:
    """kpoc — Kafka, done properly, from Python.

    \b
    Quick start:
      kpoc cluster up              # a real 3-node Apache Kafka (KRaft) on 127.0.0.1
      kpoc cluster status
    """


from . import acls as _acls  # noqa: E402
from . import bench as _bench  # noqa: E402
from . import chaos as _chaos  # noqa: E402
from . import cluster as _cluster  # noqa: E402
from . import console as _console  # noqa: E402
from . import consume as _consume  # noqa: E402
from . import demo as _demo  # noqa: E402
from . import doctor as _doctor  # noqa: E402
from . import groups as _groups  # noqa: E402
from . import produce as _produce  # noqa: E402
from . import topics as _topics  # noqa: E402

cli.add_command(_cluster.cluster)
cli.add_command(_demo.demo)
cli.add_command(_produce.produce)
cli.add_command(_consume.consume)
cli.add_command(_topics.topics)
cli.add_command(_groups.groups)
cli.add_command(_console.console)
cli.add_command(_doctor.doctor)
cli.add_command(_chaos.chaos)
cli.add_command(_bench.bench)
cli.add_command(_acls.acls)


def main() -> None:
    cli(prog_name="kpoc")
