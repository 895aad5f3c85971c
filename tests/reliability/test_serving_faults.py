"""The serving process under faults: corrupt adapters loaded during live traffic, and a kill -9 restart."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from serving.client import ServingClient, ServingError
from tests.serving.helpers import make_adapter

ROOT = Path(__file__).resolve().parents[2]
CHAT = [{"role": "user", "content": "How do I install it?"}]
pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(base: Path, adapter_dir: Path, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "serving", "--base-model", str(base), "--adapter-dir",
                                str(adapter_dir), "--port", str(port)], cwd=ROOT,
                               stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    client = ServingClient(f"http://127.0.0.1:{port}", timeout=5)
    deadline = time.monotonic() + 180
    while not client.health():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "serving did not start"
        time.sleep(0.2)
    return process


def _corrupt_adapters(good: Path, root: Path) -> list[Path]:
    """Adapter dirs that must fail to load, each differently."""
    bad = []
    for name, damage in [("garbage-weights", lambda d: (d / "adapter_model.safetensors").write_bytes(b"\0junk" * 99)),
                         ("truncated-weights", lambda d: (d / "adapter_model.safetensors").write_bytes(
                             (good / "adapter_model.safetensors").read_bytes()[:200])),
                         ("no-config", lambda d: (d / "adapter_config.json").unlink()),
                         ("bad-json", lambda d: (d / "adapter_config.json").write_text("{not json")),
                         ("huge-rank", lambda d: (d / "adapter_config.json").write_text(json.dumps(
                             {**json.loads((good / "adapter_config.json").read_text()), "r": 4096}))),
                         ("no-weights", lambda d: (d / "adapter_model.safetensors").unlink())]:
        target = root / name
        shutil.copytree(good, target)
        damage(target)
        bad.append(target)
    bad.append(root / "does-not-exist")
    return bad


def test_it_serves_other_requests_while_corrupt_adapters_load_and_recovers_from_a_restart(tiny_base_model, tmp_path):
    adapter_dir = tmp_path / "adapters"
    adapter_dir.mkdir()
    good = make_adapter(tiny_base_model, tmp_path / "good", rank=4, seed=1)
    bad = _corrupt_adapters(good, tmp_path / "bad")
    port, log = _port(), tmp_path / "serving.log"
    process = _start(tiny_base_model, adapter_dir, port, log)
    client = ServingClient(f"http://127.0.0.1:{port}", timeout=60)
    client.load_adapter(name="team-good", path=str(good))
    base = next(card["id"] for card in client.list_models() if not card.get("parent"))
    errors: list[str] = []
    answered = [0]
    stop = threading.Event()
    lock = threading.Lock()

    def traffic(model: str) -> None:
        while not stop.is_set():
            try:
                text = client.chat(model=model, messages=CHAT, max_tokens=4).text
                assert isinstance(text, str)
                with lock:
                    answered[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure of an unrelated request is the bug
                with lock:
                    errors.append(f"{model}: {exc!r}")

    try:
        threads = [threading.Thread(target=traffic, args=(model,)) for model in ("team-good", base, "team-good")]
        for thread in threads:
            thread.start()
        load_failures = []
        for round_ in range(2):
            for path in bad:
                try:
                    client.load_adapter(name=f"broken-{path.name}-{round_}", path=str(path))
                except ServingError as exc:
                    load_failures.append(exc.status)
                else:
                    load_failures.append(200)
        time.sleep(1)
        stop.set()
        for thread in threads:
            thread.join(60)
        assert errors == [], errors[:5]
        assert answered[0] >= 3
        # As vLLM 0.34 answers: a path with no adapter is a 404, an adapter it cannot load a 500
        # ("Call to add_lora method failed"); never a 200, and the server keeps serving.
        assert load_failures and all(status in (404, 500) for status in load_failures), load_failures
        assert {card["id"] for card in client.list_models()} == {base, "team-good"}

        # kill -9 and restart on the same port: the client registers its adapter again by itself.
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        with pytest.raises(ServingError):
            ServingClient(f"http://127.0.0.1:{port}", timeout=2).chat(model=base, messages=CHAT, max_tokens=2)
        process = _start(tiny_base_model, adapter_dir, port, log)
        assert "team-good" not in {card["id"] for card in client.list_models()}
        assert isinstance(client.chat(model="team-good", messages=CHAT, max_tokens=4).text, str)
        assert "".join(client.chat_stream(model="team-good", messages=CHAT, max_tokens=4)) is not None
        assert "team-good" in {card["id"] for card in client.list_models()}
    finally:
        stop.set()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
