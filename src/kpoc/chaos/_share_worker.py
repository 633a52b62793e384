"""A share-group member for the queue scenario (``python -m kpoc.chaos._share_worker``).

It reads with kpoc's own :class:`~kpoc.share.ShareReader` (a record is accepted only once
handled), spends ``--work-ms`` on each record, then "processes" it by appending ``partition
offset seq delivery_count`` to ``--out``. SIGTERM finishes the record in hand and leaves.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time


def main(argv: list[str]) -> int:
    from ..config import ClientConfig
    from ..share import ShareReader
    from .checker import parse_value

    ap = argparse.ArgumentParser(prog="kpoc.chaos._share_worker")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work-ms", type=float, default=2.0)
    a = ap.parse_args(argv)
    fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with ShareReader(ClientConfig(a.bootstrap, timeout=30), [a.topic], a.group) as r:
        signal.signal(signal.SIGTERM, lambda *_: r.stop())
        for d in r.deliveries():
            time.sleep(a.work_ms / 1000)
            ps = parse_value(d.record.value)
            os.write(fd, f"{d.record.partition} {d.record.offset} "
                         f"{ps[1] if ps else '-'} {d.delivery_count}\n".encode())
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
