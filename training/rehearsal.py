"""Rehearsal against forgetting: the base model's own text, trained on beside the team's examples.

A few hundred steps on grounded answers move the model on all text: on SmolLM2 a Requests adapter
raised general-English perplexity by 7.7 %, a DRF one by 13.6 %, past the gate's 5 %. No outside
corpus is needed to hold that back: text the base model samples at temperature 1 is its own
distribution, so the loss on it is a sampled estimate of the divergence from the base (up to a
constant), and steps of it pull the adapter back toward the base wherever the team's data does not
pull it away (self-synthesized rehearsal, Huang et al., ACL 2024). The samples are never the gate's
general text, and are kept in the job's work folder, so a resumed job trains on the very same ones.
They depend only on the base model's weights and the sampling settings, so a shared cache folder
(``cache_dir``) gives every later job on the same base the same text without sampling it again
(24.5 s of a job's setup on 2 float32 CPU cores).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from training.data import IGNORE, Tokenized

REHEARSAL_FILE = "rehearsal.json"
POOL_SAMPLES = 32  # drawn once; rehearsal steps reuse them in different sets
# With the start token a sample is 128 ids, two of the 64 that step widths are rounded to (recipe.SHAPE_MULTIPLE): 128
# new tokens made every rehearsal row 192 wide, a third of it padding.
SAMPLE_TOKENS = 127
GENERATION_BATCH = 32  # the whole pool in one batch: 24.5 s against 34.4 s in two (SmolLM2, float32 CPU)


def rehearsal_pool(model, tokenizer, *, work_dir: Path, seed: int, base_model: str = "",
                   cache_dir: Path | None = None, samples: int = POOL_SAMPLES,
                   new_tokens: int = SAMPLE_TOKENS) -> list[Tokenized]:
    """``samples`` texts the (adapter-free) ``model`` writes from its start token, cut at the first
    end-of-sequence; loss on every token after the start. Read back from ``work_dir`` when there, else
    from ``cache_dir`` when an earlier job on the same ``base_model`` weights and settings left them."""
    kept = Path(work_dir) / REHEARSAL_FILE
    shared = Path(cache_dir) / f"{_cache_key(base_model, seed, samples, new_tokens)}.json" \
        if cache_dir and base_model else None
    if kept.exists():
        sequences = json.loads(kept.read_text())
    elif shared is not None and shared.exists():
        sequences = json.loads(shared.read_text())
        _write(kept, sequences)
    else:
        sequences = _sample(model, tokenizer, samples=samples, new_tokens=new_tokens, seed=seed)
        _write(kept, sequences)
        if shared is not None:
            _write(shared, sequences)
    return [Tokenized(id=f"rehearsal-{index}", input_ids=ids, labels=[IGNORE, *ids[1:]])
            for index, ids in enumerate(sequences) if len(ids) > 1]


def _cache_key(base_model: str, seed: int, samples: int, new_tokens: int) -> str:
    """The base model (a local folder: its weight files' names, sizes and times, so a model converted again is
    sampled again; else the hub id) and the sampling settings."""
    folder = Path(base_model)
    weights = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(folder.glob("*.safetensors"))] \
        if folder.is_dir() else []
    identity = [str(folder.resolve()) if folder.is_dir() else base_model, weights, seed, samples, new_tokens]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]


def _write(path: Path, sequences: list[list[int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(sequences))
    partial.replace(path)


def _sample(model, tokenizer, *, samples: int, new_tokens: int, seed: int) -> list[list[int]]:
    import torch

    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    stop = tokenizer.eos_token_id
    device = next(model.parameters()).device
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    sequences: list[list[int]] = []
    try:
        for first in range(0, samples, GENERATION_BATCH):
            count = min(GENERATION_BATCH, samples - first)
            prompt = torch.full((count, 1), start, device=device)
            with torch.no_grad():
                out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True,
                                     temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=new_tokens,
                                     use_cache=True, pad_token_id=stop)
            for row in out.tolist():
                text = row[1:]
                if stop in text:
                    text = text[: text.index(stop)]
                sequences.append([start, *text])
    finally:
        model.train(was_training)
        torch.random.set_rng_state(generator_state)
    return sequences


def rehearsal_step_count(*, task_steps: int, share: float) -> int:
    """Rehearsal steps per epoch so that they are ``share`` of all steps (at least one when > 0)."""
    if share <= 0 or task_steps < 1:
        return 0
    return max(1, round(task_steps * share / (1 - share)))
