"""A per-file time limit for parsing and chunking: one slow file (a small PDF whose content stream
expands to minutes of text extraction) fails alone with its reason instead of holding the worker.

The limit is a real-time interval timer (SIGALRM) in the main thread, where Celery's solo and
prefork pools and the CLI run ingestion; parsing is Python code, so the signal lands between
bytecodes and the parse is abandoned. Elsewhere (a thread) the file is parsed without a limit.
"""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class ParseTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``ParseTimeout`` in the block once ``seconds`` of wall-clock time have passed."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise ParseTimeout(f"took longer than the per-file limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
