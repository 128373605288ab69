"""Who wrote a record (a lock, an open run), and is that process still alive?

A record carries the writer's pid, host name, `machine` (host name, boot id and pid namespace:
two containers that share a host name but not their pids differ) and `process_start` (the
kernel's start time of that pid, so a pid reused by a later process does not pass for the
writer). Only a reader on the same machine can tell: elsewhere the answer is ELSEWHERE, and a
record without these keys (written by an older version) is UNKNOWN.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

ALIVE, DEAD, ELSEWHERE, UNKNOWN = "alive", "dead", "elsewhere", "unknown"


def identity() -> dict[str, str]:
    """This process, as a record names its writer (all values are strings: MLflow tags)."""
    pid = os.getpid()
    return {
        "pid": str(pid),
        "host": socket.gethostname(),
        "machine": machine(),
        "process_start": process_start(pid),
    }


def machine() -> str:
    """Host name, boot id and pid namespace: where a pid means the same process."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}|{boot}|{namespace}"


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (None: no /proc, or no such pid)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def process_start(pid: int) -> str:
    """The kernel's start time of `pid` (clock ticks since boot), '' where /proc says nothing."""
    fields = _stat(pid)
    return fields[19] if fields and len(fields) > 19 else ""


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    fields = _stat(pid)
    return not (fields and fields[0] in ("Z", "X"))  # killed, not yet reaped: gone


def state(record: Mapping[str, str]) -> str:
    """ALIVE or DEAD where this machine can tell, else ELSEWHERE (or UNKNOWN: no writer)."""
    try:
        pid = int(record["pid"])
        where = record["machine"]
    except (KeyError, TypeError, ValueError):
        return UNKNOWN
    if where != machine():
        return ELSEWHERE
    if pid <= 0 or not _running(pid):
        return DEAD
    started = record.get("process_start") or ""
    now = process_start(pid)
    return DEAD if started and now and started != now else ALIVE  # a reused pid: not ours


def describe(record: Mapping[str, str]) -> str:
    """'pid 4242 on runner-7' (or 'an unknown process')."""
    if not record.get("pid"):
        return "an unknown process"
    return f"pid {record['pid']} on {record.get('host') or '?'}"
