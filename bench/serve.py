"""Serving benchmark (one run, JSON on stdout): the embedded server over HTTP on this machine.

``--model tiny`` (default), a random-init model with a realistic shape ratio that runs fast on 2 CPU cores:

- throughput (generated tokens/s) and p50/p95 latency at 16 concurrent streams,
  base-only vs 1, 4 and 16 adapters mixed, and the same 16-adapter requests served
  one at a time (the naive way) - all in the same run, each scenario --rounds times
  round-robin and its median run kept, so ratios are comparable on a noisy machine;
- adapter cold-load latency (load_lora_adapter from disk) and hot-swap latency (load_inplace);
- 500 distinct adapters requested in turn through the filesystem resolver: RSS
  sampled along the way stays bounded by the LRU (max_cpu_loras + max_loras adapters).

``--model smollm2``, the real offline base model (SmolLM2-135M-Instruct, ``--base-model``; converted from
the packaged GGUF if missing) with 16 real-size random LoRA adapters (r=16, all linear layers) and
docs-style prompts (docsbot's own prompt format, ~400 tokens) × 64 generated tokens (ignore_eos):

- single-stream decode tokens/s (base, one request at a time), in the served dtype and in the other one;
- 8 and 16 concurrent streams on the base model;
- 16 streams each on a different one of 16 adapters vs base at 16 streams (target >= 0.8x);
- the same adapter requests one at a time (first --sequential of them) -> batched / sequential (target >= 4x);
- adapter cold-load and hot-swap latency at this size.

Usage: python bench/serve.py [--model tiny|smollm2] [--quick] [--rounds N] [--dtype auto|float32|bfloat16]
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A small model with a realistic shape ratio (GQA, SwiGLU 2.7x, 32k-ish context cut down) that runs on 2 CPU cores.
SHAPE = {"vocab_size": 4096, "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
             "num_attention_heads": 8, "num_key_value_heads": 4, "max_position_embeddings": 1024}
REAL_QUESTIONS = [
    "How do I add a team's documentation?", "Which environment variable sets the database?",
    "How long does training an adapter take?", "How do I embed the chat widget on my site?",
    "How do I connect docsbot to Slack?", "What file types can I upload?",
    "How do I start docsbot on my laptop?", "Where are adapters stored?",
    "How do I limit which sites can use the widget?", "What happens when a training job fails?",
    "How do I change the embedding model?", "Can I use PostgreSQL instead of SQLite?",
    "How are answers grounded in the documents?", "How do I review generated question-answer pairs?",
    "What does the evaluation gate check?", "How do I roll back to an earlier adapter version?",
]


@dataclasses.dataclass(frozen=True)
class Profile:
    """What one ``--model`` runs: the adapters, the traffic and which scenarios."""

    rank: int
    max_tokens: int  # generated per request (ignore_eos: every request generates exactly this many)
    streams: int = 16  # concurrent streams of the base-vs-mixed-adapters comparison
    waves: int = 1  # requests per concurrent scenario = streams * waves
    base_streams: tuple[int, ...] = ()  # further base-only stream counts
    mixes: tuple[int, ...] = (16,)  # distinct adapters mixed over the `streams` streams
    sequential: int = 8  # the first N of the 16-adapter requests, also served one at a time
    single_stream: int = 0  # base requests served one at a time (decode tokens/s); 0: skipped
    compare_dtypes: bool = False  # also serve the single stream from a second server in the other dtype
    adapters: int = 24  # written: 16 for throughput, the next 8 (at most) for load latency, all for the LRU check
    many_adapters: bool = False  # request every adapter in turn and follow RSS (the LRU bound)
    mixed_target: float = 0.8


PROFILES = {
    "tiny": Profile(rank=8, max_tokens=32, waves=2, mixes=(1, 4, 16), sequential=8, adapters=500,
                    many_adapters=True, mixed_target=0.7),
    "smollm2": Profile(rank=16, max_tokens=64, base_streams=(8,), sequential=8, single_stream=2,
                       compare_dtypes=True, adapters=20),
}
QUICK = {
    "tiny": {"max_tokens": 16, "waves": 1, "sequential": 4, "adapters": 60},
    "smollm2": {"max_tokens": 16, "sequential": 4, "single_stream": 1, "adapters": 18},
}


class Scenario(NamedTuple):
    url: str
    models: list[str]
    prompts: list[list[str]]  # per round, never seen before: the prefix cache shares only what real traffic shares
    streams: int


def tensor_numels(path: Path) -> list[int]:
    """Element counts of the tensors in a safetensors file (read from its header, no weights loaded)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as tensors:
        return [math.prod(tensors.get_slice(name).get_shape()) for name in tensors.keys()]  # noqa: SIM118


