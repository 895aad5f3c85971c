"""``python -m training train --base-model M --data train.jsonl --out DIR [...]`` and ``merge``.

Trains an adapter from a JSONL file of ``{"id", "messages": [...]}`` examples,
evaluates it on ``--heldout`` when given, and writes the adapter directory.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from training.config import AUTO, METHODS, TrainConfig


def _auto_int(text: str) -> int | str:
    return AUTO if text == AUTO else int(text)


def _auto_float(text: str) -> float | str:
    return AUTO if text == AUTO else float(text)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train an adapter")
    train.add_argument("--base-model", required=True, help="HF id or local path of the base model")
    train.add_argument("--data", required=True, type=Path, help="training examples (JSONL)")
    train.add_argument("--heldout", type=Path, help="held-out examples (JSONL) for the evaluation")
    train.add_argument("--out", required=True, type=Path, help="adapter directory to write")
    train.add_argument("--work-dir", type=Path, help="checkpoints (default: OUT.work); reruns resume")
    train.add_argument("--method", choices=METHODS, default="lora")
    for name in ("rank", "epochs", "batch-size", "max-length"):
        train.add_argument(f"--{name}", type=_auto_int, default=AUTO)
    train.add_argument("--alpha", type=_auto_float, default=AUTO)
    train.add_argument("--num-virtual-tokens", type=_auto_int, default=AUTO, help="prompt_tuning, prefix_tuning")
    train.add_argument("--learning-rate", type=_auto_float, default=AUTO)
    train.add_argument("--max-steps", type=int)
    train.add_argument("--checkpoint-every", type=int, default=50)
    train.add_argument("--max-rank", type=int, default=64)
    train.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=AUTO,
                       help="default: on with a GPU, off on a CPU")
    train.add_argument("--batching", choices=["auto", "pack", "group"], default="auto")
    train.add_argument("--eval-max-new-tokens", type=int, default=96)
    train.add_argument("--json", action="store_true", help="print only a JSON summary")
    merge = commands.add_parser("merge", help="fold an adapter into its base model (standalone model dir)")
    merge.add_argument("--adapter", required=True, type=Path)
    merge.add_argument("--out", required=True, type=Path)
    merge.add_argument("--base-model")
    merge.add_argument("--json", action="store_true", help="print only a JSON summary")
    return root


def train(args: argparse.Namespace) -> dict:
    from training.data import dataset_hash, load_jsonl
    from training.recipe import Recipe

    config = TrainConfig(
        method=args.method, rank=args.rank, alpha=args.alpha, learning_rate=args.learning_rate,
        epochs=args.epochs, batch_size=args.batch_size, max_length=args.max_length, max_steps=args.max_steps,
        checkpoint_every=args.checkpoint_every, max_rank=args.max_rank,
        gradient_checkpointing=args.gradient_checkpointing, batching=args.batching,
        num_virtual_tokens=args.num_virtual_tokens,
    )
    examples = load_jsonl(args.data)
    heldout = load_jsonl(args.heldout) if args.heldout else []
    started = time.monotonic()

    def show(progress) -> None:
        if not args.json:
            print(f"step {progress.step}/{progress.total_steps} loss {progress.loss:.4f} "
                  f"eta {progress.eta_seconds:.0f}s", file=sys.stderr)

    recipe = Recipe(base_model=args.base_model, config=config, train_examples=examples,
                    work_dir=args.work_dir or args.out.with_name(args.out.name + ".work"), on_progress=show)
    try:
        recipe.setup()
        result = recipe.train()
        metrics = {"final_loss": result.final_loss, "steps": result.steps}
        if heldout:
            metrics["evaluation"] = recipe.evaluate(heldout, max_new_tokens=args.eval_max_new_tokens)
        path = recipe.save_adapter(args.out, dataset_hash=dataset_hash(examples), metrics=metrics,
                                   extra={"config": result.config, "curve": result.curve})
        recipe.remove_checkpoints()
    finally:
        recipe.cleanup()
    return {"adapter": str(path), "seconds": round(time.monotonic() - started, 2),
            "resumed_from": result.resumed_from, **metrics}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "train":
            summary = train(args)
        else:
            from training.artifacts import export_merged

            summary = {"merged": str(export_merged(args.adapter, args.out, base_model=args.base_model))}
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=None if args.json else 2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
