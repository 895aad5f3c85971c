"""The evaluation gate's measurements: answer quality on held-out examples, and forgetting.

Held-out examples already carry the retrieved context in their messages (as in
production); the model answers greedily. Each answer is scored against its reference:

- token F1 and ROUGE-L (citations stripped from both), on examples whose context holds the
  source chunk (the reference cites it: ``... [n]``);
- citation accuracy: the answer cites that chunk's number;
- not-covered accuracy: on examples whose source chunk was withheld (the reference is the
  not-covered reply), the answer says the documentation does not cover it.

Base and adapter answer the same examples, so their per-example scores are compared with
paired tests (training/stats.py). Forgetting is the perplexity on general English text the
adapter never saw (``general_english.txt``), adapter versus base.
"""
from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from training.text_metrics import rouge_l, says_not_covered, token_f1

GENERAL_TEXT = Path(__file__).with_name("general_english.txt")
MIN_HELDOUT = 5  # below this, held-out F1 is noise: a "fit" score on training pairs is added
FIT_SAMPLE = 4
ANSWER_MARGIN = 16  # generated tokens allowed beyond the longest reference answer


def generate_answers(model, tokenizer, examples: Sequence[dict], *, max_new_tokens: int = 96,
                     batch_size: int = 16) -> list[str]:
    """Greedy answers to each example's prompt (its messages without the reference answer), in their order.

    Generated in batches of at most ``batch_size`` prompts of similar length, as even as the count allows: a
    batch costs about as many decode steps whatever its rows, so 10 examples go in one batch of 10, not 8 and
    2 (the demo's gate: 22.7 against 29.9 s a side, float32 SmolLM2 on 2 cores, the same answers)."""
    import math

    import torch

    from training.data import prompt_ids

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    all_prompts = [prompt_ids(tokenizer, e["messages"]) for e in examples]
    order = sorted(range(len(examples)), key=lambda index: len(all_prompts[index]))
    size = math.ceil(len(examples) / max(1, math.ceil(len(examples) / batch_size))) if examples else 1
    answers: list[str] = [""] * len(examples)
    model.eval()
    for start in range(0, len(examples), size):
        rows = order[start:start + size]
        prompts = [all_prompts[index] for index in rows]
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
        for index, row in zip(rows, output[:, width:], strict=True):
            answers[index] = tokenizer.decode(row, skip_special_tokens=True).strip()
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


def forgetting_ratio(peft_model, tokenizer, *, base_perplexity: float, general_text: str | None = None) -> float:
    """The adapter's general-text perplexity over the base's (the gate's forgetting figure)."""
    text = general_text if general_text is not None else GENERAL_TEXT.read_text()
    with inference_dtype(peft_model):
        return perplexity(peft_model, tokenizer, text) / base_perplexity


def answer_budget(tokenizer, examples: Sequence[dict], *, cap: int) -> int:
    """New tokens worth generating: the longest reference answer plus a margin, at most ``cap``
    (a longer answer only lowers F1, and generation time grows with every token)."""
    longest = max((len(tokenizer(e["messages"][-1]["content"], add_special_tokens=False)["input_ids"])
                   for e in examples), default=0)
    return max(1, min(cap, longest + ANSWER_MARGIN))


_CITATION = re.compile(r"\[(\d{1,2})\]")


def cited(text: str) -> set[int]:
    return {int(number) for number in _CITATION.findall(text)}


def strip_citations(text: str) -> str:
    return _CITATION.sub(" ", text)


def gold_citation(reference: str) -> int | None:
    """The chunk number a reference answer cites (its last ``[n]``), None when it cites none."""
    numbers = _CITATION.findall(reference)
    return int(numbers[-1]) if numbers else None


def score_answer(answer: str, reference: str, *, gold: Collection[int] | None = None) -> dict[str, Any]:
    """One answer's scores. ``covered``: the reference cites a chunk (F1/ROUGE-L/citation apply);
    otherwise a not-covered reference (only abstention applies). ``gold`` overrides the chunk
    numbers a correct answer may cite (any one of them counts)."""
    golds = set(gold) if gold is not None else (
        {gold_citation(reference)} if gold_citation(reference) is not None else set())
    abstained = says_not_covered(answer)
    if not golds and gold is None and says_not_covered(reference):
        return {"covered": False, "abstained": abstained}
    plain_answer, plain_reference = strip_citations(answer), strip_citations(reference)
    return {"covered": True, "abstained": abstained, "f1": token_f1(plain_answer, plain_reference),
            "rouge_l": rouge_l(plain_answer, plain_reference),
            "cites_gold": bool(golds & cited(answer)) if (golds or gold is not None) else None}


