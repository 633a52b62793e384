"""Run a command that must not outlive another process (a test session's Kafka node).

``python _watchdog.py OWNER_PID LOG CMD...`` starts CMD (stdin /dev/null, stdout and stderr
appended to LOG), prints its pid on stdout, closes stdout and returns at once; a forked watchdog
stays behind as CMD's parent and SIGKILLs it within ``POLL`` seconds of OWNER's end, however
OWNER ended (SIGKILL included). It is CMD's parent, so CMD's pid cannot be reused before the
watchdog has reaped it, and it recognises OWNER by pid and start time, so a reused owner pid
does not keep CMD alive. The caller's threads do not matter (PR_SET_PDEATHSIG would fire when the
starting thread ends, and kpoc restarts nodes from worker threads). Standard library only: it
runs as a script with ``python -I -S``, without importing kpoc.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys

POLL = 1.0


def start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat); None once it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print("usage: _watchdog.py OWNER_PID LOG CMD...", file=sys.stderr)
        return 2
    owner, log, cmd = int(argv[1]), argv[2], argv[3:]
    born = start_time(owner)
    if born is None:
        print(f"process {owner} is not running: not starting {cmd[0]}", file=sys.stderr)
        return 1
    if os.fork():
        os._exit(0)  # the caller reaps this process now; the watchdog is re-parented to init
    with open(log, "ab") as out:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT)
    print(child.pid, flush=True)
    quiet = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):  # the caller reads our stdout and stderr to their end
        os.dup2(quiet, fd)
    done = os.pidfd_open(child.pid)
    while not select.select([done], [], [], POLL)[0]:
        if start_time(owner) != born:
            child.kill()
            break
    child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
