"""Fault injection for the reliability tests; does nothing unless DOCSBOT_TRAINING_FAULT is set.

``DOCSBOT_TRAINING_FAULT="<point>:<seconds>:<marker path>"`` pauses at ``point`` for ``seconds`` or
until the test removes the marker file, which is created first: the test watches for it, and a
resumed run finds it and does not pause again. Points:

- ``checkpoint@N``: in the checkpoint at step N, after the weights are written and before the
  COMPLETE marker (a test kills the process there);
- ``stall``: at the start of setup, with every catchable signal blocked, as a native call
  (a hung CUDA kernel or collective) would: a soft time limit cannot interrupt it, only a kill.
"""
from __future__ import annotations

import os
import signal
import time

FAULT_ENV = "DOCSBOT_TRAINING_FAULT"


def inject(point: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, seconds, marker = spec.split(":", 2)
    if name != point:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return  # fired already
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals()) if point == "stall" else None
    deadline = time.monotonic() + float(seconds)
    try:
        while time.monotonic() < deadline and os.path.exists(marker):
            time.sleep(0.1)
    finally:
        if blocked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
