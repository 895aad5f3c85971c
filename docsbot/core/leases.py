"""Leases for background runs (ingestion, pair generation): the training jobs' claim-and-recover
treatment, for any model with ``status``, ``lease_owner``, ``lease_expires`` and ``attempts``.

A worker claims a run with one conditional UPDATE: a queued run, a running one whose lease
expired, or a running one whose holder was a process on this host that no longer exists (a worker
killed with -9 and restarted). It renews the lease while it works and writes a terminal state only
while it still holds it. A worker that starts, and the beat's sweep every minute
(``docsbot.core.tasks.recover_interrupted``), requeue the runs whose worker is gone.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F, Model, Q
from django.utils import timezone

from docsbot.processes import owner_dead_here

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker holds the run now; this one must stop without writing results."""


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_claim(model: type[Model], *, pk: int, owner: str, queued: str, running: str,
                **fields: Any) -> bool:
    """Claim the run for ``owner``; False when someone alive holds it or it is finished."""
    now = timezone.now()
    claim = {"status": running, "lease_owner": owner, "lease_expires": now + timedelta(seconds=settings.RUN_LEASE_SECONDS),
             "attempts": F("attempts") + 1, **fields}
    if model.objects.filter(pk=pk).filter(Q(status=queued) | Q(status=running, lease_expires__lt=now)
                                          | Q(status=running, lease_expires__isnull=True)).update(**claim):
        return True
    holder = model.objects.filter(pk=pk, status=running).values_list("lease_owner", flat=True).first()
    if not holder or not owner_dead_here(holder):
        return False
    return bool(model.objects.filter(pk=pk, status=running, lease_owner=holder).update(**claim))


def lease_renew(model: type[Model], *, pk: int, owner: str, running: str, seconds: float | None = None,
                **fields: Any) -> None:
    """Extend the lease by ``seconds`` (default: a run's, ``RUN_LEASE_SECONDS``) and write ``fields``; raises
    ``LeaseLost`` when it is no longer ours."""
    if not model.objects.filter(pk=pk, status=running, lease_owner=owner).update(
            lease_expires=timezone.now() + timedelta(seconds=seconds or settings.RUN_LEASE_SECONDS), **fields):
        holder = model.objects.filter(pk=pk).values_list("lease_owner", "status").first()
        raise LeaseLost(f"{model.__name__} {pk} is now {holder and holder[1]}, held by {holder and holder[0]!r}")


class LeaseKeeper:
    """What ``lease_kept`` found: ``check()`` raises the ``LeaseLost`` a renewal met once the run was taken over."""

    def __init__(self) -> None:
        self.lost: LeaseLost | None = None
        self.renewals = 0

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost


@contextlib.contextmanager
def lease_kept(renew: Callable[[], None], *, lease_seconds: float, name: str) -> Iterator[LeaseKeeper]:
    """Call ``renew`` from a background thread every quarter of the lease while the block runs. The work's own
    progress writes renew the lease too, but they can come further apart than it: one long section of questions
    that a CPU model writes outlasted a generation run's 300 s, and a training job's evaluation or model loading
    its 120 s, and then a redelivered message or a starting worker takes over a run that is still working. The
    thread proves that this process is alive, which is what the lease stands for: a process that dies stops
    renewing. ``renew`` raises ``LeaseLost`` once another worker holds the run; call ``check()`` at the work's
    own safe points."""
    keeper = LeaseKeeper()
    stop = threading.Event()

    def beat() -> None:
        # Signals go to the work's thread, as before this one existed: a soft time limit's signal taken here would
        # not interrupt a blocking call there, and one the work blocks (a native call that hangs) must stay
        # pending for the hard kill, not run its handler through this thread.
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            while not stop.wait(lease_seconds / 4):
                try:
                    renew()
                    keeper.renewals += 1
                except LeaseLost as exc:
                    keeper.lost = exc
                    return
                except DatabaseError as exc:  # SQLite busy with the work's own write: the next beat renews
                    log.warning("%s: lease renewal failed, retrying: %s", name, exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"lease {name}", daemon=True)
    thread.start()
    try:
        yield keeper
    finally:
        stop.set()
        thread.join()


def lease_finish(model: type[Model], *, pk: int, owner: str, running: str, **fields: Any) -> bool:
    """Write the terminal state, only while ``owner`` still holds the run."""
    return bool(model.objects.filter(pk=pk, status=running, lease_owner=owner).update(lease_expires=None, **fields))


def runs_to_recover(model: type[Model], *, running: str) -> list[tuple[int, str, int]]:
    """(pk, owner, attempts) of running runs whose worker is gone: expired lease or dead here."""
    now = timezone.now()
    return [(pk, owner, attempts) for pk, owner, expires, attempts in
            model.objects.filter(status=running).values_list("pk", "lease_owner", "lease_expires", "attempts")
            if expires is None or expires < now or owner_dead_here(owner)]


def runs_requeue(model: type[Model], *, running: str, queued: str) -> list[int]:
    """Put the running runs whose worker is gone back in the queue (status ``queued``, attempts kept, so
    a run that kills its worker every time still fails at ``RUN_MAX_ATTEMPTS``); the caller sends their
    messages. Each flip is conditional on the dead holder, so two sweepers never requeue one run twice."""
    return [pk for pk, owner, _ in runs_to_recover(model, running=running)
            if model.objects.filter(pk=pk, status=running, lease_owner=owner).update(
                status=queued, lease_owner="", lease_expires=None)]