def summarize(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    covered = [s for s in scores if s["covered"]]
    withheld = [s for s in scores if not s["covered"]]
    citable = [s for s in covered if s["cites_gold"] is not None]

    def share(items: list[dict[str, Any]], key: str) -> float | None:
        return sum(1 for s in items if s[key]) / len(items) if items else None

    return {
        "covered_examples": len(covered), "withheld_examples": len(withheld),
        "f1": sum(s["f1"] for s in covered) / len(covered) if covered else 0.0,
        "rouge_l": sum(s["rouge_l"] for s in covered) / len(covered) if covered else 0.0,
        "citation_accuracy": share(citable, "cites_gold"),
        "not_covered_accuracy": share(withheld, "abstained"),
        # the not-covered reply where the source chunk was in the context
        "false_abstention": share(covered, "abstained"),
    }


def answer_quality(model, tokenizer, examples: Sequence[dict], *, max_new_tokens: int) -> dict[str, Any]:
    answers = generate_answers(model, tokenizer, examples, max_new_tokens=max_new_tokens)
    references = [e["messages"][-1]["content"] for e in examples]
    scores = [score_answer(a, r) for a, r in zip(answers, references, strict=True)]
    return {
        **summarize(scores),
        "scores": scores,
        "samples": [{"id": e.get("id"), "answer": a, "reference": r}
                    for e, a, r in list(zip(examples, answers, references, strict=True))[:3]],
    }


def score(model, tokenizer, examples: Sequence[dict], general_text: str, *, max_new_tokens: int) -> dict[str, Any]:
    return {**answer_quality(model, tokenizer, examples, max_new_tokens=max_new_tokens),
            "perplexity_general": perplexity(model, tokenizer, general_text)}


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Paired tests of ``after`` against ``before`` on the same examples (one-sided: after is better)."""
    from training.stats import exact_mcnemar, paired_bootstrap

    pairs = list(zip(before["scores"], after["scores"], strict=True))
    covered = [(x, y) for x, y in pairs if x["covered"]]
    citable = [(x, y) for x, y in covered if x["cites_gold"] is not None]
    withheld = [(x, y) for x, y in pairs if not x["covered"]]
    result: dict[str, Any] = {
        "f1": paired_bootstrap([x["f1"] for x, _ in covered], [y["f1"] for _, y in covered]).as_dict()}
    if citable:
        result["citation"] = exact_mcnemar([x["cites_gold"] for x, _ in citable],
                                           [y["cites_gold"] for _, y in citable]).as_dict()
    if withheld:
        result["not_covered"] = exact_mcnemar([x["abstained"] for x, _ in withheld],
                                              [y["abstained"] for _, y in withheld]).as_dict()
    return result


def evaluate_adapter(peft_model, tokenizer, heldout: Sequence[dict], *, general_text: str | None = None,
                     max_examples: int = 64, max_new_tokens: int = 96, train: Sequence[dict] = (),
                     rival_adapter: str | None = None, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Base (adapter disabled), base+adapter and, given ``rival_adapter`` (the promoted version's
    folder), that version too, all on the same held-out examples and general text. ``base``: the
    base's scores from an earlier evaluation on the same examples (greedy decoding repeats them),
    so a comparison of several adapters scores the base once.

    With fewer than ``MIN_HELDOUT`` held-out examples, ``fit`` also scores base and adapter on a
    sample of training pairs: a sanity check that the adapter learned anything, never the gate's input."""
    examples = list(heldout)[:max_examples]
    text = general_text if general_text is not None else GENERAL_TEXT.read_text()
    budget = answer_budget(tokenizer, examples, cap=max_new_tokens)
    fit_examples = list(train)[:FIT_SAMPLE] if len(examples) < MIN_HELDOUT else []
    fit_budget = answer_budget(tokenizer, fit_examples, cap=max_new_tokens)
    with inference_dtype(peft_model):
        adapter = score(peft_model, tokenizer, examples, text, max_new_tokens=budget)
        fit_adapter = answer_quality(peft_model, tokenizer, fit_examples, max_new_tokens=fit_budget) \
            if fit_examples else None
        current = _score_rival(peft_model, tokenizer, examples, text, budget, rival_adapter) \
            if rival_adapter else None
        with peft_model.disable_adapter():
            if base is None:
                base = score(peft_model, tokenizer, examples, text, max_new_tokens=budget)
            fit_base = answer_quality(peft_model, tokenizer, fit_examples, max_new_tokens=fit_budget) \
                if fit_examples else None
    fit = None if not fit_examples else {
        "note": f"TRAINING pairs (not held-out; fewer than {MIN_HELDOUT} held-out examples): "
                "shows the adapter fit its data, not that it generalises; the gate ignores it",
        "examples": len(fit_examples), "f1_base": fit_base["f1"], "f1_adapter": fit_adapter["f1"],
        "rouge_l_base": fit_base["rouge_l"], "rouge_l_adapter": fit_adapter["rouge_l"],
        "samples": fit_adapter["samples"][:2]}
    evaluation = {
        "heldout_examples": len(examples),
        "max_new_tokens": budget,
        "fit": fit,
        "base": base,
        "adapter": adapter,
        "f1_gain": adapter["f1"] - base["f1"],
        "rouge_l_gain": adapter["rouge_l"] - base["rouge_l"],
        "significance": compare(base, adapter),
        # > 1: the adapter is more surprised by general text than the base was.
        "forgetting_ppl_ratio": adapter["perplexity_general"] / base["perplexity_general"],
    }
    if current is not None:
        evaluation["current"] = current
        if "scores" in current:
            evaluation["significance_vs_current"] = compare(current, adapter)
    return evaluation


def _score_rival(peft_model, tokenizer, examples: Sequence[dict], text: str, budget: int,
                 path: str) -> dict[str, Any]:
    """The promoted version, loaded beside the candidate in the same model, on the same examples."""
    name = "docsbot_current"
    mismatch = _other_method(peft_model, path)
    if mismatch:
        return {"error": f"the current version at {path} is {mismatch}: it cannot be loaded beside this "
                         "adapter, so the gate compares with its stored score"}
    try:
        peft_model.load_adapter(path, adapter_name=name)
    except Exception as exc:  # noqa: BLE001 - another base, method or a missing folder: say so, go on
        return {"error": f"could not load the current version from {path}: {str(exc).splitlines()[0][:300]}"}
    active = peft_model.active_adapter
    try:
        peft_model.set_adapter(name)
        return {**score(peft_model, tokenizer, examples, text, max_new_tokens=budget), "path": path}
    finally:
        peft_model.set_adapter(active)
        peft_model.delete_adapter(name)


def _other_method(peft_model, path: str) -> str | None:
    """The rival's adapter type when it differs from the candidate's (PEFT loads only one type per
    model), else None."""
    import json

    try:
        rival = str(json.loads((Path(path) / "adapter_config.json").read_text()).get("peft_type"))
    except (OSError, ValueError):
        return None  # load_adapter reports it
    config = getattr(peft_model, "active_peft_config", None)
    mine = str(getattr(getattr(config, "peft_type", None), "value", getattr(config, "peft_type", "BOTTLENECK")))
    return None if rival == mine else f"a {rival} adapter and the candidate a {mine} one"


@contextlib.contextmanager
def inference_dtype(model) -> Iterator[None]:
    """Evaluate a float32 model in bf16 on a CPU with native bf16 (generation ~1.4x faster there,
    and the dtype the serving engine uses), then put back the float32 weights, the trained ones
    exactly as they were."""
    import torch

    from training.hardware import cpu_has_native_bf16

    parameter = next(model.parameters())
    if parameter.device.type != "cpu" or parameter.dtype != torch.float32 or not cpu_has_native_bf16():
        yield
        return
    trained = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    model.to(torch.bfloat16)
    try:
        yield
    finally:
        model.to(torch.float32)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in trained:
                    p.copy_(trained[name])


def _autocast(device):
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
