"""Adapter training benchmark (prints JSON).

    python bench/train.py [--mode cpu|gpu|tiny|all] [--examples N]

cpu   docsbot's recipe (length-grouped or packed rows, loss-only projection) against HF ``Trainer``
      + PEFT as a naive user runs it (random order, padded) and as a competent one does
      (group_by_length with and without an attention mask, padding-free flattening, and TRL's
      SFTTrainer with packing where TRL is installed): same examples, model, LoRA and tokens, one
      epoch each, each side in its own process (clean peak memory), timed around the loop only.
      Reports effective (non-padding) tokens/s and peak memory, their ratios, and the ratio to
      the fastest fair baseline.
gpu   the same comparison where CUDA is present, on a Qwen2.5-0.5B-shaped random model, for
      LoRA and QLoRA, RAFT-length examples (500–1100 tokens) then short Q&A pairs (70–380).
tiny  the offline path end to end on the real pipeline: build the tiny base model (brief
      pre-training on the test docs), ingest tests/fixtures/docs, generate_qa, then one training
      job in the foreground (dataset_build, auto hyperparameters, evaluation gate); the job must
      finish in under 2 minutes and the adapter beat the base on held-out F1. Needs DATABASE_URL,
      REDIS_URL and DOCSBOT_DATA_DIR like the other Django benchmarks.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOCS = ROOT / "tests" / "fixtures" / "docs"
QWEN_05B = {"vocab_size": 151_936, "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
            "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 32_768}


# --- data -------------------------------------------------------------------------------------
def synthetic_examples(n: int, *, low: int, high: int, seed: int = 0) -> list[dict]:
    """Chat examples whose token lengths spread over [low, high], like real pairs: a context
    of corpus words, a question, and an answer of 10–25% of the example."""
    from training.base_model import read_corpus

    words = " ".join(read_corpus([DOCS])).split()
    rng = random.Random(seed)
    examples = []
    for index in range(n):
        total = rng.randint(low, high)  # ≈ tokens; the BPE of the tiny tokenizer is ~1 token per word
        answer_words = max(5, int(total * rng.uniform(0.1, 0.25)))
        context_words = max(5, total - answer_words - 60)
        start = rng.randrange(len(words))
        context = " ".join(words[(start + i) % len(words)] for i in range(context_words))
        answer = " ".join(words[(start + 7 * i) % len(words)] for i in range(answer_words))
        examples.append({"id": index, "messages": [
            {"role": "system", "content": "You are docsbot. Answer from the documents."},
            {"role": "user", "content": f"<documents>{context}</documents>\n\nQuestion: what does it say?"},
            {"role": "assistant", "content": answer},
        ]})
    return examples


def build_random_base(out: Path, shape: str) -> Path:
    """A random-init model of the given shape with the tiny tokenizer (ids fit any larger vocab)."""
    from training.base_model import SHAPES, build_base_model

    if shape in SHAPES:
        return build_base_model(out, [DOCS], size=shape, pretrain_steps=0)
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer_dir = build_base_model(out.with_name(out.name + "-tok"), [DOCS], size="test", pretrain_steps=0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = Qwen2Config(**QWEN_05B, tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# --- one side of the comparison, run in a child process ------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_docsbot(base: str, examples: list[dict], method: str, batch_rows: int, row_length: int | str,
                checkpointing: bool | str = "auto") -> dict:
    """``row_length`` "auto": 1,024 tokens or the longest example's length, so every example trains
    (as on the HF side); no rehearsal steps, so both sides train the same tokens."""
    import torch

    from training.config import TrainConfig
    from training.recipe import Recipe

    config = TrainConfig(method=method, rank=16, epochs=1, batch_size=batch_rows, max_length=row_length,
                         learning_rate=2e-4, dropout=0.0, checkpoint_every=10**9, rehearsal=0,
                         gradient_checkpointing=checkpointing)
    with tempfile.TemporaryDirectory() as work:
        recipe = Recipe(base_model=base, config=config, train_examples=examples, work_dir=Path(work))
        recipe.setup()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        before = _rss()
        result = recipe.train()
        peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        recipe.cleanup()
    return {"steps": result.steps, "seconds": round(result.seconds, 2), "real_tokens": result.dataset["real_tokens"],
            "rows": result.dataset["rows"], "skipped_too_long": result.dataset["skipped_too_long"],
            "row_length": result.config["max_length"], "batching": result.dataset["batching"], "effective_tokens_per_s": round(result.real_tokens_per_second, 1),
            "peak_memory_bytes": peak, "final_loss": result.final_loss}


HF_BASELINES = {
    "padded": "HF Trainer + PEFT, random order, each batch padded to its longest example (the naive setup)",
    "grouped": "HF Trainer + PEFT, group_by_length, batches padded to their longest example",
    "grouped_unmasked": "the same without an attention mask (right padding: causal attention never reads it), "
                        "so sdpa keeps its fused kernel",
    "flattened": "HF Trainer + PEFT, padding-free: DataCollatorWithFlattening (one row, position_ids restart)",
    "trl_packed": "TRL SFTTrainer, packing=True (best-fit decreasing), completion-only loss",
}
FAIR_BASELINES = ("grouped", "grouped_unmasked", "flattened", "trl_packed")  # what a competent user would run


class LoopTimer:
    """A TrainerCallback timing the training loop only (not the Trainer's setup or teardown)."""

    def __init__(self) -> None:
        self.started = self.ended = 0.0

    def on_train_begin(self, *args, **kwargs) -> None:
        self.started = time.monotonic()

    def on_train_end(self, *args, **kwargs) -> None:
        self.ended = time.monotonic()

    def __getattr__(self, name: str):  # every other callback event: nothing to do
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def _hf_model(base: str, method: str):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    cuda = torch.cuda.is_available()
    if method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = AutoModelForCausalLM.from_pretrained(base, quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if cuda else torch.float32), device_map={"": 0 if cuda else "cpu"})
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    else:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16 if cuda else torch.float32)
    return get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))