def parameter_count(base: Path) -> int:
    """Parameters of a saved model (tied weights are saved once)."""
    return sum(sum(tensor_numels(f)) for f in base.glob("*.safetensors"))


def build_base(root: Path) -> Path:
    from training.base_model import ModelShape, build_model, build_tokenizer, read_corpus

    texts = read_corpus([ROOT / "tests" / "fixtures" / "docs", ROOT / "docs"])
    tokenizer = build_tokenizer(texts, SHAPE["vocab_size"])
    model = build_model(tokenizer, ModelShape(**SHAPE))
    path = root / "base"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def default_real_base() -> Path:
    from training.packaged_model import MODEL_DIRNAME

    return Path(os.environ.get("DOCSBOT_DATA_DIR") or ROOT / "var") / "models" / MODEL_DIRNAME


def prepare_real_base(path: Path) -> Path:
    """The SmolLM2 folder, converted from the packaged GGUF first if it is not there."""
    from training.packaged_model import check_causal_lm, convert

    if not path.exists():
        print(f"converting the packaged SmolLM2-135M-Instruct into {path}", file=sys.stderr)
        convert(path, on_stage=lambda message: print(f"  {message}", file=sys.stderr))
    check_causal_lm(str(path))
    return path


def write_adapters(base: Path, root: Path, count: int, *, rank: int, base_name: str) -> list[Path]:
    """One PEFT adapter made with PEFT, then ``count`` copies with fresh random non-zero A and B (fast)."""
    import torch
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(ROOT / "tests"))
    from tests.serving.helpers import make_adapter

    template = make_adapter(base, root / "template", rank=rank, seed=0, base_name=base_name)
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


