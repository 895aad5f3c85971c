"""The embedded Redis that commands start themselves is gone when they exit (real processes)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from docsbot import embedded_redis

ROOT = Path(__file__).resolve().parent.parent
HOLD = ("import sys; from pathlib import Path; from docsbot import embedded_redis; "
        "embedded_redis.ensure_running(Path(sys.argv[1])); print('holding', flush=True); sys.stdin.read()")


# HOLD, but every process starts at the same instant (argv[2], a wall-clock time): the race of commands started together.
HOLD_AT = ("import sys, time; from pathlib import Path; from docsbot import embedded_redis; "
           "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); "
           "embedded_redis.ensure_running(Path(sys.argv[1])); print('holding', flush=True); sys.stdin.read()")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return {**env, "DOCSBOT_DATA_DIR": str(data_dir), "DOCSBOT_EMBEDDED_REDIS_AUTOSTART": "1"}


def _manage_check(data_dir: Path) -> None:
    """A CLI command in that data dir: it autostarts the embedded Redis when none answers."""
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], cwd=ROOT, env=_env(data_dir),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def _servers(data_dir: Path) -> list[int]:
    """The redis-server processes serving this data dir's socket."""
    socket = str(embedded_redis.socket_path(data_dir)).encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"redis-server" in command and socket in command:
            found.append(int(proc.name))
    return found


@pytest.fixture
def data_dir(tmp_path):
    # Unix socket paths are limited to ~107 bytes: keep the folder short.
    folder = Path(f"/tmp/docsbot-redis-{os.getpid()}-{tmp_path.name[-12:]}")
    folder.mkdir()
    yield folder
    for pid in _servers(folder):
        os.kill(pid, 15)
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_it_stops_the_server_a_command_started_when_the_command_exits(data_dir):
    _manage_check(data_dir)
    assert (data_dir / "redis" / "redis.log").exists()  # it did start one
    assert _servers(data_dir) == [] and not embedded_redis.is_running(data_dir)
    _manage_check(data_dir)  # and the next command starts (and stops) a fresh one
    assert _servers(data_dir) == []


def test_commands_started_together_share_one_server_and_leave_none(data_dir):
    at = str(time.time() + 3.0)  # after every interpreter has started, even on a busy machine
    starts = [subprocess.Popen([sys.executable, "-c", HOLD_AT, str(data_dir), at], cwd=ROOT, env=_env(data_dir),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        assert all(process.stdout.readline().strip() == "holding" for process in starts)
        assert len(_servers(data_dir)) == 1
    finally:
        for process in starts:
            process.communicate("", timeout=30)
    assert _servers(data_dir) == [] and not embedded_redis.is_running(data_dir)


def test_it_leaves_the_server_running_for_a_process_still_using_it(data_dir):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir)], cwd=ROOT, env=_env(data_dir),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        servers = _servers(data_dir)
        _manage_check(data_dir)  # reuses the server, then exits while the holder still uses it
        assert len(servers) == 1 and _servers(data_dir) == servers and embedded_redis.is_running(data_dir)
    finally:
        holder.communicate("", timeout=30)  # the holder exits: the last one out stops the server
    assert holder.returncode == 0 and _servers(data_dir) == [] and not embedded_redis.is_running(data_dir)


def test_it_never_stops_a_server_someone_else_runs(data_dir):
    (data_dir / "redis").mkdir()
    supervised = subprocess.Popen(embedded_redis.server_command(data_dir, daemonize=False),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not embedded_redis.is_running(data_dir):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        _manage_check(data_dir)
        assert embedded_redis.is_running(data_dir) and supervised.poll() is None
    finally:
        supervised.terminate()
        supervised.wait(10)