def _pad_right_unmasked(pad_id: int):
    """A collator: input_ids right-padded with ``pad_id``, labels with IGNORE, no attention mask."""
    import torch

    from training.data import IGNORE

    def collate(features: list[dict]) -> dict:
        width = max(len(f["input_ids"]) for f in features)
        return {"input_ids": torch.tensor([f["input_ids"] + [pad_id] * (width - len(f["input_ids"])) for f in features]),
                "labels": torch.tensor([f["labels"] + [IGNORE] * (width - len(f["labels"])) for f in features])}

    return collate


def run_hf(base: str, examples: list[dict], method: str, batch_size: int, baseline: str = "padded",
           step_tokens: int = 4096) -> dict:
    """One of HF_BASELINES: same model, LoRA, learning rate and examples; ``batch_size`` examples a
    step (TRL: packed rows of ``step_tokens``, one a step); the timer covers the training loop only."""
    import torch
    from transformers import (
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        DataCollatorWithFlattening,
        Trainer,
        TrainingArguments,
    )

    from training.data import IGNORE, tokenize_example

    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(base)
    rows = [tokenize_example(tokenizer, e, i) for i, e in enumerate(examples)]
    model = _hf_model(base, method)
    timer = LoopTimer()
    common = {"num_train_epochs": 1, "learning_rate": 2e-4, "logging_steps": 10**9, "save_strategy": "no",
              "report_to": [], "bf16": cuda, "use_cpu": not cuda, "dataloader_num_workers": 0, "seed": 0,
              "disable_tqdm": True}
    with tempfile.TemporaryDirectory() as out:
        if baseline == "trl_packed":
            from datasets import Dataset
            from trl import SFTConfig, SFTTrainer

            dataset = Dataset.from_list([{"input_ids": r.input_ids,
                                          "completion_mask": [int(label != IGNORE) for label in r.labels]}
                                         for r in rows])
            args = SFTConfig(output_dir=out, per_device_train_batch_size=1, packing=True, max_length=step_tokens,
                             completion_only_loss=True, dataset_num_proc=None, **common)
            trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                                 callbacks=[timer])
        else:
            dataset = [{"input_ids": r.input_ids, "labels": r.labels}
                       | ({"attention_mask": [1] * len(r.input_ids)} if baseline in ("padded", "grouped") else {})
                       for r in rows]
            collator = DataCollatorWithFlattening() if baseline == "flattened" else \
                _pad_right_unmasked(tokenizer.pad_token_id or 0) if baseline == "grouped_unmasked" else \
                DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=IGNORE)
            grouped = baseline in ("grouped", "grouped_unmasked")
            args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch_size,
                                     train_sampling_strategy="group_by_length" if grouped else "random",
                                     remove_unused_columns=False, **common)
            trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator,
                              callbacks=[timer])
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        before = _rss()
        output = trainer.train()
    seconds = timer.ended - timer.started
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    real = sum(len(r.input_ids) for r in rows)
    if baseline in ("padded", "grouped", "grouped_unmasked"):
        order = sorted(rows, key=lambda r: len(r.input_ids)) if baseline != "padded" else rows
        padded = sum(max(len(r.input_ids) for r in order[i:i + batch_size]) * len(order[i:i + batch_size])
                     for i in range(0, len(order), batch_size))  # grouped: approximately (HF groups in megabatches)
    else:
        padded = real
    return {"baseline": baseline, "steps": output.global_step, "seconds": round(seconds, 2), "real_tokens": real,
            "padded_tokens": padded, "effective_tokens_per_s": round(real / seconds, 1), "peak_memory_bytes": peak,
            "final_loss": output.training_loss}


