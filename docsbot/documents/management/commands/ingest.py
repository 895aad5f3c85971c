"""python manage.py ingest --team SLUG PATH_OR_URL... [--sync] [--json]"""
from __future__ import annotations

import json
import signal
import sys
import threading

from django.core.management.base import BaseCommand, CommandError

from docsbot.teams.commands import team_or_error


class Command(BaseCommand):
    help = ("Ingest documentation files, folders, .zip/.tar.gz archives or a website (start URL) "
            "for a team, in the foreground.")

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
        parser.add_argument("--sync", action="store_true",
                            help="remove the team's documents that are not in this input")
        parser.add_argument("--json", action="store_true", help="print a JSON summary")

    def handle(self, *args, team: str, inputs: list[str], sync: bool, json: bool, **options):
        from docsbot.documents.services import ingest_paths

        found = team_or_error(team)
        bar = _ProgressBar() if sys.stderr.isatty() else None
        # SIGTERM as Ctrl-C: the run is marked failed, not left "running" (signals reach the main thread only).
        on_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if on_main_thread else None
        try:
            summary = ingest_paths(team=found, items=inputs, sync=sync, progress=bar)
        except KeyboardInterrupt:
            raise CommandError("interrupted: the run is marked failed; the documents indexed before it are kept",
                               returncode=130) from None
        finally:
            if on_main_thread:
                signal.signal(signal.SIGTERM, previous)
            if bar is not None:
                bar.close()
        if json:
            self.stdout.write(_json(summary))
        else:
            self.stdout.write(
                f"{found.slug}: {summary['documents']} documents indexed ({summary['chunks']} chunks"
                f"{'; ' + str(summary['updated']) + ' replacing an earlier text' if summary.get('updated') else ''}), "
                f"{summary['unchanged']} unchanged, {summary['duplicates']} near-duplicates, "
                f"{summary['removed']} removed, {len(summary['failed'])} failed in {summary['seconds']:.1f} s")
            for failure in summary["failed"]:
                self.stderr.write(f"  failed: {failure['path']}: {failure['error']}")
        if summary["failed"]:
            # A script must see it: the other inputs are indexed, these are not (exit status 2, invalid input).
            count = len(summary["failed"])
            raise CommandError(f"{count} input{'s' if count != 1 else ''} failed (listed above); "
                               "the others were ingested", returncode=2)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _json(summary: dict) -> str:
    return json.dumps(summary, indent=2)


class _ProgressBar:
    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=0, unit="doc", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, processed: int, total: int, phase: str) -> None:
        if self._bar.total != total:
            self._bar.total = total
        self._bar.set_description(phase)
        self._bar.n = processed
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()
