"""Claim ids for claimable rows and the dead-holder test.

A claim id is `{hostname}:{pid}:{process start time}`. A claim held by a process on this host whose
pid is gone, or now belongs to a process with another start time, is dead: its rows can be reclaimed
at once instead of waiting for the 10-minute staleness rule.
"""

from __future__ import annotations

import functools
import os
import socket


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` in clock ticks since boot, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            stat = fh.read()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces, so split after its closing paren.
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19]


@functools.cache
def claim_id() -> str:
    """This process's holder id."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or '0'}"


def holder_is_dead(holder: str | None) -> bool:
    """True when `holder` is a process on this host that no longer exists."""
    if not holder:
        return False
    try:
        host, pid_text, started = holder.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    return _start_time(pid) != started
