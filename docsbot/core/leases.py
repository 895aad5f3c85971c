"""Leases for background runs (ingestion, pair generation): the training jobs' claim-and-recover
treatment, for any model with ``status``, ``lease_owner``, ``lease_expires`` and ``attempts``.

A worker claims a run with one conditional UPDATE: a queued run, a running one whose lease
expired, or a running one whose holder was a process on this host that no longer exists (a worker
killed with -9 and restarted). It renews the lease while it works and writes a terminal state only
while it still holds it. A worker that starts requeues the runs whose worker is gone.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
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


def lease_renew(model: type[Model], *, pk: int, owner: str, running: str, **fields: Any) -> None:
    """Extend the lease (and write ``fields``); raises ``LeaseLost`` when it is no longer ours."""
    if not model.objects.filter(pk=pk, status=running, lease_owner=owner).update(
            lease_expires=timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS), **fields):
        holder = model.objects.filter(pk=pk).values_list("lease_owner", "status").first()
        raise LeaseLost(f"{model.__name__} {pk} is now {holder and holder[1]}, held by {holder and holder[0]!r}")


def lease_finish(model: type[Model], *, pk: int, owner: str, running: str, **fields: Any) -> bool:
    """Write the terminal state, only while ``owner`` still holds the run."""
    return bool(model.objects.filter(pk=pk, status=running, lease_owner=owner).update(lease_expires=None, **fields))


def runs_to_recover(model: type[Model], *, running: str) -> list[tuple[int, str, int]]:
    """(pk, owner, attempts) of running runs whose worker is gone: expired lease or dead here."""
    now = timezone.now()
    return [(pk, owner, attempts) for pk, owner, expires, attempts in
            model.objects.filter(status=running).values_list("pk", "lease_owner", "lease_expires", "attempts")
            if expires is None or expires < now or owner_dead_here(owner)]
