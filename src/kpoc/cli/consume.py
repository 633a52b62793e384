"""``kpoc consume``: read topics in a consumer group and print what arrives."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import click

from ..config import DEFAULT_TOPIC
from ..consumer import DEFAULT_GROUP, Consumer, GroupEvent, parse_start
from ._common import client_options, config_from, err, output_option
from ._text import check_format, format_record, human_record


def _stop_on_signals(consumer: Consumer, quiet: bool) -> None:
    """Ctrl-C or SIGTERM (docker stop, kill): finish the message in hand, commit, leave the group.

    A flag, not an exception, so a line is never cut in half; a second signal leaves at once.
    """
    def handler(signum: int, frame: Any) -> None:
        if consumer.stopping:
            raise KeyboardInterrupt
        if not quiet:
            err.print("kpoc: interrupted; committing and leaving the group", markup=False)
        consumer.stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


@click.command()
@client_options
@output_option
@click.argument("topics", nargs=-1)
@click.option("-t", "--topic", "topic_opt", multiple=True,
              help=f"Topic to read (repeatable; or give TOPICS) [default {DEFAULT_TOPIC}, "
                   "env KPOC_TOPIC].")
@click.option("-g", "--group", default=DEFAULT_GROUP, envvar="KPOC_GROUP", show_default=True,
              help="Consumer group [env KPOC_GROUP].")
@click.option("--from", "start", metavar="WHERE",
              help="beginning | end | <offset> | -N (last N per partition) | @<timestamp ms>. "
                   "Default: the group's committed offset, else the beginning.")
@click.option("-p", "--partition", "partitions", type=int, multiple=True,
              help="Read only these partitions (repeatable); no group rebalancing.")
@click.option("-c", "--count", type=int, help="Stop after N messages.")
@click.option("-e", "--exit-at-end", is_flag=True,
              help="Stop when every assigned partition is drained (works in group mode too).")
@click.option("-f", "--format", "fmt", metavar="FMT",
              help="kcat-style line format, e.g. '%t [%p] @%o: %k %s\\n'.")
@click.option("-q", "--quiet", is_flag=True, help="No group events on stderr.")
def consume(topics: tuple[str, ...], topic_opt: tuple[str, ...], group: str, start: str | None,
            partitions: tuple[int, ...], count: int | None, exit_at_end: bool, fmt: str | None,
            quiet: bool, output: str, **conn: Any) -> None:
    """Read topics as a member of a consumer group and print each message.

    Offsets are committed only after a message was printed (at least once); Ctrl-C or SIGTERM
    commits and leaves the group. Group events (partitions assigned, revoked, idle) go to stderr.

    \b
    Example:
      kpoc consume                                   # topic teste, group kpoc
      kpoc consume teste --from beginning -e         # read everything, then stop
      kpoc consume teste -g demo                     # run 4 of these: one is idle
      kpoc consume teste -o json -e > backup.jsonl   # lossless export
      kpoc consume teste -f '%t [%p] @%o: %k %s\\n'
    """
    names = list(topics) + list(topic_opt) or [os.environ.get("KPOC_TOPIC", DEFAULT_TOPIC)]
    position = parse_start(start) if start else None
    line_format = check_format(fmt) if fmt else None
    config = config_from(conn)

    def event(e: GroupEvent) -> None:
        if quiet:
            return
        if output == "json":
            err.print(json.dumps(e.to_dict()), markup=False)
        else:
            err.print(f"kpoc: {e.describe()}", markup=False)

    write = sys.stdout.write
    with Consumer(config, names, group, position, list(partitions) or None, on_event=event) as c:
        _stop_on_signals(c, quiet)
        try:
            for rec in c.records(count=count, exit_at_end=exit_at_end):
                if output == "json":
                    write(rec.to_json() + "\n")
                elif line_format is not None:
                    write(format_record(line_format, rec))
                else:
                    write(human_record(rec) + "\n")
                sys.stdout.flush()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting; close() still commits
            err.print("kpoc: interrupted again; leaving now", markup=False)