def child(spec: dict) -> dict:
    """Run one side in a fresh process so peak memory is its own."""
    completed = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                               text=True, cwd=ROOT, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{spec['side']} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def compare(base: str, examples_file: str, *, method: str, hf_batch: int, rows: int, row_length: int | str,
            rounds: int = 1, checkpointing: bool | str = "auto", baselines: Sequence[str] = ("padded",)) -> dict:
    """docsbot against each of ``baselines``, ``rounds`` times, alternating, each run in its own
    process; the median run of each side is reported (a load spike on a shared box hits one run,
    not the whole comparison). The headline ratio is against the fastest fair baseline run."""
    spec = {"base": base, "examples": examples_file, "method": method}
    runs: dict[str, list[dict]] = {name: [] for name in (*baselines, "docsbot")}
    for _ in range(rounds):
        for name in baselines:
            runs[name].append(child({**spec, "side": "hf", "baseline": name, "batch_size": hf_batch,
                                     "step_tokens": rows * (row_length if isinstance(row_length, int) else 1024)}))
        runs["docsbot"].append(child({**spec, "side": "docsbot", "batch_rows": rows, "row_length": row_length,
                                      "checkpointing": checkpointing}))
    ours = _median_run(runs["docsbot"])
    result: dict = {"method": method, "rounds": rounds, "docsbot": ours, "docsbot_gradient_checkpointing": checkpointing,
                    "baselines": {}}
    for name in baselines:
        theirs = _median_run(runs[name])
        result["baselines"][name] = {
            "description": HF_BASELINES[name], **theirs,
            "effective_tokens_per_s_ratio": round(ours["effective_tokens_per_s"] / theirs["effective_tokens_per_s"], 2),
            "ratio_per_round": [round(o["effective_tokens_per_s"] / h["effective_tokens_per_s"], 2)
                                for h, o in zip(runs[name], runs["docsbot"])],
            "peak_memory_ratio": round(ours["peak_memory_bytes"] / max(1, theirs["peak_memory_bytes"]), 2),
            "padding_fraction": round(1 - theirs["real_tokens"] / theirs["padded_tokens"], 3)}
    fair = {name: result["baselines"][name] for name in baselines if name in FAIR_BASELINES}
    if fair:
        best = max(fair, key=lambda name: fair[name]["effective_tokens_per_s"])
        result["best_fair_baseline"] = best
        result["ratio_vs_best_fair_baseline"] = fair[best]["effective_tokens_per_s_ratio"]
    return result


def _trl_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("trl") is not None


