"""Print shell exports for the real services the test suite should use.

PostgreSQL and Redis on 127.0.0.1 are used when they answer (they do on the dev
machines and in CI); otherwise the suite runs on SQLite and the embedded Redis.
A DATABASE_URL or REDIS_URL already in the environment wins.
"""
import os
import shlex
import socket


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> None:
    exports = {}
    if "DATABASE_URL" not in os.environ and _answers("127.0.0.1", 5432):
        exports["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/test"
    if "REDIS_URL" not in os.environ and _answers("127.0.0.1", 6379):
        exports["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
