"""Serving backends for the contract suite: the embedded server always, a real vLLM when VLLM_URL is set.

For vLLM, set VLLM_URL (e.g. http://127.0.0.1:8000), VLLM_MODEL (the served model
name) and VLLM_MODEL_PATH (a local copy of that model, readable here to build
test adapters, at the same path vLLM sees; VLLM_ADAPTER_ROOT if the adapters must
be written to a shared folder). vLLM must run with --enable-lora
--max-lora-rank 16 and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, and without --api-key: the
contract tests send no key, so point them at a test instance, not docker-compose's keyed one.
"""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.serving.helpers import make_adapter


@dataclass
class Backend:
    kind: str  # "embedded" | "vllm"
    url: str
    model: str  # the served base model name
    adapters: dict[str, Path]  # adapter name -> folder
    tokens: dict[str, int] = field(default_factory=dict)  # adapter name -> the token it makes the model emit
    tokenizer: object = None
    adapter_dir: Path | None = None  # the embedded server's on-demand folder
    app: object = None  # the embedded server's Starlette app (engine and registry in app.state)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _word_tokens(tokenizer, count: int) -> list[int]:
    found = []
    for token_id in range(len(tokenizer) - 1, 0, -1):
        text = tokenizer.decode([token_id])
        if text.strip().isalpha() and len(text.strip()) >= 3 and token_id not in tokenizer.all_special_ids:
            found.append(token_id)
        if len(found) == count:
            return found
    raise AssertionError("not enough word tokens in the vocabulary")


def _build_adapters(base_path: Path, root: Path, base_name: str | None) -> tuple[dict[str, Path], dict[str, int]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    tokens = dict(zip(["team-1", "team-2", "team-3"], _word_tokens(tokenizer, 3)))
    external = root / "external"  # outside the resolver folder: only reachable by load_lora_adapter
    adapters: dict[str, Path] = {}
    for index, (name, token) in enumerate(tokens.items(), start=1):
        adapters[name] = make_adapter(base_path, external / name, rank=8, seed=index, boost_token=token,
                                      base_name=base_name)
    adapters["resolved"] = make_adapter(base_path, root / "resolved", rank=8, seed=4, boost_token=tokens["team-2"],
                                        base_name=base_name)
    adapters["dora"] = make_adapter(base_path, external / "dora", rank=4, seed=5, dora=True, base_name=base_name)
    adapters["rank32"] = make_adapter(base_path, external / "rank32", rank=32, seed=6, base_name=base_name)
    adapters["other-base"] = make_adapter(base_path, external / "other-base", rank=8, seed=7,
                                          base_name="someone/another-model")
    corrupt = external / "corrupt"
    corrupt.mkdir(parents=True)
    (corrupt / "adapter_config.json").write_text((adapters["team-1"] / "adapter_config.json").read_text())
    (corrupt / "adapter_model.safetensors").write_bytes(b"\x00garbage" * 10)
    adapters["corrupt"] = corrupt
    adapters["saves-lm-head"] = make_adapter(base_path, external / "saves-lm-head", rank=8, seed=8,
                                             base_name=base_name, modules_to_save=["lm_head"])
    return adapters, tokens


@pytest.fixture(scope="session")
def embedded_backend(tiny_base_model, tmp_path_factory):
    import uvicorn

    from serving.__main__ import build_app, parse_args

    root = tmp_path_factory.mktemp("served-adapters")
    adapters, tokens = _build_adapters(tiny_base_model, root, None)
    args = parse_args(["--base-model", str(tiny_base_model), "--adapter-dir", str(root), "--max-loras", "2",
                       "--max-cpu-loras", "3", "--max-lora-rank", "16"])
    app = build_app(args)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield Backend("embedded", url, str(tiny_base_model), adapters, tokens, app.state.engine.tokenizer, root, app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def vllm_backend(tmp_path_factory):
    url = os.environ.get("VLLM_URL")
    if not url:
        pytest.skip("VLLM_URL not set: no real vLLM to test against")
    from transformers import AutoTokenizer

    model, model_path = os.environ["VLLM_MODEL"], Path(os.environ["VLLM_MODEL_PATH"])
    shared = os.environ.get("VLLM_ADAPTER_ROOT")
    root = Path(tempfile.mkdtemp(dir=shared)) if shared else tmp_path_factory.mktemp("vllm-adapters")
    adapters, tokens = _build_adapters(model_path, root, model)
    return Backend("vllm", url.rstrip("/"), model, adapters, tokens, AutoTokenizer.from_pretrained(model_path))


@pytest.fixture(params=["embedded", "vllm"])
def backend(request) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")
