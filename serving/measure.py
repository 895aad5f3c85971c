"""Decode speed of one adapter in the embedded engine, alone and beside other teams' adapters
(``manage.py compare_methods`` runs this).

``python -m serving.measure --base-model M [--adapter DIR] [--tokens N] [--batch B] [--others K]``:
greedy decoding of ``--tokens`` tokens for ``--batch`` identical requests with the adapter, after one
warm-up request; with ``--others K`` the same again with one request of each of K other teams' LoRA
adapters (rank 8 on every Linear, random weights: the cost depends on the shapes alone) decoding at the
same time. Prints decode tokens per second (prefill excluded) as JSON.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

PROMPT = "Explain how to configure the project and deploy it, step by step."
MIXED_PROMPTS = ("How do I send a request with a timeout?", "What does the session object keep between requests?",
                 "Explain how to configure the project and deploy it, step by step.")


def decode_tokens_per_second(base_model: str, adapter_dir: str | None, *, tokens: int = 32, batch: int = 1,
                             others: int = 0, dtype: str = "auto") -> dict[str, Any]:
    from serving.adapters import load_adapter
    from serving.engine import Engine

    engine = Engine(base_model, max_loras=1 + others, max_lora_rank=512, dtype=dtype)
    try:
        adapter = load_adapter("measured", adapter_dir, engine.base_info) if adapter_dir else None
        neighbours = [other_team_lora(f"team-{index}", engine.base_info, seed=index) for index in range(others)]
        ids = engine.tokenizer(PROMPT)["input_ids"]

        def run(adapters: list, new_tokens: int) -> tuple[float, float]:
            _, prefill, decode = _greedy(engine, [(ids, a) for a in adapters], new_tokens)
            return prefill, decode

        run([adapter], 4)  # warm-up: kernels, caches
        prefill, decode = run([adapter] * batch, tokens)
        report: dict[str, Any] = {"decode_tokens_per_second": round(batch * (tokens - 1) / max(decode, 1e-9), 1),
                                  "first_token_seconds": round(prefill, 4), "batch": batch, "tokens": tokens}
        if others:
            run([adapter, *neighbours], 4)
            _, decode = run([adapter] * batch + neighbours, tokens)
            streams = batch + others
            report["mixed"] = {"other_adapters": others,
                               "decode_tokens_per_second": round(streams * (tokens - 1) / max(decode, 1e-9), 1),
                               "per_stream_tokens_per_second": round((tokens - 1) / max(decode, 1e-9), 1)}
        return report
    finally:
        engine.shutdown()


def mixed_matches_alone(base_model: str, adapters: dict[str, str], prompts: list[str], *, tokens: int = 24,
                        dtype: str = "auto") -> dict[str, Any]:
    """Greedy answers of every (adapter, prompt) pair run all in one submission equal each run alone:
    LoRA, IA3, soft-prompt, prefix and bottleneck adapters share the engine without changing each
    other's tokens. Run it in float32: in bf16 a batch's other shapes round differently, and a greedy
    choice between two near-equal tokens may flip for that reason alone."""
    from serving.adapters import load_adapter
    from serving.engine import Engine

    engine = Engine(base_model, max_loras=max(1, len(adapters)), max_lora_rank=512, dtype=dtype)
    try:
        loaded = {name: load_adapter(name, path, engine.base_info) for name, path in adapters.items()}
        jobs = [(name, engine.tokenizer(prompt)["input_ids"]) for name in loaded for prompt in prompts]

        def generate(batch: list[tuple[str, list[int]]]) -> list[list[int]]:
            requests, _, _ = _greedy(engine, [(ids, loaded[name]) for name, ids in batch], tokens)
            return [list(request.generated) for request in requests]

        alone = [generate([job])[0] for job in jobs]
        together = generate(jobs)
        differ = [f"{name}: {prompt!r}" for (name, _), prompt, a, b in
                  zip(jobs, prompts * len(loaded), alone, together, strict=True) if a != b]
        return {"requests": len(jobs), "adapters": sorted(loaded), "same_tokens": not differ, "differ": differ}
    finally:
        engine.shutdown()


def _greedy(engine, jobs: list[tuple[list[int], Any]], new_tokens: int) -> tuple[list, float, float]:
    """One greedy request per (prompt ids, adapter), all submitted at once, waited for: the requests,
    the seconds to the first token and the seconds from it to the last."""
    from serving.engine import Event, Request, SamplingParams

    done, first = threading.Semaphore(0), []

    def emit(event: Event) -> None:
        if not first:
            first.append(time.perf_counter())
        if event.kind != "delta":
            done.release()

    params = SamplingParams(max_tokens=new_tokens, temperature=0.0, ignore_eos=True)
    requests = [Request(prompt_ids=list(ids), adapter=adapter, params=params, emit=emit) for ids, adapter in jobs]
    started = time.perf_counter()
    engine.submit(*requests)
    for _ in requests:
        if not done.acquire(timeout=600):
            raise TimeoutError("the engine did not finish the requests")
    return requests, first[0] - started, time.perf_counter() - first[0]


def other_team_lora(name: str, base_info, *, seed: int, rank: int = 8):
    """A LoRA adapter on every adaptable Linear with small random weights, as another team's would be."""
    import torch

    from serving.lora import AdapterWeights, ModuleWeights

    generator = torch.Generator().manual_seed(seed)

    def weights(rows: int, cols: int) -> torch.Tensor:
        return (torch.randn(rows, cols, generator=generator) * 0.02).to(base_info.dtype)

    modules = {module: ModuleWeights(a=weights(in_features, rank), b=weights(rank, out_features))
               for module, (in_features, out_features) in base_info.module_shapes.items()}
    return AdapterWeights(name=name, path=f"<random {name}>", rank=rank, modules=modules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.measure", description=__doc__)
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--adapter")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--others", type=int, default=0, help="other teams' LoRA adapters decoding alongside")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--mixed-check", nargs="+", metavar="NAME=DIR",
                        help="instead: check that these adapters' greedy answers are the same run together as alone")
    args = parser.parse_args(argv)
    if args.mixed_check:
        adapters = dict(item.split("=", 1) for item in args.mixed_check)
        print(json.dumps(mixed_matches_alone(args.base_model, adapters, list(MIXED_PROMPTS), dtype=args.dtype)))
        return 0
    print(json.dumps(decode_tokens_per_second(args.base_model, args.adapter, tokens=args.tokens, batch=args.batch,
                                              others=args.others, dtype=args.dtype)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
