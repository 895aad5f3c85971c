"""Training examples -> token rows -> batches without padding waste.

An example is ``{"id", "messages": [...]}`` whose last message is the assistant
answer. It is rendered with the base model's own chat template; only the answer
tokens and the EOS that closes them carry loss (so the model learns to stop and
never learns to write prompts).

Two ways to stop paying for padding, both with a token budget per step:

- ``pack``: a step is one flat row of whole examples, each keeping its own ``position_ids``
  from 0 (padding-free, like transformers' ``DataCollatorWithFlattening``). With one row
  per step, transformers reads the restarts as sequence boundaries (block-diagonal masks for
  sdpa/eager), and flash-attention gets the boundaries as ``cu_seq_lens``: a step of several
  rows would run each row as one causal sequence on the flash path, letting examples see
  each other. Best with flash-attention.
- ``group``: examples of similar length are batched together and right-padded to the
  group's longest; causal attention means no real token ever sees the padding, so no
  mask is needed and sdpa keeps its fused causal kernel (CPU included), and attention
  cost follows each example's own length rather than a long packed row's.
"""
from __future__ import annotations

import hashlib
import json
import random
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

IGNORE = -100


@dataclass(frozen=True)
class Tokenized:
    id: object
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


@dataclass(frozen=True)
class Row:
    """Whole examples back to back (one for ``group``, as many as fit a step for ``pack``)."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]  # restart at 0 for each example

    @property
    def real_tokens(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class BuiltDataset:
    rows: list[Row]
    groups: list[list[int]]  # indices into rows, one list per optimizer step
    packed: bool
    step_tokens: int  # the most tokens one step holds, padding included
    examples: int
    skipped_too_long: int
    longest: int
    real_tokens: int
    trained_tokens: int
    rehearsal_steps: int = 0  # steps of the base model's own text among ``groups`` (training.rehearsal)


def load_jsonl(path: Path) -> list[dict]:
    examples = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if line.strip():
            try:
                examples.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
    return examples


def dataset_hash(examples: Iterable[dict]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps(example.get("messages"), sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _validate(example: dict, index: int) -> list[dict]:
    messages = example.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise ValueError(f"example {example.get('id', index)}: 'messages' needs a prompt and an answer")
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str) or \
                message.get("role") not in {"system", "user", "assistant"}:
            raise ValueError(f"example {example.get('id', index)}: each message needs a role and text content")
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        raise ValueError(f"example {example.get('id', index)}: the last message must be the assistant answer")
    return messages


def _template_ids(tokenizer, messages: list[dict], *, generation_prompt: bool) -> list[int]:
    encoded = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt)
    if hasattr(encoded, "keys"):  # transformers 5 returns a BatchEncoding
        encoded = encoded["input_ids"]
    return list(encoded)


def prompt_ids(tokenizer, messages: Sequence[dict]) -> list[int]:
    """The tokens the model sees before it answers (every message but the answer)."""
    return _template_ids(tokenizer, list(messages[:-1]), generation_prompt=True)


def tokenize_example(tokenizer, example: dict, index: int = 0) -> Tokenized:
    messages = _validate(example, index)
    prompt = prompt_ids(tokenizer, messages)
    full = _template_ids(tokenizer, messages, generation_prompt=False)
    if full[: len(prompt)] != prompt:
        raise ValueError("the chat template does not render the prompt as a prefix of the conversation")
    answer = full[len(prompt):]
    eos = tokenizer.eos_token_id
    if eos in answer:
        answer = answer[: answer.index(eos) + 1]  # drop what the template adds after the EOS
    else:
        answer = answer + [eos]
    return Tokenized(id=example.get("id", index), input_ids=prompt + answer,
                     labels=[IGNORE] * len(prompt) + answer)


def tokenize_examples(tokenizer, examples: Sequence[dict]) -> list[Tokenized]:
    """Every example tokenized, once: the recipe sizes its config and plans its steps from these."""
    tokenized = [tokenize_example(tokenizer, example, index) for index, example in enumerate(examples)]
    if not tokenized:
        raise ValueError("dataset: no training examples")
    return tokenized


def pack(examples: Sequence[Tokenized], *, row_length: int) -> list[Row]:
    """First-fit decreasing: long examples first, each into the first row with room."""
    bins: list[list[Tokenized]] = []
    space: list[int] = []
    for example in sorted(examples, key=lambda e: len(e.input_ids), reverse=True):
        size = len(example.input_ids)
        for index, free in enumerate(space):
            if size <= free:
                bins[index].append(example)
                space[index] -= size
                break
        else:
            bins.append([example])
            space.append(row_length - size)
    return [_row(group) for group in bins]


def _row(group: Sequence[Tokenized | Row]) -> Row:
    input_ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for part in group:
        input_ids += part.input_ids
        labels += part.labels
        positions += part.position_ids if isinstance(part, Row) else range(len(part.input_ids))
    return Row(input_ids, labels, positions)


def build_dataset(tokenized: Sequence[Tokenized], *, max_length: int, step_tokens: int,
                  batching: str = "pack") -> BuiltDataset:
    """Drop examples longer than ``max_length`` and plan the steps: each holds at most
    ``step_tokens`` tokens, padding included (``pack``: one row of whole examples per step)."""
    if batching not in ("pack", "group"):
        raise ValueError(f"batching: must be 'pack' or 'group', got {batching!r}")
    if not tokenized:
        raise ValueError("dataset: no training examples")
    kept = [t for t in tokenized if len(t.input_ids) <= max_length]
    if not kept:
        raise ValueError(f"max_length: every example is longer than {max_length} tokens")
    longest_kept = max(len(t.input_ids) for t in kept)
    if longest_kept > step_tokens:
        raise ValueError(f"max_length: an example of {longest_kept} tokens does not fit a step of {step_tokens}")
    if batching == "pack":
        rows = pack(kept, row_length=step_tokens)
        groups = [[index] for index in range(len(rows))]
    else:
        rows = [_row([t]) for t in sorted(kept, key=lambda t: len(t.input_ids))]
        groups = group_by_length([len(r.input_ids) for r in rows], budget=step_tokens)
    return BuiltDataset(
        rows=rows, groups=groups, packed=batching == "pack", step_tokens=step_tokens, examples=len(kept),
        skipped_too_long=len(tokenized) - len(kept), longest=max(len(t.input_ids) for t in tokenized),
        real_tokens=sum(len(t.input_ids) for t in kept), trained_tokens=sum(t.trained_tokens for t in kept),
    )


def with_rehearsal(dataset: BuiltDataset, pool: Sequence[Tokenized], *, steps: int, seed: int) -> BuiltDataset:
    """``dataset`` plus ``steps`` steps of rehearsal text, each as many ``pool`` samples as make a step of the
    team's mean size in tokens, padding included (drawn afresh for each step, so the steps differ). Filling the
    whole step budget instead made a rehearsal step twice a team step's time (SmolLM2, float32 CPU: 7 x 192
    tokens, every one projected to the vocabulary, 6.3 s against 3.4 s; bench/step_kinds.py). A rehearsal step never shares a row
    with the team's examples: each step's loss is the mean over its own tokens, so rehearsal weighs as one
    step whatever the batching."""
    if steps < 1 or not pool:
        return dataset
    longest = max(len(t.input_ids) for t in pool)
    team_step = statistics.fmean(len(group) * max(len(dataset.rows[i].input_ids) for i in group)
                                 for group in dataset.groups) if dataset.groups else dataset.step_tokens
    per_step = max(1, min(len(pool), dataset.step_tokens // longest, round(team_step / longest)))
    first = len(dataset.rows)
    rows = [*dataset.rows, *(_row([t]) for t in pool)]
    draw = random.Random(seed * 7_919 + 1)
    groups = [*dataset.groups, *([first + i for i in sorted(draw.sample(range(len(pool)), per_step))]
                                 for _ in range(steps))]
    return replace(dataset, rows=rows, groups=groups, rehearsal_steps=steps)


def group_by_length(lengths: Sequence[int], *, budget: int) -> list[list[int]]:
    """Consecutive runs of ascending ``lengths`` whose padded size (count x longest) fits ``budget``."""
    groups: list[list[int]] = []
    current: list[int] = []
    for index, length in enumerate(lengths):
        if current and (len(current) + 1) * length > budget:
            groups.append(current)
            current = []
        current.append(index)
    if current:
        groups.append(current)
    return groups


def batches(dataset: BuiltDataset, *, epoch: int, seed: int) -> Iterator[list[Row]]:
    """The steps of one epoch in a fixed shuffled order (the same after a resume)."""
    order = list(range(len(dataset.groups)))
    random.Random(seed * 100_003 + epoch).shuffle(order)
    for index in order:
        yield [dataset.rows[i] for i in dataset.groups[index]]


@dataclass(frozen=True)
class Batch:
    """One step's tensors. Packed steps are a single row whose sequences are given twice: by
    ``position_ids`` restarting at 0, and by ``cu_seq_lens`` (int32 starts, then the end) with
    the longest length, which flash-attention's varlen kernels take as they are."""

    input_ids: Any  # LongTensor [rows, width]
    labels: Any  # LongTensor [rows, width], IGNORE where no loss
    position_ids: Any | None = None  # packed only; None: plain causal attention from 0
    cu_seq_lens: Any | None = None
    max_length: int = 0

    def to(self, device: Any) -> Batch:
        def move(tensor: Any | None) -> Any | None:
            return None if tensor is None else tensor.to(device)

        return Batch(move(self.input_ids), move(self.labels), move(self.position_ids), move(self.cu_seq_lens),
                     self.max_length)

    def model_inputs(self, *, varlen: bool) -> dict[str, Any]:
        """Keyword arguments for the model's forward; ``varlen`` adds the flash-attention ones."""
        inputs: dict[str, Any] = {"input_ids": self.input_ids, "position_ids": self.position_ids}
        if varlen and self.cu_seq_lens is not None:
            inputs |= {"cu_seq_lens_q": self.cu_seq_lens, "cu_seq_lens_k": self.cu_seq_lens,
                       "max_length_q": self.max_length, "max_length_k": self.max_length}
        return inputs


