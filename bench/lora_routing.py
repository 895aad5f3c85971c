"""What a change of routing costs a decode step of many adapters, with gathers reusing evicted tensors and without.

    OMP_NUM_THREADS=1 DOCSBOT_DATA_DIR=/tmp/bench-lora .venv/bin/python bench/lora_routing.py [--rows 16] [--steps 20]

(JSON.) The serving engine's LoRA layers (``serving/lora.py``) on the offline base model (converted into DATA_DIR when
missing), every linear layer wrapped, 16 random rank-16 adapters in 16 slots, one decode-sized forward of ``--rows``
rows (one token each, each row its own adapter; no KV cache, so attention is negligible and what differs is the
linear layers). Per forward, median of ``--steps``:

- ``base``: no adapter (the baseline);
- ``lasting_routing``: the same rows every forward, their weights gathered once and reused;
- ``new_routing_every_forward``: the rows' adapters in another order every forward, each routing gathered anew into
  the tensors of gathers the layer evicted (what the engine does);
- ``new_routing_fresh_tensors``: the same, each gather into newly allocated tensors (what the engine did before).

A server's batch is routed anew whenever a request joins or leaves it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_ms(forward: Callable[[], None], steps: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for index in range(steps + 3):
        if before:
            before()
        started = time.perf_counter()
        forward()
        if index >= 3:  # warm-up
            times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
    import django

    django.setup()
    import torch
    from transformers import AutoModelForCausalLM

    from docsbot.core.serving import default_base_model_path
    from serving.engine import compute_dtype
    from serving.lora import AdapterWeights, BatchedLoRA, BatchedLoRALinear, ModuleWeights

    sys.path.insert(0, str(ROOT / "bench"))
    from serve import prepare_real_base

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    path = prepare_real_base(default_base_model_path())
    dtype = compute_dtype("auto", torch.device("cpu"))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
    slots, rank = 17, 16
    lora = BatchedLoRA(model.model, slots=slots, max_rank=rank)
    generator = torch.Generator().manual_seed(0)
    for slot in range(1, slots):
        modules = {name: ModuleWeights(a=torch.randn(fan_in, rank, generator=generator) * 0.02,
                                       b=torch.randn(rank, fan_out, generator=generator) * 0.02)
                   for name, (fan_in, fan_out) in lora.module_shapes().items()}
        lora.assign(slot, AdapterWeights(name=f"adapter-{slot}", path="", rank=rank, modules=modules))
    ids = torch.randint(100, 10_000, (args.rows, 1), generator=generator)
    rows = [1 + row % (slots - 1) for row in range(args.rows)]
    turn = iter(range(10**9))

    def forward() -> None:
        with torch.inference_mode():
            model(input_ids=ids, use_cache=False)

    def new_routing() -> None:  # the rows' adapters in an order not routed before
        shift = next(turn) % args.rows
        lora.route(rows[shift:] + rows[:shift] if shift else list(reversed(rows)), "cpu")

    lora.route([0] * args.rows, "cpu")
    base = _median_ms(forward, args.steps)
    lora.route(rows, "cpu")
    lasting = _median_ms(forward, args.steps)
    reused = _median_ms(forward, args.steps, before=new_routing)
    reuse = BatchedLoRALinear._buffer
    BatchedLoRALinear._buffer = lambda self, shape: torch.empty(shape, dtype=self.lora_a.dtype)  # the engine before
    fresh = _median_ms(forward, args.steps, before=new_routing)
    BatchedLoRALinear._buffer = reuse
    forward_ms = {"base": base, "lasting_routing": lasting, "new_routing_every_forward": reused,
                  "new_routing_fresh_tensors": fresh}
    print(json.dumps({
        "bench": "lora_routing", "model": str(path), "dtype": str(dtype).removeprefix("torch."), "rows": args.rows,
        "adapters": slots - 1, "rank": rank, "forward_ms": forward_ms,
        "vs_base": {name: round(value / base, 2) for name, value in forward_ms.items() if name != "base"},
        "new_routing_reused_vs_fresh": round(fresh / reused, 2),
        "load_average": os.getloadavg(),
    }, indent=2))


if __name__ == "__main__":
    main()
