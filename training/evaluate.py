"""The evaluation gate's measurements: answer quality on held-out examples, and forgetting.

Held-out examples already carry the retrieved context in their messages (as in
production); the model answers greedily and each answer is scored against the
reference with token-level F1 and ROUGE-L. Forgetting is the perplexity on
general English text the adapter never saw (``general_english.txt``), adapter
versus base.
"""
from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

GENERAL_TEXT = Path(__file__).with_name("general_english.txt")
MIN_HELDOUT = 5  # below this, held-out F1 is noise: a "fit" score on training pairs is added
FIT_SAMPLE = 4
ANSWER_MARGIN = 16  # generated tokens allowed beyond the longest reference answer
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_tokens(text: str) -> list[str]:
    """SQuAD-style: lower case, no punctuation or articles, whitespace tokens."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def token_f1(prediction: str, reference: str) -> float:
    predicted, expected = normalize_tokens(prediction), normalize_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure from the longest common subsequence of normalised tokens."""
    predicted, expected = normalize_tokens(prediction), normalize_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    previous = [0] * (len(expected) + 1)
    for token in predicted:
        current = [0]
        for j, other in enumerate(expected):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(predicted), lcs / len(expected)
    return 2 * precision * recall / (precision + recall)


def generate_answers(model, tokenizer, examples: Sequence[dict], *, max_new_tokens: int = 96,
                     batch_size: int = 8) -> list[str]:
    """Greedy answers to each example's prompt (its messages without the reference answer)."""
    import torch

    from training.data import prompt_ids

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    answers: list[str] = []
    model.eval()
    for start in range(0, len(examples), batch_size):
        prompts = [prompt_ids(tokenizer, e["messages"]) for e in examples[start:start + batch_size]]
        width = max(len(p) for p in prompts)
        # Left padding, so every row's answer starts at the same column.
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
        # use_cache: training turns the KV cache off in the model config; without it every new
        # token re-reads the whole (RAFT-length) prompt.
        with torch.no_grad(), _autocast(device):
            output = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                    do_sample=False, eos_token_id=tokenizer.eos_token_id, pad_token_id=pad,
                                    use_cache=True)
        for row in output[:, width:]:
            answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return answers


def perplexity(model, tokenizer, text: str, *, window: int = 256) -> float:
    """Token perplexity of ``text`` in non-overlapping windows."""
    import torch

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    device = next(model.parameters()).device
    total, count = 0.0, 0
    model.eval()
    for start in range(0, max(1, len(ids) - 1), window):
        chunk = torch.tensor([ids[start:start + window + 1]], device=device)
        if chunk.shape[1] < 2:
            break
        with torch.no_grad(), _autocast(device):
            loss = model(input_ids=chunk, labels=chunk).loss
        total += float(loss) * (chunk.shape[1] - 1)
        count += chunk.shape[1] - 1
    return math.exp(total / max(1, count))


def answer_budget(tokenizer, examples: Sequence[dict], *, cap: int) -> int:
    """New tokens worth generating: the longest reference answer plus a margin, at most ``cap``
    (a longer answer only lowers F1, and generation time grows with every token)."""
    longest = max((len(tokenizer(e["messages"][-1]["content"], add_special_tokens=False)["input_ids"])
                   for e in examples), default=0)
    return max(1, min(cap, longest + ANSWER_MARGIN))


def answer_quality(model, tokenizer, examples: Sequence[dict], *, max_new_tokens: int) -> dict[str, Any]:
    answers = generate_answers(model, tokenizer, examples, max_new_tokens=max_new_tokens)
    references = [e["messages"][-1]["content"] for e in examples]
    n = max(1, len(examples))
    return {
        "f1": sum(token_f1(a, r) for a, r in zip(answers, references, strict=True)) / n,
        "rouge_l": sum(rouge_l(a, r) for a, r in zip(answers, references, strict=True)) / n,
        "samples": [{"id": e.get("id"), "answer": a, "reference": r}
                    for e, a, r in list(zip(examples, answers, references, strict=True))[:3]],
    }


def score(model, tokenizer, examples: Sequence[dict], general_text: str, *, max_new_tokens: int) -> dict[str, Any]:
    return {**answer_quality(model, tokenizer, examples, max_new_tokens=max_new_tokens),
            "perplexity_general": perplexity(model, tokenizer, general_text)}


def evaluate_adapter(peft_model, tokenizer, heldout: Sequence[dict], *, general_text: str | None = None,
                     max_examples: int = 64, max_new_tokens: int = 96, train: Sequence[dict] = ()) -> dict[str, Any]:
    """Base (adapter disabled) and base+adapter on the same held-out examples and general text.

    With fewer than ``MIN_HELDOUT`` held-out examples, ``fit`` also scores both on a sample of
    training pairs: a sanity check that the adapter learned anything, never the gate's input."""
    examples = list(heldout)[:max_examples]
    text = general_text if general_text is not None else GENERAL_TEXT.read_text()
    budget = answer_budget(tokenizer, examples, cap=max_new_tokens)
    fit_examples = list(train)[:FIT_SAMPLE] if len(examples) < MIN_HELDOUT else []
    fit_budget = answer_budget(tokenizer, fit_examples, cap=max_new_tokens)
    adapter = score(peft_model, tokenizer, examples, text, max_new_tokens=budget)
    fit_adapter = answer_quality(peft_model, tokenizer, fit_examples, max_new_tokens=fit_budget) \
        if fit_examples else None
    with peft_model.disable_adapter():
        base = score(peft_model, tokenizer, examples, text, max_new_tokens=budget)
        fit_base = answer_quality(peft_model, tokenizer, fit_examples, max_new_tokens=fit_budget) \
            if fit_examples else None
    fit = None if not fit_examples else {
        "note": f"TRAINING pairs (not held-out; fewer than {MIN_HELDOUT} held-out examples): "
                "shows the adapter fit its data, not that it generalises; the gate ignores it",
        "examples": len(fit_examples), "f1_base": fit_base["f1"], "f1_adapter": fit_adapter["f1"],
        "rouge_l_base": fit_base["rouge_l"], "rouge_l_adapter": fit_adapter["rouge_l"],
        "samples": fit_adapter["samples"][:2]}
    return {
        "heldout_examples": len(examples),
        "max_new_tokens": budget,
        "fit": fit,
        "base": base,
        "adapter": adapter,
        "f1_gain": adapter["f1"] - base["f1"],
        "rouge_l_gain": adapter["rouge_l"] - base["rouge_l"],
        # > 1: the adapter is more surprised by general text than the base was.
        "forgetting_ppl_ratio": adapter["perplexity_general"] / base["perplexity_general"],
    }


def _autocast(device):
    import contextlib

    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
