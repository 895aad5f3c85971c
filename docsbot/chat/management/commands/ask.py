"""``manage.py ask --team SLUG "question" [--json] [--adapter-version N]``: one answer from the command line."""
from __future__ import annotations

import contextlib
import json as jsonlib
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from docsbot.chat.generate import answer_question
from docsbot.chat.models import Conversation
from docsbot.core.errors import AppError, command_error
from docsbot.teams.commands import team_or_error


@contextlib.contextmanager
def serving_url() -> Iterator[str]:
    """The configured serving endpoint, else an embedded server for the command's duration."""
    if settings.SERVING_URL:
        yield settings.SERVING_URL
        return
    from docsbot.core.serving import embedded_server

    with embedded_server() as url:
        yield url


class Command(BaseCommand):
    help = "Ask a team's docs assistant one question and print the answer with its sources."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("question")
        parser.add_argument("--json", action="store_true", help="print {answer, sources, adapter_version, seconds}")
        parser.add_argument("--adapter-version", type=int, metavar="N",
                            help="answer with the team's adapter version N, promoted or not (try a candidate)")

    def handle(self, *args, team: str, question: str, **options):
        as_json = options["json"]
        from serving.client import ServingClient, ServingError

        record = team_or_error(team)
        pinned = options.get("adapter_version")
        if pinned is not None:  # checked first: a question the docs do not cover never reaches the model
            from docsbot.adapters.models import AdapterVersion

            if not AdapterVersion.objects.filter(team=record, number=pinned).exists():
                raise CommandError(f"team {record.slug!r} has no adapter version {pinned}", returncode=4)
        started = time.perf_counter()
        try:
            with serving_url() as url:
                client = ServingClient(url, api_key=settings.SERVING_API_KEY)
                answer = answer_question(team=record, question=question, client=client,
                                         channel=Conversation.Channel.CLI, pinned_version=pinned)
        except AppError as exc:
            raise command_error(exc) from None
        except ServingError as exc:
            raise CommandError(f"serving failed: {exc}") from None
        finally:
            if pinned is not None:
                from docsbot.adapters.experiments import candidate_release

                candidate_release(team=record, number=pinned)
        seconds = round(time.perf_counter() - started, 3)
        result = {"answer": answer.answer, "sources": answer.sources, "adapter_version": answer.adapter_version,
                  "seconds": seconds, "conversation_id": answer.conversation_id,
                  "no_relevant_docs": answer.no_relevant_docs}
        if as_json:
            self.stdout.write(_dumps(result))
            return
        self.stdout.write(answer.answer)
        if answer.sources:
            self.stdout.write("\nSources:")
            for source in answer.sources:
                section = f" — {source['section']}" if source["section"] else ""
                self.stdout.write(f"  [{source['index']}] {source['title']}{section}  {source['url']}")
        version = f"adapter v{answer.adapter_version}" if answer.adapter_version else "base model"
        if options.get("adapter_version") is not None:
            version += " (chosen with --adapter-version)"
        self.stdout.write(f"\n({version}, {seconds:.2f} s)")


def _dumps(value: dict) -> str:
    return jsonlib.dumps(value, indent=2, ensure_ascii=False)
