"""Preflight against the serving endpoint: runtime LoRA routes, and what it can serve."""
from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from docsbot.config import ConfigError
from docsbot.core.preflight import check_serving_runtime_lora, method_refused_by_serving


class _VllmWithoutRuntimeUpdates(BaseHTTPRequestHandler):
    """What `vllm serve M --enable-lora` answers without VLLM_ALLOW_RUNTIME_LORA_UPDATING: its routes,
    FastAPI's 404 for the load/unload ones it did not mount."""

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/version":
            self._send(200, {"version": "0.34.0"})
        elif self.path == "/health":
            self._send(200, {})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._send(404, {"detail": "Not Found"})

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def vllm_without_runtime_updates():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _VllmWithoutRuntimeUpdates)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_it_says_when_the_serving_endpoint_has_no_runtime_lora_routes(settings, vllm_without_runtime_updates):
    settings.SERVING_URL = vllm_without_runtime_updates
    with pytest.raises(ConfigError) as caught:
        check_serving_runtime_lora()
    message = str(caught.value)
    assert message.startswith(f"DOCSBOT_SERVING_URL: {vllm_without_runtime_updates} has no runtime LoRA loading")
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in message


def test_it_passes_a_server_with_runtime_lora_routes_and_one_that_is_down(settings, serving_url):
    settings.SERVING_URL = serving_url  # the embedded server
    check_serving_runtime_lora()
    settings.SERVING_URL = "http://127.0.0.1:9"
    check_serving_runtime_lora()  # down: the health check reports that, not preflight
    if os.environ.get("VLLM_URL"):
        settings.SERVING_URL = os.environ["VLLM_URL"]
        check_serving_runtime_lora()


def test_it_refuses_methods_vllm_cannot_serve_when_the_serving_backend_is_vllm(settings, serving_url,
                                                                                vllm_without_runtime_updates):
    settings.SERVING_URL = os.environ.get("VLLM_URL") or vllm_without_runtime_updates
    for method in ("dora", "ia3", "prompt_tuning", "prefix_tuning", "bottleneck"):
        reason = method_refused_by_serving(method)
        assert reason is not None and "cannot be served by vLLM" in reason and "method lora or qlora" in reason
    assert method_refused_by_serving("lora") is None
    assert method_refused_by_serving("qlora") is None
    settings.SERVING_URL = serving_url  # the embedded server serves every method
    assert method_refused_by_serving("dora") is None
    settings.SERVING_URL = None
    assert method_refused_by_serving("dora") is None


@pytest.mark.django_db
def test_it_refuses_to_queue_a_dora_job_for_a_vllm_deployment(settings, vllm_without_runtime_updates):
    from django.core.exceptions import ValidationError

    from docsbot.adapters.models import TrainingJob
    from docsbot.adapters.services import training_job_create
    from docsbot.teams.models import Team

    team = Team.objects.create(slug="vllm-team", name="vLLM team")
    settings.SERVING_URL = vllm_without_runtime_updates
    with pytest.raises(ValidationError, match="dora adapters cannot be served by vLLM"):
        training_job_create(team=team, method="dora", enqueue=False)
    assert not TrainingJob.objects.filter(team=team).exists()
    assert training_job_create(team=team, method="lora", enqueue=False).method == "lora"
