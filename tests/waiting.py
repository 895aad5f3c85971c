"""Waiting on events with deadlines scaled to the machine, never on fixed sleeps."""
from __future__ import annotations

import os
import subprocess
import time

import pytest


def scaled(seconds: float) -> float:
    """``seconds`` on an idle machine, stretched by the load: a worker on a shared, busy machine may
    take minutes to start. DOCSBOT_TEST_TIME_SCALE multiplies it further."""
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * max(1.0, load) * float(os.environ.get("DOCSBOT_TEST_TIME_SCALE", "1"))


def wait_for(condition, what: str, *, seconds: float = 120, process: subprocess.Popen | None = None,
             describe=None):
    """Poll ``condition`` until it returns something truthy; fail when ``process`` exits first or
    the scaled deadline passes (``describe(process)`` adds the process's output to the failure)."""
    deadline = time.monotonic() + scaled(seconds)
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"the process exited while waiting for {what}: {describe(process) if describe else ''}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}: {describe(process) if describe and process else ''}")
