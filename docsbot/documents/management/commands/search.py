"""python manage.py search --team SLUG "query" --k 5 [--json] [--mode hybrid|dense|bm25]"""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from docsbot.documents.selectors import SEARCH_MODES, chunk_search
from docsbot.teams.commands import team_or_error


class Command(BaseCommand):
    help = "Search a team's documentation (hybrid BM25 + dense retrieval)."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True)
        parser.add_argument("query")
        parser.add_argument("--k", type=int, default=5)
        parser.add_argument("--mode", choices=SEARCH_MODES, default="hybrid")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, team: str, query: str, k: int, mode: str, json: bool, **options):
        found = team_or_error(team)
        if not 1 <= k <= 100:
            raise CommandError("--k must be between 1 and 100", returncode=2)
        hits = chunk_search(team=found, query=query, k=k, mode=mode)
        if json:
            self.stdout.write(_dumps([hit.as_json() for hit in hits]))
            return
        if not hits:
            self.stdout.write("no results")
        for number, hit in enumerate(hits, start=1):
            self.stdout.write(f"{number}. {hit.title} — {hit.section}  ({hit.url})  score {hit.score:.4f}")
            self.stdout.write("   " + hit.text[:200].replace("\n", " "))


def _dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
