"""python manage.py generate_qa --team SLUG [--generator structural|llm] [--json]"""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from docsbot.core.errors import AppError, command_error
from docsbot.teams.commands import team_or_error


class Command(BaseCommand):
    help = "Generate, filter and store question-answer pairs for a team's changed chunks, in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--generator", choices=["structural", "llm"],
                            help="override the team's generator for this run (default: the team's, structural); "
                                 "llm adds, to the structural pairs, questions the serving model writes for prose "
                                 "sentences, kept only after a round trip")
        parser.add_argument("--json", action="store_true", help="print the JSON summary only")

    def handle(self, *args, team: str, generator: str | None, json: bool, **options):
        from docsbot.qa.services import qa_generate

        found = team_or_error(team)
        try:
            report = qa_generate(team=found, generator=generator)
        except AppError as exc:
            raise command_error(exc) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        summary = report.as_dict()
        if json:
            self.stdout.write(_dumps(summary))
            return
        rejected = ", ".join(f"{reason} {count}" for reason, count in summary["rejected"].items()) or "none"
        self.stdout.write(
            f"{found.slug}: {summary['pairs']} pairs generated from {summary['chunks_generated']} changed chunks "
            f"({summary['chunks_unchanged']} unchanged), {summary['kept']} kept, {summary['heldout']} held out; "
            f"rejected: {rejected}; {summary['seconds']:.1f} s")


def _dumps(summary: dict) -> str:
    return json.dumps(summary, indent=2)