def _median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda run: run["effective_tokens_per_s"])[len(runs) // 2]


# --- modes ----------------------------------------------------------------------------------------
def mode_cpu(work: Path, n: int, rounds: int) -> dict:
    base = str(build_random_base(work / "tiny-random", "tiny"))
    examples = synthetic_examples(n, low=70, high=380)
    path = work / "pairs.json"
    path.write_text(json.dumps(examples))
    result = compare(base, str(path), method="lora", hf_batch=8, rows=4, row_length="auto", rounds=rounds,
                     baselines=tuple(HF_BASELINES) if _trl_installed() else tuple(HF_BASELINES)[:-1])
    return {"model": "tiny (Llama, 256 hidden, 4 layers, vocab 4096), random init", "examples": n,
            "pair_tokens": "70-380", "targets": {"vs_best_fair_baseline": 1.5, "vs_padded": 2.0}, **result}


def mode_gpu(work: Path, n: int) -> dict:
    """RAFT-length examples first (the shape real training data has), then short pairs, LoRA then
    QLoRA: docsbot as ``auto`` configures it on this GPU against the padded baseline and the fair
    ones (TRL's where it is installed), batch 4 on every side (HF's padded batch of 16 ran an
    H200 out of memory). Each comparison goes to stderr as it finishes (a timeout keeps them)."""
    import torch

    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device"}
    base = str(build_random_base(work / "qwen05b-random", "qwen2.5-0.5b"))
    results = {"model": "Qwen2.5-0.5B shape, random init, bf16", "device": torch.cuda.get_device_name(0)}
    baselines = ("padded", "grouped_unmasked", "flattened", *(("trl_packed",) if _trl_installed() else ()))
    sets = {"raft_length": (500, 1100, n // 2), "short_pairs": (70, 380, n)}
    for name, (low, high, count) in sets.items():
        path = work / f"{name}.json"
        path.write_text(json.dumps(synthetic_examples(count, low=low, high=high)))
        for method in ("lora", "qlora"):
            key = f"{name}_{method}"
            results[key] = compare(base, str(path), method=method, hf_batch=4, rows=4, row_length="auto",
                                   baselines=baselines)
            print(json.dumps({key: results[key]}), file=sys.stderr, flush=True)
    return results


def mode_tiny(work: Path) -> dict:
    """The real pipeline on the fixture docs: ingest -> generate_qa -> a training job run in the
    foreground (dataset_build, auto hyperparameters, checkpoints, evaluation gate), as ``train``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from training.base_model import build_base_model

    call_command("migrate", verbosity=0)
    from docsbot.adapters.models import AdapterVersion, TrainingJob
    from docsbot.adapters.runner import training_job_run
    from docsbot.adapters.services import training_job_create, worker_identity
    from docsbot.documents.models import Document
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.models import QAPair
    from docsbot.qa.services import qa_generate
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create

    started = time.monotonic()
    base = build_base_model(work / "tiny-base", [DOCS], size="tiny", pretrain_steps=300, time_budget_s=90)
    pretrain_seconds = time.monotonic() - started
    settings.BASE_MODEL, settings.SERVING_URL = str(base), None
    settings.ADAPTER_DIR = work / "adapters"
    team = Team.objects.filter(slug="bench-train").first() or team_create(slug="bench-train", name="Bench train")
    # a fresh start: an earlier run's promoted version would be the bar this one must beat
    AdapterVersion.objects.filter(team=team).delete()
    TrainingJob.objects.filter(team=team).delete()
    QAPair.objects.filter(team=team).delete()
    Document.objects.filter(team=team).delete()
    started = time.monotonic()
    ingest_paths(team=team, items=[str(p) for p in sorted(DOCS.iterdir())])
    qa_generate(team=team, generator="structural")
    data_seconds = time.monotonic() - started
    job = training_job_create(team=team, base_model=str(base), enqueue=False)
    started = time.monotonic()
    job = training_job_run(job_id=job.pk, owner=worker_identity())
    job_seconds = time.monotonic() - started
    version = AdapterVersion.objects.filter(job=job).first()
    metrics = version.metrics if version else {}
    evaluation = metrics.get("evaluation", {})
    f1 = (evaluation.get("base", {}).get("f1", 0.0), evaluation.get("adapter", {}).get("f1", 0.0))
    return {"base_pretrain_seconds": round(pretrain_seconds, 1), "ingest_generate_seconds": round(data_seconds, 1),
            "status": job.status, "error": job.error, "config": job.config,
            "train_examples": metrics.get("dataset", {}).get("examples"),
            "heldout_examples": evaluation.get("heldout_examples"), "steps": metrics.get("steps"),
            "train_seconds": metrics.get("train_seconds"), "job_seconds": round(job_seconds, 1),
            "under_2_minutes": job_seconds < 120, "final_loss": metrics.get("final_loss"),
            "f1_base": round(f1[0], 4), "f1_adapter": round(f1[1], 4),
            "rouge_l_base": round(evaluation.get("base", {}).get("rouge_l", 0.0), 4),
            "rouge_l_adapter": round(evaluation.get("adapter", {}).get("rouge_l", 0.0), 4),
            "forgetting_ppl_ratio": evaluation.get("forgetting_ppl_ratio"),
            "adapter_beats_base": f1[1] > f1[0], "promoted": bool(version and version.status == "promoted"),
            "eval_max_new_tokens": evaluation.get("max_new_tokens"),
            "fit_on_training_pairs": evaluation.get("fit"),
            "heldout_samples": evaluation.get("adapter", {}).get("samples", [])[:2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["cpu", "gpu", "tiny", "all"], default="all")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="cpu mode: alternating runs per side (median kept)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.child:
        spec = json.loads(args.child)
        examples = json.loads(Path(spec["examples"]).read_text())
        if spec["side"] == "hf":
            result = run_hf(spec["base"], examples, spec["method"], spec["batch_size"], spec.get("baseline", "padded"),
                            spec.get("step_tokens", 4096))
        else:
            result = run_docsbot(spec["base"], examples, spec["method"], spec["batch_rows"], spec["row_length"],
                                 spec.get("checkpointing", "auto"))
        print(json.dumps(result))
        return
    report: dict = {"benchmark": "train"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.mode in ("cpu", "all"):
            report["cpu"] = mode_cpu(work, args.examples, args.rounds)
        if args.mode in ("gpu", "all"):
            report["gpu"] = mode_gpu(work, max(args.examples, 256))
        if args.mode in ("tiny", "all"):
            report["tiny"] = mode_tiny(work)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
