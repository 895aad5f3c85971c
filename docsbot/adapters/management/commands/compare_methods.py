"""``manage.py compare_methods --team SLUG [--methods lora ia3 ...] [--minutes-per-method N] [--json]``."""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from docsbot.adapters.comparisons import comparable_methods, method_comparison_run
from docsbot.adapters.management.commands.train import _load_dataset
from docsbot.core.errors import REFUSED, command_error
from docsbot.teams.commands import team_or_error


class Command(BaseCommand):
    help = ("Train every adapter method on the team's pairs (the same split, the same time budget each) and "
            "report parameters, size, training speed, memory, held-out quality against the base, forgetting "
            "and decode speed; the report is kept on the team (admin: Method comparisons).")

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)
        parser.add_argument("--methods", nargs="+", help="default: every method this machine can train")
        parser.add_argument("--minutes-per-method", type=float, default=5.0, help="training time budget each")
        parser.add_argument("--max-steps", type=int, help="a step cap per method (tests, smoke runs)")
        parser.add_argument("--eval-max-examples", type=int, default=75)
        parser.add_argument("--eval-max-new-tokens", type=int, default=96)
        parser.add_argument("--decode-tokens", type=int, default=32, help="tokens decoded for the serving speed")
        parser.add_argument("--dataset", type=Path, help="a dataset file (as train --dataset) instead of the "
                            "team's approved pairs")
        parser.add_argument("--json", action="store_true", help="print only the JSON report")

    def handle(self, *args, team: str, methods: list[str] | None, minutes_per_method: float, max_steps: int | None,
               eval_max_examples: int, eval_max_new_tokens: int, decode_tokens: int, dataset: Path | None,
               json: bool, **options):

        if minutes_per_method <= 0:
            raise CommandError("--minutes-per-method: must be positive")
        chosen = methods or list(comparable_methods())

        def show(row: dict) -> None:
            if not json:
                quality = row.get("adapter") or {}
                self.stderr.write(f"{row['method']}: {row['trainable_parameters']} parameters, "
                                  f"{row['train_seconds']:.0f}s, F1 {quality.get('f1', float('nan')):.3f}")

        try:
            report = method_comparison_run(
                team=team_or_error(team), methods=chosen, minutes_per_method=minutes_per_method,
                dataset=_load_dataset(dataset) if dataset else None, max_steps=max_steps,
                eval_max_examples=eval_max_examples, eval_max_new_tokens=eval_max_new_tokens,
                decode_tokens=decode_tokens, on_method=show)
        except REFUSED as exc:
            raise command_error(exc) from None
        self.stdout.write(_dumps(report, indent=None if json else 2))


def _dumps(value, indent):
    return json.dumps(value, indent=indent, default=str)