class ServerProcess:
    """The embedded server as it is deployed: ``python -m serving`` in a process of its own, so the load
    generator's Python (16 streams parsing SSE) never competes with the engine's scheduler for one GIL.
    ``OMP_NUM_THREADS`` and the rest of the environment pass through."""

    def __init__(self, base: Path, adapter_dir: Path, log_path: Path, *, max_loras: int, max_cpu_loras: int,
                 max_lora_rank: int = 16, dtype: str = "auto", prefix_cache_tokens: int | None = None):
        import httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        command = [sys.executable, "-m", "serving", "--base-model", str(base), "--adapter-dir", str(adapter_dir),
                   "--max-loras", str(max_loras), "--max-cpu-loras", str(max_cpu_loras),
                   "--max-lora-rank", str(max_lora_rank), "--max-num-seqs", "32", "--dtype", dtype,
                   "--port", str(port)]
        if prefix_cache_tokens is not None:
            command += ["--prefix-cache-tokens", str(prefix_cache_tokens)]
        with log_path.open("w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        while True:  # model loading takes seconds to minutes on a busy box: wait for health or the exit
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited ({self.process.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)

    def metric(self, name: str) -> float:
        """One Prometheus gauge or counter from the server's /metrics."""
        import httpx

        for line in httpx.get(f"{self.url}/metrics", timeout=30).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        raise KeyError(name)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def tiny_prompts(count: int) -> list[str]:
    words = ["deploy", "the", "service", "with", "the", "command", "line", "and", "check", "the", "configuration", "of", "each", "team"]
    return [f"request {i}: " + " ".join(words[(i + j) % len(words)] for j in range(48)) for i in range(count)]


def real_prompts(tokenizer, count: int, *, low: int = 350, high: int = 500) -> list[str]:
    """docsbot's chat prompt (system prompt, <documents>, question) through the model's chat template:
    ~200-token sections of docs/*.md added in turn until the prompt holds ``low`` to ``high`` tokens. Each
    prompt's documents start a different number of characters into their sections, so prompts share the
    system prompt, as real traffic does, and not their documents."""
    from docsbot.core.prompts import ContextChunk, build_messages

    chunks: list[ContextChunk] = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        title, _, body = page.read_text().partition("\n")
        for index, part in enumerate(body.split("\n## ")):
            heading, text = ("", part) if index == 0 else part.partition("\n")[::2]
            text = " ".join(text.split())
            for start in range(0, len(text), 900):
                if len(text) - start > 200:
                    chunks.append(ContextChunk(title=title.lstrip("# "), section=heading,
                                               text=text[start:start + 900], url=f"docs/{page.name}"))

    def render(question: str, contexts: list[ContextChunk]) -> tuple[str, int]:
        messages = build_messages(team="Docs", question=question, contexts=contexts)
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text, len(tokenizer(text, add_special_tokens=False)["input_ids"])

    prompts = []
    for index in range(count):
        question = REAL_QUESTIONS[index % len(REAL_QUESTIONS)]
        contexts: list[ContextChunk] = []
        text, length = render(question, contexts)
        for step in range(len(chunks)):  # a chunk that would overshoot ``high`` is skipped
            if length >= low:
                break
            chunk = chunks[(3 * index + step) % len(chunks)]
            more = [*contexts, dataclasses.replace(chunk, text=chunk.text[1 + index % 150:])]
            longer = render(question, more)
            if longer[1] <= high or not contexts:
                contexts, (text, length) = more, longer
        prompts.append(text)
    return prompts


async def _one(client, url: str, model: str, prompt: str, max_tokens: int) -> dict:
    started = time.perf_counter()
    first = None
    usage: dict = {}
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", f"{url}/v1/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                payload = json.loads(line[6:])
                if first is None and any(c.get("text") for c in payload.get("choices") or []):
                    first = time.perf_counter()
                if payload.get("usage"):
                    usage = payload["usage"]
    end = time.perf_counter()
    tokens = usage.get("completion_tokens", 0)
    first = first or end
    return {"latency": end - started, "ttft": first - started, "tokens": tokens,
            "prompt_tokens": usage.get("prompt_tokens", 0),
            # the stream's decode rate: tokens after the first over the time after the first
            "decode_tps": (tokens - 1) / (end - first) if tokens > 1 and end > first else None}


def shared_prefix_tokens(tokenizer, prompts: list[str]) -> int:
    """The most leading tokens any two of ``prompts`` have in common (what a prefix cache could share)."""
    ids = sorted(tuple(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)

    def common(a: tuple[int, ...], b: tuple[int, ...]) -> int:
        return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))

    return max((common(a, b) for a, b in itertools.pairwise(ids)), default=0)  # sorted: the longest is a neighbour's


async def _run(scenario: Scenario, max_tokens: int, round_: int) -> dict:
    import httpx

    semaphore = asyncio.Semaphore(scenario.streams)
    async with httpx.AsyncClient(timeout=900) as client:
        async def guarded(model: str, prompt: str):
            async with semaphore:
                return await _one(client, scenario.url, model, prompt, max_tokens)

        started = time.perf_counter()
        results = await asyncio.gather(*(guarded(m, p) for m, p in zip(scenario.models, scenario.prompts[round_],
                                                                         strict=True)))
        wall = time.perf_counter() - started
    latencies = sorted(r["latency"] for r in results)
    tokens = sum(r["tokens"] for r in results)
    decode = [r["decode_tps"] for r in results if r["decode_tps"]]
    return {"streams": scenario.streams, "requests": len(results), "generated_tokens": tokens,
            "prompt_tokens_mean": round(statistics.mean(r["prompt_tokens"] for r in results)),
            "wall_s": round(wall, 2), "tokens_per_s": round(tokens / wall, 1),
            "p50_latency_s": round(statistics.median(latencies), 3),
            "p95_latency_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3),
            "p50_ttft_s": round(statistics.median(r["ttft"] for r in results), 3),
            "decode_tokens_per_s_per_stream_p50": round(statistics.median(decode), 1) if decode else None}


def prompts_needed(profile: Profile, rounds: int) -> int:
    n = profile.streams * profile.waves
    per_round = (profile.single_stream + sum(s * profile.waves for s in profile.base_streams) + n
                 + n * len(profile.mixes) + profile.sequential)
    return rounds * per_round + 1  # and one for the warm-up


def plan(profile: Profile, url: str, base_name: str, adapters: list[str], prompts: list[str],
         others: dict[str, str], rounds: int) -> dict[str, Scenario]:
    """The scenarios of one run, by name, each round with prompts of its own (``prompts[0]`` is the
    warm-up's); ``others``: dtype -> URL of a server in another dtype."""
    pool = iter(prompts[1:])

    def fresh(count: int) -> list[list[str]]:
        return [[next(pool) for _ in range(count)] for _ in range(rounds)]

    n = profile.streams * profile.waves
    scenarios: dict[str, Scenario] = {}
    if profile.single_stream:
        single = fresh(profile.single_stream)  # the same prompts for each dtype's server (each its own cache)
        scenarios["single_stream"] = Scenario(url, [base_name] * profile.single_stream, single, 1)
        for dtype, other_url in others.items():
            scenarios[f"single_stream_{dtype}"] = Scenario(other_url, [base_name] * profile.single_stream, single, 1)
    for streams in profile.base_streams:
        count = streams * profile.waves
        scenarios[f"base_{streams}_streams"] = Scenario(url, [base_name] * count, fresh(count), streams)
    scenarios["base_only"] = Scenario(url, [base_name] * n, fresh(n), profile.streams)
    for count in profile.mixes:
        scenarios[f"adapters_{count}"] = Scenario(url, [adapters[i % count] for i in range(n)], fresh(n),
                                                  profile.streams)
    mixed = scenarios[f"adapters_{max(profile.mixes)}"]  # the naive way: the same adapters, one at a time
    scenarios[f"sequential_adapters_{max(profile.mixes)}"] = Scenario(
        url, mixed.models[:profile.sequential], fresh(profile.sequential), 1)
    return scenarios


def throughput(scenarios: dict[str, Scenario], *, warm_up: str, max_tokens: int, rounds: int) -> dict:
    """Each scenario ``rounds`` times, round-robin, and its median run: load spikes on a shared box hit one round."""
    for scenario in {s.url: s for s in scenarios.values()}.values():  # warm-up: every server, every adapter
        models = list(dict.fromkeys(m for s in scenarios.values() if s.url == scenario.url for m in s.models))
        asyncio.run(_run(Scenario(scenario.url, models, [[warm_up] * len(models)], len(models)), 4, 0))
    runs: dict[str, list[dict]] = {name: [] for name in scenarios}
    for round_ in range(rounds):
        for name, scenario in scenarios.items():
            runs[name].append(asyncio.run(_run(scenario, max_tokens, round_)))
    out: dict = {}
    for name, results in runs.items():
        median = sorted(results, key=lambda r: r["tokens_per_s"])[len(results) // 2]
        out[name] = {**median, "tokens_per_s_rounds": [r["tokens_per_s"] for r in results]}
        decode = [r["decode_tokens_per_s_per_stream_p50"] for r in results]
        if scenarios[name].streams == 1 and all(decode):
            out[name]["decode_tokens_per_s_median"] = round(statistics.median(decode), 1)
    base = out["base_only"]["tokens_per_s"]
    top = max(c for c in (1, 4, 16) if f"adapters_{c}" in out)
    ratios = {f"adapters_{c}_vs_base": round(out[f"adapters_{c}"]["tokens_per_s"] / base, 2)
              for c in (1, 4, 16) if f"adapters_{c}" in out}
    ratios[f"adapters_{top}_vs_sequential"] = round(out[f"adapters_{top}"]["tokens_per_s"]
                                                    / out[f"sequential_adapters_{top}"]["tokens_per_s"], 2)
    if "single_stream" in out:
        ratios["base_only_vs_single_stream"] = round(base / out["single_stream"]["tokens_per_s"], 2)
        for name in out:
            if name.startswith("single_stream_"):
                ratios[f"{name}_vs_single_stream_decode"] = round(
                    out[name]["decode_tokens_per_s_median"] / out["single_stream"]["decode_tokens_per_s_median"], 2)
    out["ratios"] = ratios
    # The same two ratios round by round (scenarios of one round run back to back: a load change hits both sides).
    out["ratios_rounds"] = {
        f"adapters_{top}_vs_base": [round(m["tokens_per_s"] / b["tokens_per_s"], 2)
                                    for m, b in zip(runs[f"adapters_{top}"], runs["base_only"])],
        f"adapters_{top}_vs_sequential": [round(m["tokens_per_s"] / q["tokens_per_s"], 2)
                                          for m, q in zip(runs[f"adapters_{top}"], runs[f"sequential_adapters_{top}"])],
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
            "hot_swap_ms_max": round(max(swap) * 1000, 1), "samples": len(cold),
            "adapter_mb": round(sum(f.stat().st_size for f in adapter_paths[0].iterdir()) / 2**20, 2)}


def many_adapters(server: ServerProcess, names: list[str], *, adapter_mb: float, max_cpu_loras: int,
                  max_loras: int, every: int) -> dict:
    import httpx

    curve = []
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        for index, name in enumerate(names, start=1):
            response = client.post(f"{server.url}/v1/completions",
                                   json={"model": name, "prompt": "deploy", "max_tokens": 2, "ignore_eos": True})
            response.raise_for_status()
            if index % every == 0 or index == 1:
                curve.append({"adapters_seen": index, "rss_mb": round(server.rss_mb(), 1),
                              "in_memory": int(server.metric("docsbot_serving_loras_cpu"))})
    after_fill = [p["rss_mb"] for p in curve if p["adapters_seen"] >= max_cpu_loras + max_loras]
    return {"adapters": len(names), "max_cpu_loras": max_cpu_loras, "max_loras": max_loras,
            "adapter_mb": adapter_mb, "unbounded_would_be_mb": round(adapter_mb * len(names), 1),
            "rss_growth_after_lru_full_mb": round(max(after_fill) - min(after_fill), 1) if after_fill else None,
            "requests_per_s": round(len(names) / (time.perf_counter() - started), 1), "curve": curve}


class LoadSampler(threading.Thread):
    """The 1-minute load average every ``every`` seconds while the benchmark runs (this box is shared)."""

    def __init__(self, every: float = 10.0):
        super().__init__(daemon=True)
        self.every, self.samples, self.done = every, [os.getloadavg()[0]], threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        self.done.set()
        return {"min": round(min(self.samples), 2), "median": round(statistics.median(self.samples), 2),
                "max": round(max(self.samples), 2), "samples": len(self.samples)}


def _target(value: float, target: float) -> dict:
    return {"target": f">= {target}", "value": value, "met": value >= target}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=sorted(PROFILES), default="tiny",
                        help="tiny: random-init test shape (default); smollm2: the real offline base model")
    parser.add_argument("--base-model", type=Path, default=None,
                        help="smollm2 folder (default: DATA_DIR/models/smollm2-135m-instruct, converted if missing)")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                        help="the server's compute dtype (auto: bf16 on CPUs with native bf16)")
    parser.add_argument("--quick", action="store_true", help="fewer requests and adapters (smoke run)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each throughput scenario (median kept)")
    parser.add_argument("--prefix-cache-tokens", type=int, default=None,
                        help="the server's prefix cache (default: the server's; 0: off, the baseline)")
    parser.add_argument("--sequential", type=int, default=None,
                        help="how many of the 16 adapter requests are also served one at a time")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import httpx
    import torch
    from transformers import AutoConfig, AutoTokenizer

    from serving.engine import compute_dtype, cpu_has_native_bf16

    profile = PROFILES[args.model]
    if args.quick:
        profile = dataclasses.replace(profile, **QUICK[args.model])
    if args.sequential:
        profile = dataclasses.replace(profile, sequential=args.sequential)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # the server's own rule
    machine = {"cpu_count": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
               "cpu_native_bf16": cpu_has_native_bf16(), "device": str(device),
               "server": "python -m serving, its own process",
               "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    load = LoadSampler()
    load.start()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    servers: list[ServerProcess] = []
    try:
        if args.model == "tiny":
            base = build_base(work)
        else:
            base = prepare_real_base(args.base_model or default_real_base())
        paths = write_adapters(base, work, profile.adapters, rank=profile.rank, base_name=str(base))
        max_cpu_loras, max_loras = 32, 16
        dtype = str(compute_dtype(args.dtype, device)).removeprefix("torch.")
        server = ServerProcess(base, work / "adapters", work / "server.log", max_loras=max_loras,
                               max_cpu_loras=max_cpu_loras, dtype=args.dtype,
                               prefix_cache_tokens=args.prefix_cache_tokens)
        servers.append(server)
        url = server.url
        others: dict[str, str] = {}
        if profile.compare_dtypes:  # the same model in the other dtype, for the single stream only
            other = "float32" if dtype == "bfloat16" else "bfloat16"
            other_server = ServerProcess(base, work / "adapters", work / "server-other.log", max_loras=1,
                                         max_cpu_loras=1, dtype=other, prefix_cache_tokens=args.prefix_cache_tokens)
            servers.append(other_server)
            others[other] = other_server.url
        names = [p.name for p in paths]
        for name in names[:16]:
            httpx.post(f"{url}/v1/load_lora_adapter", json={"lora_name": name, "lora_path": str(work / "adapters" / name)},
                       timeout=60).raise_for_status()
        n = prompts_needed(profile, args.rounds)
        tokenizer = AutoTokenizer.from_pretrained(base)
        prompts = tiny_prompts(n) if args.model == "tiny" else real_prompts(tokenizer, n)
        config = AutoConfig.from_pretrained(base)
        model = {"name": args.model, "path": str(base) if args.model != "tiny" else None, "dtype": dtype,
                 "lora_rank": profile.rank, "params_m": round(parameter_count(base) / 1e6, 1),
                 "max_tokens": profile.max_tokens, "prompts": len(prompts),
                 "prompts_shared_prefix_tokens_max": shared_prefix_tokens(tokenizer, prompts)}
        model.update({k: getattr(config, k) for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                                      "num_attention_heads", "num_key_value_heads", "vocab_size")})
        scenarios = plan(profile, url, str(base), names[:16], prompts, others, args.rounds)
        result = {
            "machine": machine,
            "model": model,
            "throughput": throughput(scenarios, warm_up=prompts[0], max_tokens=profile.max_tokens, rounds=args.rounds),
            "adapter_load": load_latency(url, [work / "adapters" / n for n in names[16:24]]),
        }
        queried = server.metric("vllm:prefix_cache_queries_total")
        result["prefix_cache"] = {"prompt_tokens": int(queried),
                                  "hit_share": round(server.metric("vllm:prefix_cache_hits_total") / max(queried, 1), 3)}
        if profile.many_adapters:
            itemsize = getattr(torch, dtype).itemsize  # adapters are held in the served dtype
            adapter_mb = round(sum(tensor_numels(paths[0] / "adapter_model.safetensors")) * itemsize / 2**20, 2)
            result["many_adapters"] = many_adapters(server, names, adapter_mb=adapter_mb, max_cpu_loras=max_cpu_loras,
                                                    max_loras=max_loras, every=10 if args.quick else 50)
        ratios = result["throughput"]["ratios"]
        top = max(profile.mixes)
        result["targets"] = {
            "mixed_vs_base": _target(ratios[f"adapters_{top}_vs_base"], profile.mixed_target),
            "batched_vs_sequential": _target(ratios[f"adapters_{top}_vs_sequential"], 4),
        }
        result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        result["machine"]["load_average_1m_during"] = load.summary()
        print(json.dumps(result, indent=2))
    finally:
        for running in servers:
            running.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
