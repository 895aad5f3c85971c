"""The demo waits for its workers through /health/detail, with an admin-role token of its own."""
import io
import json

import pytest
from django.core.management.base import CommandError

from docsbot.core.management.commands.demo import Command
from docsbot.core.supervisor import Supervisor
from docsbot.teams.models import ApiToken
from docsbot.teams.selectors import api_token_for
from docsbot.teams.services import api_token_revoke
from tests.waiting import scaled


@pytest.fixture
def demo(live_server, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.SERVING_URL = None
    command = Command(stdout=io.StringIO())
    command.base_url = live_server.url
    return command


def test_it_waits_on_the_health_detail_with_an_admin_token_it_keeps(demo, tmp_path):
    credentials = demo.ensure_demo_team()
    token = api_token_for(token=credentials["health_token"])
    assert token is not None and token.role == ApiToken.Role.ADMIN
    supervisor = Supervisor(log_dir=tmp_path / "logs")
    try:
        # No worker of this test consumes the queues: the detail says so (unless another run's do).
        demo.wait_for_health(supervisor, credentials["health_token"], timeout=scaled(4))
    except CommandError as error:
        report = json.loads(str(error).split(": ", 1)[1])
        assert report["components"]["database"]["status"] == "ok", report
        assert report["components"]["workers"]["status"] != "ok", report

    # A token the demo's credentials file names but the database no longer holds is issued again.
    api_token_revoke(token=token)
    again = demo.ensure_demo_team()
    assert again["health_token"] != credentials["health_token"]
    assert api_token_for(token=again["health_token"]).role == ApiToken.Role.ADMIN
    assert json.loads((tmp_path / "demo_credentials.json").read_text())["health_token"] == again["health_token"]


def test_it_stops_waiting_at_once_when_the_detail_refuses_its_token(demo, tmp_path):
    demo.ensure_demo_team()
    with pytest.raises(CommandError, match="HTTP 401"):
        # Refused is final: the demo says so instead of waiting out its whole start-up timeout.
        demo.wait_for_health(Supervisor(log_dir=tmp_path / "logs"), "dbt_not-the-token", timeout=scaled(120))


class _Recorder(Supervisor):
    """Records what the demo would start, with each process's environment, and starts nothing."""

    def __init__(self, log_dir):
        super().__init__(log_dir=log_dir)
        self.started: dict[str, dict[str, str]] = {}

    def start(self, name, command, env=None):
        self.started[name] = dict(env or {})


def test_every_worker_it_starts_knows_the_embedded_serving_engines_url(demo, settings, tmp_path):
    # The chat worker answers Slack slash commands and webhooks through the serving engine.
    settings.EMBEDDED_REDIS = False
    demo.env = {}
    recorder = _Recorder(tmp_path / "logs")
    demo.start_services(recorder, port=8400)
    assert {"serving", "worker-default", "worker-chat", "worker-gpu", "web"} <= set(recorder.started)
    for name in ("worker-default", "worker-chat", "worker-gpu", "web"):
        assert recorder.started[name]["DOCSBOT_SERVING_URL"] == "http://127.0.0.1:8401", name
