"""Chat latency and soak benchmark (JSON): POST /api/v1/chat on the embedded stack with the tiny model.

    DATABASE_URL=... REDIS_URL=... DOCSBOT_DATA_DIR=/tmp/bench-chat python bench/chat.py [--soak-seconds 60]

Starts `python -m serving` (tiny random-init model) and a uvicorn web process, ingests the
fixture docs for a `bench-chat` team, then measures time to first token and total latency at
1 and 20 concurrent users, the share of server time per stage (from the stored timings),
and a soak of 50 users: zero 5xx, and every accepted question has a stored answer. The
baseline, measured in the same run, is the serving endpoint streamed directly (no retrieval,
no Django) with the same prompt size.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
QUESTIONS = ["How do I roll back a deployment?", "What does error ACME-429 mean?", "How do I delete a widget?",
             "What is the request timeout?", "How do I install the CLI?", "How do I create a widget with the API?",
             "How many retries for a failed upload?", "My API key is invalid"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4) if ordered else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def ask(http, url: str, token: str, question: str) -> dict:
    started = time.perf_counter()
    first = None
    final: dict = {}
    async with http.stream("POST", f"{url}/api/v1/chat", json={"question": question},
                           headers={"Authorization": f"Bearer {token}"}) as response:
        if response.status_code != 200:
            await response.aread()
            return {"status": response.status_code, "total": time.perf_counter() - started}
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "token" and first is None:
                    first = time.perf_counter() - started
                if event in ("done", "error"):
                    final = {"event": event, **json.loads(line[6:])}
    return {"status": 200, "ttft": first, "total": time.perf_counter() - started, "final": final}


async def run_users(url: str, token: str, users: int, per_user: int = 0, seconds: float = 0) -> list[dict]:
    import httpx

    results: list[dict] = []
    deadline = time.monotonic() + seconds

    async def user(index: int) -> None:
        async with httpx.AsyncClient(timeout=300) as http:
            count = 0
            while (per_user and count < per_user) or (seconds and time.monotonic() < deadline):
                try:
                    results.append(await ask(http, url, token, QUESTIONS[(index + count) % len(QUESTIONS)]))
                except Exception as exc:  # noqa: BLE001 - a transport failure is a result too
                    results.append({"status": 599, "error": str(exc)[:200]})
                count += 1

    await asyncio.gather(*(user(i) for i in range(users)))
    return results


def summary(results: list[dict]) -> dict:
    ok = [r for r in results if r["status"] == 200]
    ttft = [r["ttft"] for r in ok if r.get("ttft") is not None]
    total = [r["total"] for r in ok]
    return {"requests": len(results), "ok": len(ok), "ttft_p50_s": pct(ttft, 0.5), "ttft_p95_s": pct(ttft, 0.95),
            "total_p50_s": pct(total, 0.5), "total_p95_s": pct(total, 0.95)}


async def serving_baseline(serving_url: str, messages: list[dict], model: str, n: int) -> dict:
    from django.conf import settings

    from serving.client import ServingClient

    client = ServingClient(serving_url, api_key=settings.SERVING_API_KEY)
    ttft, total = [], []
    for _ in range(n):
        started = time.perf_counter()
        first = None
        async for _delta in client.achat_stream(model=model, messages=messages, max_tokens=48):
            first = first or time.perf_counter() - started
        ttft.append(first or 0.0)
        total.append(time.perf_counter() - started)
    return {"ttft_p50_s": pct(ttft, 0.5), "total_p50_s": pct(total, 0.5)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--soak-seconds", type=float, default=60)
    parser.add_argument("--soak-users", type=int, default=50)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from docsbot.chat.models import Message
    from docsbot.core.serving import embedded_server
    from docsbot.teams.models import Team
    from docsbot.teams.services import api_token_create, team_create
    from training.base_model import build_base_model

    call_command("migrate", verbosity=0)
    Team.objects.filter(slug="bench-chat").delete()
    team = team_create(slug="bench-chat", name="Bench")
    call_command("ingest", "--team", team.slug, str(ROOT / "tests" / "fixtures" / "docs"), "--sync", "--json",
                 stdout=open(os.devnull, "w"))  # noqa: SIM115
    token = api_token_create(team=team).token
    model_dir = Path(settings.DATA_DIR) / "models" / "bench-chat-tiny"
    if not (model_dir / "config.json").exists():
        build_base_model(model_dir, [ROOT / "tests" / "fixtures" / "docs"], size="test", pretrain_steps=0)

    with embedded_server(base_model=str(model_dir), adapter_dir=Path(settings.DATA_DIR) / "bench-adapters") as serving_url:
        port = free_port()
        env = {**os.environ, "DOCSBOT_SERVING_URL": serving_url, "DOCSBOT_CHAT_RATE_LIMIT_PER_MINUTE": "0",
               "DOCSBOT_LOG_LEVEL": "WARNING"}
        web = subprocess.Popen([sys.executable, "-m", "uvicorn", "docsbot.asgi:application", "--port", str(port),
                                "--lifespan", "off", "--log-level", "warning", "--no-access-log"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            while True:
                try:
                    if httpx.get(f"{url}/widget/demo", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            asyncio.run(run_users(url, token, 1, per_user=2))  # warm-up: model loads, first embeddings
            started_id = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
            one = asyncio.run(run_users(url, token, 1, per_user=10))
            twenty = asyncio.run(run_users(url, token, 20, per_user=2))
            timings = list(Message.objects.filter(team=team, role="assistant", pk__gt=started_id,
                                                  no_relevant_docs=False).values_list("timings", flat=True))
            stages = {stage: sum(t.get(f"{stage}_ms", 0) for t in timings) for stage in
                      ("retrieval", "prompt", "generation")}
            whole = sum(stages.values()) or 1
            # Baseline in the same run: the serving endpoint streamed directly with a stored prompt.
            from docsbot.chat.prepare import answer_prepare
            from serving.client import ServingClient

            prepared = answer_prepare(team=team, question=QUESTIONS[0], client=ServingClient(serving_url, api_key=settings.SERVING_API_KEY))
            baseline = asyncio.run(serving_baseline(serving_url, prepared.messages, prepared.model, 10))
            soak_from = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
            soak = asyncio.run(run_users(url, token, args.soak_users, seconds=args.soak_seconds))
            time.sleep(2)
            questions = Message.objects.filter(team=team, role="user", pk__gt=soak_from)
            lost = questions.filter(reply__isnull=True).count()
            failed = Message.objects.filter(team=team, role="assistant", pk__gt=soak_from, failed=True).count()
        finally:
            web.terminate()
            web.wait(20)
    report = {
        "benchmark": "chat", "stack": "uvicorn (1 process) + embedded serving, tiny random-init model, CPU",
        "users_1": summary(one), "users_20": summary(twenty),
        "stage_share": {stage: round(value / whole, 3) for stage, value in stages.items()},
        "stage_mean_ms": {stage: round(value / max(1, len(timings)), 1) for stage, value in stages.items()},
        "baseline_serving_direct_users_1": baseline,
        "soak": {"users": args.soak_users, "seconds": args.soak_seconds, **summary(soak),
                 "status_5xx": sum(1 for r in soak if r["status"] >= 500),
                 "statuses": {str(s): sum(1 for r in soak if r["status"] == s) for s in {r["status"] for r in soak}},
                 "accepted_questions": questions.count(), "lost_messages": lost, "failed_answers": failed},
    }
    report["pass"] = report["soak"]["status_5xx"] == 0 and lost == 0
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
