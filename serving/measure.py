"""Decode speed of one adapter in the embedded engine, alone (``manage.py compare_methods`` runs this).

``python -m serving.measure --base-model M [--adapter DIR] [--tokens N] [--json]``: greedy
decoding of ``--tokens`` tokens for ``--batch`` identical requests with the adapter, after one
warm-up request; prints decode tokens per second (prefill excluded).
"""
from __future__ import annotations

import argparse
import json
import threading
import time

PROMPT = "Explain how to configure the project and deploy it, step by step."


def decode_tokens_per_second(base_model: str, adapter_dir: str | None, *, tokens: int = 32, batch: int = 1,
                             dtype: str = "auto") -> dict[str, float]:
    from serving.adapters import load_adapter
    from serving.engine import Engine, Event, Request, SamplingParams

    engine = Engine(base_model, max_loras=1, max_lora_rank=512, dtype=dtype)
    try:
        adapter = load_adapter("measured", adapter_dir, engine.base_info) if adapter_dir else None
        ids = engine.tokenizer(PROMPT)["input_ids"]

        def run(count: int, new_tokens: int) -> tuple[float, float]:
            """(seconds to the first token, seconds from it to the last) for ``count`` requests."""
            done, first = threading.Semaphore(0), []

            def emit(event: Event) -> None:
                if not first:
                    first.append(time.perf_counter())
                if event.kind != "delta":
                    done.release()

            params = SamplingParams(max_tokens=new_tokens, temperature=0.0, ignore_eos=True)
            started = time.perf_counter()
            engine.submit(*(Request(prompt_ids=list(ids), adapter=adapter, params=params, emit=emit)
                            for _ in range(count)))
            for _ in range(count):
                if not done.acquire(timeout=600):
                    raise TimeoutError("the engine did not finish the measured requests")
            return first[0] - started, time.perf_counter() - first[0]

        run(1, 4)  # warm-up: kernels, caches
        prefill, decode = run(batch, tokens)
        return {"decode_tokens_per_second": round(batch * (tokens - 1) / max(decode, 1e-9), 1),
                "first_token_seconds": round(prefill, 4), "batch": batch, "tokens": tokens}
    finally:
        engine.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.measure", description=__doc__)
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--adapter")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args(argv)
    print(json.dumps(decode_tokens_per_second(args.base_model, args.adapter, tokens=args.tokens, batch=args.batch,
                                              dtype=args.dtype)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
