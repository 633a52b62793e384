"""``kpoc consume``: read topics in a consumer group and print what arrives."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import click

from ..config import DEFAULT_TOPIC, ClientConfig
from ..consumer import DEFAULT_GROUP, Consumer, GroupEvent, parse_start
from ..errors import UsageError
from ..share import ACK_MODES, ShareReader, pattern_decider
from ._common import (
    client_options,
    config_from,
    err,
    group_protocol_option,
    old_flag,
    output_option,
)
from ._text import check_format, format_record, human_record


def _stop_on_signals(consumer: Consumer | ShareReader, quiet: bool) -> None:
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
@click.option("-n", "--count", type=int, help="Stop after N messages.")
@old_flag("-c", "count", "-n/--count (-c means a config elsewhere)", type=int)
@click.option("-e", "--exit-at-end", is_flag=True,
              help="Stop when every assigned partition is drained (works in group mode too).")
@click.option("-f", "--format", "fmt", metavar="FMT",
              help="kcat-style line format, e.g. '%t [%p] @%o: %k %s\\n'; %h is "
                   "name=value,… with a null header value as the bare name.")
@click.option("-q", "--quiet", is_flag=True, help="No group events on stderr.")
@group_protocol_option
@click.option("--share-group", metavar="NAME", envvar="KPOC_SHARE_GROUP",
              help="Read as a member of share group NAME (KIP-932, a queue): members share "
                   "partitions, each record is acknowledged [env KPOC_SHARE_GROUP].")
@click.option("--ack", type=click.Choice(ACK_MODES), envvar="KPOC_ACK",
              help="Share groups: implicit accepts every record once printed; explicit decides "
                   "per record with --reject-if/--release-if [env KPOC_ACK].")
@click.option("--reject-if", metavar="REGEX",
              help="Share groups, --ack explicit: reject records whose value matches (never "
                   "redelivered).")
@click.option("--release-if", metavar="REGEX",
              help="Share groups, --ack explicit: release records whose value matches "
                   "(redelivered, delivery count + 1, until the group's delivery limit).")
def consume(topics: tuple[str, ...], topic_opt: tuple[str, ...], group: str, start: str | None,
            partitions: tuple[int, ...], count: int | None, exit_at_end: bool, fmt: str | None,
            quiet: bool, group_protocol: str | None, share_group: str | None, ack: str | None,
            reject_if: str | None, release_if: str | None, output: str, **conn: Any) -> None:
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
      kpoc consume teste -g demo --group-protocol consumer   # KIP-848
      kpoc consume teste --share-group jobs -e       # a queue: run 4, all four get records
      kpoc consume teste --share-group jobs --ack explicit --reject-if '^poison'
    """
    names = list(topics) + list(topic_opt) or [os.environ.get("KPOC_TOPIC", DEFAULT_TOPIC)]
    line_format = check_format(fmt) if fmt else None
    config = config_from(conn)
    if share_group is not None:
        if partitions or group_protocol:
            raise UsageError("--share-group does not take --partition or --group-protocol: the "
                             "broker spreads a share group's records over its members",
                             "drop them, or use --group for a consumer group")
        _consume_share(config, names, share_group, ack, reject_if, release_if, start, count,
                       exit_at_end, line_format, quiet, output)
        return
    if ack or reject_if or release_if:
        raise UsageError("--ack, --reject-if and --release-if are for share groups",
                         "add --share-group NAME")
    position = parse_start(start) if start else None

    def event(e: GroupEvent) -> None:
        if quiet:
            return
        if output == "json":
            err.print(json.dumps(e.to_dict()), markup=False)
        else:
            err.print(f"kpoc: {e.describe()}", markup=False)

    write = sys.stdout.write
    with Consumer(config, names, group, position, list(partitions) or None, on_event=event,
                  protocol=group_protocol) as c:
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


def _consume_share(config: ClientConfig, names: list[str], group: str, ack: str | None,
                   reject_if: str | None, release_if: str | None, start: str | None,
                   count: int | None, exit_at_end: bool, line_format: str | None, quiet: bool,
                   output: str) -> None:
    decide = pattern_decider(reject_if, release_if) if (reject_if or release_if) else None
    mode = ack or ("explicit" if decide else "implicit")
    write = sys.stdout.write
    with ShareReader(config, names, group, mode, decide, start) as r:
        _stop_on_signals(r, quiet)
        r.open()
        if not quiet:
            err.print(f"kpoc: share group {group}: reading {', '.join(names)} (members share "
                      "partitions; each record is acknowledged once printed)", markup=False)
        try:
            for d in r.deliveries(count=count, exit_at_end=exit_at_end):
                if output == "json":
                    write(json.dumps(d.to_json_dict(), ensure_ascii=False,
                                     separators=(",", ":")) + "\n")
                else:
                    note = f"(delivery {d.delivery_count}) " if d.delivery_count > 1 else ""
                    verdict = f" [{d.ack}]" if d.ack != "accept" else ""
                    line = (format_record(line_format, d.record) if line_format is not None
                            else human_record(d.record) + "\n")
                    write(note + line.rstrip("\n") + verdict + "\n" if (note or verdict)
                          else line)
                sys.stdout.flush()
        except KeyboardInterrupt:
            err.print("kpoc: interrupted again; leaving now", markup=False)
