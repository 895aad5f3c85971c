"""Whether a process is still alive: lease recovery (runs, training jobs) and the embedded Redis's
holders ask it. Standard library only: embedded_redis runs before Django is set up."""
from __future__ import annotations

import os
import socket


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def owner_dead_here(owner: str, host: str | None = None) -> bool:
    """Whether ``owner`` ("host:pid[:...]") is a process on ``host`` (default: this one) that no longer exists."""
    owner_host, _, pid = owner.partition(":")
    pid = pid.split(":")[0]
    return owner_host == (host or socket.gethostname()) and pid.isdigit() and not pid_alive(int(pid))
