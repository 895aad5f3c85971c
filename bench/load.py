"""Load benchmark (one run, JSON on stdout): the embedded stack under concurrent chat users.

Starts, in a fresh data dir: `python -m serving` on the tiny test model, the web app
(`manage.py serve`, uvicorn), and a Celery worker on the default queue. Then:

1. `--users` concurrent chat users ask questions for `--seconds` (non-streaming POST
   /api/v1/chat): 5xx count, p50/p95 latency, and lost questions (every accepted
   question must have a stored answer: checked in the database afterwards);
2. the same chat load while `--documents` synthetic documents are uploaded (one zip
   through the API) and ingested by the worker: chat p95 with vs without ingestion.

Usage: python bench/load.py [--users 50] [--seconds 60] [--documents 1000]
Uses DATABASE_URL / REDIS_URL when set (PostgreSQL recommended: SQLite serialises writes).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
QUESTIONS = ["How do I install the widget?", "How do I deploy to production?", "How do I delete a widget?",
             "What does the API return on errors?", "How do I configure logging?", "What is the capital of France?",
             "How do I upgrade?", "Which Python versions are supported?"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[:4]} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not come up")


def _manage(env: dict, *args: str) -> str:
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True, timeout=600).stdout.strip()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _chat_load(url: str, token: str, users: int, seconds: float) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    message_ids: list[int] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=users + 5, max_keepalive_connections=users + 5)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async def user(number: int) -> None:
            rng = random.Random(number)
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.post("/api/v1/chat", json={"question": rng.choice(QUESTIONS),
                                                                       "stream": False})
                except httpx.HTTPError as exc:
                    errors.append(repr(exc)[:200])
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    message_ids.append(response.json()["message_id"])

        await asyncio.gather(*(user(n) for n in range(users)))
    return {"requests": len(latencies), "statuses": statuses, "errors": len(errors), "error_samples": errors[:3],
            "server_errors_5xx": sum(n for s, n in statuses.items() if s >= 500),
            "p50_s": round(_percentile(latencies, 0.5), 3), "p95_s": round(_percentile(latencies, 0.95), 3),
            "mean_s": round(statistics.fmean(latencies), 3) if latencies else 0.0,
            "answers_per_s": round(statuses.get(200, 0) / seconds, 2), "message_ids": message_ids}


def _synthetic_zip(count: int) -> bytes:
    rng = random.Random(0)
    words = ["widget", "cluster", "deploy", "token", "config", "logging", "cache", "queue", "worker", "adapter", "index", "shard", "replica", "backup", "restore", "upgrade", "migrate", "schema", "bucket", "region", "secret", "rotate", "timeout", "retry"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(count):
            topic = " ".join(rng.sample(words, 3))
            body = "\n\n".join(" ".join(rng.choices(words, k=60)) + "." for _ in range(4))
            archive.writestr(f"synthetic/page-{number:04d}.md", f"# Page {number}: {topic}\n\n## Usage\n\n{body}\n")
    return buffer.getvalue()


def _lost_questions(env: dict, ids: list[int]) -> dict:
    """Accepted questions (their answers' ids came back) and every stored question without an answer."""
    code = ("import json; from docsbot.chat.models import Message as M; "
            f"ids=set({ids!r}); users=M.objects.filter(role='user'); "
            "answered=set(M.objects.filter(role='assistant').values_list('reply_to_id', flat=True)); "
            "print(json.dumps({'stored_questions': users.count(), "
            "'unanswered': users.exclude(pk__in=answered).count(), "
            "'accepted_missing': len(ids - set(M.objects.filter(pk__in=ids).values_list('pk', flat=True)))}))")
    return json.loads(_manage(env, "shell", "-c", code).splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--documents", type=int, default=1000)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="docsbot-load-"))
    env = {**os.environ, "DOCSBOT_DATA_DIR": str(data), "DOCSBOT_CHAT_RATE_LIMIT_PER_MINUTE": "0",
           "DOCSBOT_CHAT_MAX_TOKENS": "32", "DOCSBOT_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
    env.setdefault("DATABASE_URL", f"sqlite:///{data / 'db.sqlite3'}")
    from training.base_model import build_base_model

    base = build_base_model(data / "models" / "tiny-base", [ROOT / "tests" / "fixtures" / "docs"], size="test",
                            pretrain_steps=0)
    env["DOCSBOT_BASE_MODEL"] = str(base)
    _manage(env, "migrate", "-v", "0")
    _manage(env, "createteam", "load", "--name", "Load")
    token = _manage(env, "createtoken", "--team", "load").splitlines()[-1].strip()
    _manage(env, "ingest", "--team", "load", str(ROOT / "tests" / "fixtures" / "docs"))
    serving_port, web_port = _port(), _port()
    env["DOCSBOT_SERVING_URL"] = f"http://127.0.0.1:{serving_port}"
    logs = open(data / "processes.log", "wb")  # noqa: SIM115
    processes = [
        subprocess.Popen([PY, "-m", "serving", "--base-model", str(base), "--adapter-dir", str(data / "adapters"),
                          "--port", str(serving_port), "--max-num-seqs", "64"], cwd=ROOT, env=env,
                         stdout=logs, stderr=subprocess.STDOUT),
        subprocess.Popen([PY, "manage.py", "serve", "--port", str(web_port)], cwd=ROOT, env=env,
                         stdout=logs, stderr=subprocess.STDOUT),
        subprocess.Popen([PY, "-m", "celery", "-A", "docsbot", "worker", "-Q", "default", "--pool", "solo",
                          "-n", "load@%h", "--without-heartbeat", "--without-mingle", "--without-gossip"],
                         cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT),
    ]
    url = f"http://127.0.0.1:{web_port}"
    try:
        _wait_http(f"{env['DOCSBOT_SERVING_URL']}/health", processes[0])
        _wait_http(f"{url}/health", processes[1])
        asyncio.run(_chat_load(url, token, 2, 5))  # warm-up: models loaded, caches filled
        baseline = asyncio.run(_chat_load(url, token, args.users, args.seconds))

        archive = _synthetic_zip(args.documents)
        upload = httpx.post(f"{url}/api/v1/documents", headers={"Authorization": f"Bearer {token}"},
                            files={"files": ("synthetic.zip", archive, "application/zip")}, timeout=120)
        upload.raise_for_status()
        run_id = upload.json()["id"]
        ingest_started = time.monotonic()
        during = asyncio.run(_chat_load(url, token, args.users, args.seconds))
        run = {}
        while time.monotonic() - ingest_started < 1800:
            run = httpx.get(f"{url}/api/v1/ingest-runs/{run_id}", headers={"Authorization": f"Bearer {token}"},
                            timeout=30).json()
            if run["status"] in ("succeeded", "failed"):
                break
            time.sleep(2)
        ingest_seconds = time.monotonic() - ingest_started
        lost = _lost_questions(env, baseline.pop("message_ids") + during.pop("message_ids"))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()
    ratio = round(during["p95_s"] / baseline["p95_s"], 2) if baseline["p95_s"] else None
    print(json.dumps({
        "users": args.users, "seconds": args.seconds, "database": env["DATABASE_URL"].split(":")[0],
        "chat": baseline, "chat_during_ingestion": during,
        "ingestion": {"documents": args.documents, "status": run.get("status"), "seconds": round(ingest_seconds, 1),
                      "indexed": (run.get("summary") or {}).get("documents"),
                      "processed_during_chat": run.get("processed")},
        "lost_questions": lost,
        "p95_ratio_during_ingestion": ratio,
        "targets": {"zero_5xx": baseline["server_errors_5xx"] + during["server_errors_5xx"] == 0,
                    "zero_lost": lost["unanswered"] == 0 and lost["accepted_missing"] == 0,
                    "p95_ratio_below_2": ratio is not None and ratio < 2},
    }, indent=2))


if __name__ == "__main__":
    main()
