"""``python -m serving --base-model M --adapter-dir DIR``: the embedded OpenAI-compatible server."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    parser.add_argument("--base-model", required=True, help="HF id or local path of the base model")
    parser.add_argument("--served-model-name", default=None, help="name clients use (default: --base-model)")
    parser.add_argument("--adapter-dir", type=Path, default=None,
                        help="folder of adapters loaded on demand by name (filesystem resolver)")
    parser.add_argument("--max-loras", type=int, default=4, help="distinct adapters in one batch")
    parser.add_argument("--max-cpu-loras", type=int, default=None, help="adapters kept in memory (LRU)")
    parser.add_argument("--max-lora-rank", type=int, default=16)
    parser.add_argument("--max-num-seqs", type=int, default=32, help="requests in the running batch")
    parser.add_argument("--max-model-len", type=int, default=None)
    parser.add_argument("--max-batch-total-tokens", type=int, default=None,
                        help="KV cache budget: tokens (prompt + max_tokens of each sequence, padding included) the "
                             "running batches hold at once; a request waits until it fits, one that never can gets "
                             "a 400 (default: the larger of 32768 and the context length)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                        help="compute dtype (auto: bf16 on CUDA and on CPUs with native bf16, else float32)")
    parser.add_argument("--max-prefill-tokens", type=int, default=None,
                        help="padded prompt tokens in one prefill pass (default: 2048 on the CPU, 8192 on a GPU)")
    parser.add_argument("--prefix-cache-tokens", type=int, default=None,
                        help="prompt tokens whose KV is kept for later prompts that begin alike, as vLLM's prefix "
                             "caching (default: 8192; 0 turns it off)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", default=os.environ.get("VLLM_API_KEY"))
    args = parser.parse_args(argv)
    if args.max_loras < 1 or args.max_lora_rank < 1 or args.max_num_seqs < 1:
        parser.error("--max-loras, --max-lora-rank and --max-num-seqs must be positive")
    if args.max_batch_total_tokens is not None and args.max_batch_total_tokens < 1:
        parser.error("--max-batch-total-tokens must be positive")
    if args.max_prefill_tokens is not None and args.max_prefill_tokens < 1:
        parser.error("--max-prefill-tokens must be positive")
    if args.prefix_cache_tokens is not None and args.prefix_cache_tokens < 0:
        parser.error("--prefix-cache-tokens must be 0 (off) or positive")
    args.max_cpu_loras = args.max_cpu_loras or max(args.max_loras, 16)
    if args.max_cpu_loras < args.max_loras:
        parser.error("--max-cpu-loras must be >= --max-loras")
    return args


def build_app(args: argparse.Namespace):
    from serving.adapters import AdapterRegistry
    from serving.app import create_app
    from serving.engine import Engine

    engine = Engine(args.base_model, served_name=args.served_model_name, device=args.device,
                    max_loras=args.max_loras, max_lora_rank=args.max_lora_rank, max_batch=args.max_num_seqs,
                    max_model_len=args.max_model_len, max_batch_total_tokens=args.max_batch_total_tokens,
                    dtype=args.dtype, max_prefill_tokens=args.max_prefill_tokens,
                    **({} if args.prefix_cache_tokens is None else {"prefix_cache_tokens": args.prefix_cache_tokens}))
    registry = AdapterRegistry(engine.base_info, adapter_dir=args.adapter_dir, max_cpu_loras=args.max_cpu_loras)
    return create_app(engine, registry, api_key=args.api_key)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from serving.engine import EngineConfigError

    try:
        app = build_app(args)
    except EngineConfigError as exc:
        raise SystemExit(f"python -m serving: {exc}") from None
    except (OSError, ValueError) as exc:  # not a model folder, not a causal LM, no tokenizer
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SystemExit(f"python -m serving: --base-model {args.base_model}: cannot serve it as a causal LM: "
                         f"{reason}") from None
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
