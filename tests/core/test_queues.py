"""Slack and webhook answers have their own queue and workers: they never wait behind an ingestion."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from docsbot.celery import app

ROOT = Path(__file__).resolve().parents[2]


def test_it_routes_slack_answers_to_the_chat_queue_and_ingestion_to_default():
    route = app.amqp.router.route
    for task in ("docsbot.chat.tasks.slack_answer_event", "docsbot.chat.tasks.slack_answer_command"):
        assert route({}, task)["queue"].name == "chat", task
    assert route({}, "docsbot.documents.tasks.ingest")["queue"].name == "default"
    assert route({}, "docsbot.qa.tasks.generate_qa_run")["queue"].name == "default"


def _queues(command: list[str]) -> set[str]:
    return set(command[command.index("-Q") + 1].split(",")) if "-Q" in command else set()


def test_it_runs_chat_workers_apart_from_the_default_queue_in_compose_and_the_demo():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    consumed = [_queues(s.get("command") or []) for s in services.values()]
    assert {"chat"} in consumed and {"default"} in consumed and {"gpu"} in consumed
    demo = (ROOT / "docsbot" / "core" / "management" / "commands" / "demo.py").read_text()
    assert set(re.findall(r'"-Q", "([a-z,]+)"', demo)) == {"default", "chat", "gpu"}
