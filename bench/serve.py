"""Serving benchmark (one run, JSON on stdout): the embedded server over HTTP on this machine.

- throughput (generated tokens/s) and p50/p95 latency at 16 concurrent streams,
  base-only vs 1, 4 and 16 adapters mixed, and the same 16-adapter requests served
  one at a time (the naive way) - all in the same run, each scenario --rounds times
  round-robin and its median run kept, so ratios are comparable on a noisy machine;
- adapter cold-load latency (load_lora_adapter from disk) and hot-swap latency (load_inplace);
- 500 distinct adapters requested in turn through the filesystem resolver: RSS
  sampled along the way stays bounded by the LRU (max_cpu_loras + max_loras adapters).

Usage: python bench/serve.py [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A small model with a realistic shape ratio (GQA, SwiGLU 2.7x, 32k-ish context cut down) that runs on 2 CPU cores.
SHAPE = {"vocab_size": 4096, "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
             "num_attention_heads": 8, "num_key_value_heads": 4, "max_position_embeddings": 1024}
RANK = 8


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def build_base(root: Path) -> Path:
    from training.base_model import ModelShape, build_model, build_tokenizer, read_corpus

    texts = read_corpus([ROOT / "tests" / "fixtures" / "docs", ROOT / "docs"])
    tokenizer = build_tokenizer(texts, SHAPE["vocab_size"])
    model = build_model(tokenizer, ModelShape(**SHAPE))
    path = root / "base"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def write_adapters(base: Path, root: Path, count: int) -> list[Path]:
    """One PEFT adapter made with PEFT, then ``count`` copies with fresh random weights (fast)."""
    import torch
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(ROOT / "tests"))
    from tests.serving.helpers import make_adapter

    template = make_adapter(base, root / "template", rank=RANK, seed=0)
    tensors = load_file(str(template / "adapter_model.safetensors"))
    paths = []
    generator = torch.Generator().manual_seed(0)
    for index in range(count):
        path = root / "adapters" / f"bench-{index}"
        path.mkdir(parents=True)
        shutil.copy(template / "adapter_config.json", path / "adapter_config.json")
        fresh = {k: torch.randn(v.shape, generator=generator) * 0.02 for k, v in tensors.items()}
        save_file(fresh, str(path / "adapter_model.safetensors"))
        paths.append(path)
    return paths


def start_server(base: Path, adapter_dir: Path, *, max_loras: int, max_cpu_loras: int):
    import uvicorn

    from serving.__main__ import build_app, parse_args

    app = build_app(parse_args(["--base-model", str(base), "--adapter-dir", str(adapter_dir),
                                "--max-loras", str(max_loras), "--max-cpu-loras", str(max_cpu_loras),
                                "--max-lora-rank", "16", "--max-num-seqs", "32"]))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    import httpx

    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return url, server, app


async def _one(client, url: str, model: str, prompt: str, max_tokens: int) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = 0
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", f"{url}/v1/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                payload = json.loads(line[6:])
                if payload.get("usage"):
                    tokens = payload["usage"]["completion_tokens"]
    return time.perf_counter() - started, tokens


async def _run(url: str, models: list[str], prompts: list[str], max_tokens: int, concurrency: int) -> dict:
    import httpx

    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=600) as client:
        async def guarded(model: str, prompt: str):
            async with semaphore:
                return await _one(client, url, model, prompt, max_tokens)

        started = time.perf_counter()
        results = await asyncio.gather(*(guarded(m, p) for m, p in zip(models, prompts)))
        wall = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    tokens = sum(r[1] for r in results)
    return {"requests": len(results), "generated_tokens": tokens, "wall_s": round(wall, 2),
            "tokens_per_s": round(tokens / wall, 1),
            "p50_latency_s": round(statistics.median(latencies), 3),
            "p95_latency_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3)}


def throughput(url: str, adapters: list[str], base_name: str, *, requests: int, max_tokens: int,
               rounds: int) -> dict:
    """Each scenario ``rounds`` times, round-robin, and its median run: load spikes on a shared box hit one round."""
    words = ["deploy", "the", "service", "with", "the", "command", "line", "and", "check", "the", "configuration", "of", "each", "team"]
    prompts = [" ".join(words[(i + j) % len(words)] for j in range(48)) for i in range(requests)]
    scenarios = {"base_only": ([base_name] * requests, 16)}
    for count in (1, 4, 16):
        scenarios[f"adapters_{count}"] = ([adapters[i % count] for i in range(requests)], 16)
    sequential_n = max(4, requests // 4)  # the naive way: same 16-adapter requests, one at a time
    scenarios["sequential_adapters_16"] = (scenarios["adapters_16"][0][:sequential_n], 1)
    asyncio.run(_run(url, [base_name] * 4, prompts[:4], 4, 4))  # warm-up
    runs: dict[str, list[dict]] = {name: [] for name in scenarios}
    for _ in range(rounds):
        for name, (models, concurrency) in scenarios.items():
            runs[name].append(asyncio.run(_run(url, models, prompts, max_tokens, concurrency)))
    out: dict = {}
    for name, results in runs.items():
        median = sorted(results, key=lambda r: r["tokens_per_s"])[len(results) // 2]
        out[name] = {**median, "tokens_per_s_rounds": [r["tokens_per_s"] for r in results]}
    base = out["base_only"]["tokens_per_s"]
    out["ratios"] = {
        **{f"adapters_{c}_vs_base": round(out[f"adapters_{c}"]["tokens_per_s"] / base, 2) for c in (1, 4, 16)},
        "adapters_16_vs_sequential": round(out["adapters_16"]["tokens_per_s"]
                                           / out["sequential_adapters_16"]["tokens_per_s"], 2),
    }
    return out


def load_latency(url: str, adapter_paths: list[Path]) -> dict:
    import httpx

    cold, swap = [], []
    for index, path in enumerate(adapter_paths):
        started = time.perf_counter()
        response = httpx.post(f"{url}/v1/load_lora_adapter",
                              json={"lora_name": f"cold-{index}", "lora_path": str(path)}, timeout=60)
        cold.append(time.perf_counter() - started)
        response.raise_for_status()
    for index, path in enumerate(reversed(adapter_paths)):
        started = time.perf_counter()
        response = httpx.post(f"{url}/v1/load_lora_adapter",
                              json={"lora_name": f"cold-{index}", "lora_path": str(path), "load_inplace": True},
                              timeout=60)
        swap.append(time.perf_counter() - started)
        response.raise_for_status()
    return {"cold_load_ms_p50": round(statistics.median(cold) * 1000, 1),
            "cold_load_ms_max": round(max(cold) * 1000, 1),
            "hot_swap_ms_p50": round(statistics.median(swap) * 1000, 1),
            "hot_swap_ms_max": round(max(swap) * 1000, 1), "samples": len(cold)}


def many_adapters(url: str, app, names: list[str], *, max_cpu_loras: int, max_loras: int, every: int) -> dict:
    import httpx

    curve = []
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        for index, name in enumerate(names, start=1):
            response = client.post(f"{url}/v1/completions",
                                   json={"model": name, "prompt": "deploy", "max_tokens": 2, "ignore_eos": True})
            response.raise_for_status()
            if index % every == 0 or index == 1:
                curve.append({"adapters_seen": index, "rss_mb": round(_rss_mb(), 1),
                              "in_memory": len(app.state.registry.cached_names())})
    adapter_mb = app.state.registry.cached_names() and _adapter_mb(app)
    after_fill = [p["rss_mb"] for p in curve if p["adapters_seen"] >= max_cpu_loras + max_loras]
    return {"adapters": len(names), "max_cpu_loras": max_cpu_loras, "max_loras": max_loras,
            "adapter_mb": adapter_mb, "unbounded_would_be_mb": round(adapter_mb * len(names), 1),
            "rss_growth_after_lru_full_mb": round(max(after_fill) - min(after_fill), 1) if after_fill else None,
            "requests_per_s": round(len(names) / (time.perf_counter() - started), 1), "curve": curve}


def _adapter_mb(app) -> float:
    registry = app.state.registry
    name = registry.cached_names()[-1]
    return round(registry.resolve(name).nbytes / 2**20, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer requests and adapters (smoke run)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each throughput scenario (median kept)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    threads = torch.get_num_threads()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        n_adapters = 60 if args.quick else 500
        base = build_base(work)
        paths = write_adapters(base, work, n_adapters)
        max_cpu_loras, max_loras = 32, 16
        url, server, app = start_server(base, work / "adapters", max_loras=max_loras, max_cpu_loras=max_cpu_loras)
        names = [p.name for p in paths]
        for name in names[:16]:
            import httpx

            httpx.post(f"{url}/v1/load_lora_adapter", json={"lora_name": name, "lora_path": str(work / "adapters" / name)},
                       timeout=60).raise_for_status()
        result = {
            "machine": {"cpu_threads": threads, "device": str(app.state.engine.device)},
            "model": {**SHAPE, "vocab_size": app.state.engine.model.config.vocab_size,  # the trained tokenizer's
                      "lora_rank": RANK, "params_m": round(
                sum(p.numel() for p in app.state.engine.model.parameters()) / 1e6, 1)},
            "throughput": throughput(url, names[:16], str(base), requests=16 if args.quick else 32,
                                     max_tokens=16 if args.quick else 32, rounds=args.rounds),
            "adapter_load": load_latency(url, [work / "adapters" / n for n in names[16:24]]),
        }
        result["many_adapters"] = many_adapters(url, app, names, max_cpu_loras=max_cpu_loras, max_loras=max_loras,
                                                every=10 if args.quick else 50)
        result["targets"] = {"mixed_vs_base": ">= 0.7", "batched_vs_sequential": ">= 4"}
        server.should_exit = True
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