def collate(rows: Sequence[Row], *, pad_id: int, packed: bool = True, multiple: int = 1) -> Batch:
    """Tensors for one step. Packed rows are flattened into one row; grouped rows are
    right-padded (causal attention never looks at later padding, so no mask is needed). The
    width is rounded up to ``multiple``: CPU kernels (oneDNN) build a primitive per new shape,
    so a few shapes reused beat a new one every step. Packed padding is a sequence of its own."""
    import torch

    if packed:
        rows = [_row(rows)]
    width = max(len(row.input_ids) for row in rows)
    width = -(-width // multiple) * multiple

    def padded(values: list[int], fill: int) -> list[int]:
        return values + [fill] * (width - len(values))

    input_ids = torch.tensor([padded(r.input_ids, pad_id) for r in rows])
    labels = torch.tensor([padded(r.labels, IGNORE) for r in rows])
    if not packed:
        return Batch(input_ids, labels)
    (row,) = rows
    positions = row.position_ids + list(range(width - len(row.position_ids)))
    starts = [index for index, position in enumerate(positions) if position == 0] + [width]
    lengths = [end - start for start, end in pairwise(starts)]
    return Batch(input_ids, labels, torch.tensor([positions]), torch.tensor(starts, dtype=torch.int32),
                 max(lengths))
