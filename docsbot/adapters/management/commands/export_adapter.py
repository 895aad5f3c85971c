"""``manage.py export_adapter --team SLUG --version N [--out DIR] [--merged DIR]``.

``--merged``: LoRA, QLoRA, DoRA and IA3 versions (a merged model vLLM serves as a model of its own).
"""
import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from docsbot.adapters.management.commands._common import version_or_error
from docsbot.teams.commands import team_or_error


class Command(BaseCommand):
    help = "Copy an adapter version (PEFT + docsbot.json), or write base+adapter merged into one model."

    def add_arguments(self, parser):
        # Our --version is an adapter version number, replacing Django's --version.
        parser.conflict_handler = parser._optionals.conflict_handler = "resolve"
        parser.add_argument("--team", required=True)
        parser.add_argument("--version", required=True, type=int, dest="number")
        parser.add_argument("--out", type=Path, help="copy the adapter directory here")
        parser.add_argument("--merged", type=Path, help="write the merged standalone model here")

    def handle(self, *args, team: str, number: int, out: Path | None, merged: Path | None, **options):
        version = version_or_error(team_or_error(team), number)
        source = Path(version.path)
        if not source.is_dir():
            raise CommandError(f"version {number}'s files are missing: {source}")
        if merged:
            from training.artifacts import export_merged

            try:  # LoRA, QLoRA, DoRA and IA3 fold into the weights; soft prompts and bottlenecks cannot
                written = export_merged(source, merged)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"merged model written to {written}")
        if out:
            if out.exists():
                raise CommandError(f"{out} exists; choose a new directory")
            shutil.copytree(source, out)
            self.stdout.write(f"adapter copied to {out}")
        if not (out or merged):
            self.stdout.write(str(source))
