"""Training examples -> token rows -> batches without padding waste.

An example is ``{"id", "messages": [...]}`` whose last message is the assistant
answer. It is rendered with the base model's own chat template; only the answer
tokens and the EOS that closes them carry loss (so the model learns to stop and
never learns to write prompts).

Two ways to stop paying for padding, both with a token budget per step:

- ``pack``: short examples share rows, each keeping its own ``position_ids`` from 0,
  which the attention kernels read as sequence boundaries (varlen for flash-attention,
  block-diagonal masks for sdpa/eager). Best with flash-attention.
- ``group``: examples of similar length are batched together and right-padded to the
  group's longest; causal attention means no real token ever sees the padding, so no
  mask is needed and sdpa keeps its fused causal kernel (CPU included), and attention
  cost follows each example's own length rather than a long packed row's.
"""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    """One packed (or padded) sequence: the examples it holds and their lengths."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    real_tokens: int  # non-padding tokens


@dataclass(frozen=True)
class BuiltDataset:
    rows: list[Row]
    groups: list[list[int]]  # indices into rows, one list per optimizer step
    packed: bool
    examples: int
    skipped_too_long: int
    longest: int
    real_tokens: int
    trained_tokens: int


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


def pack(examples: Sequence[Tokenized], *, row_length: int, pad_id: int) -> list[Row]:
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
    return [_row(group, row_length, pad_id) for group in bins]


def _row(group: Sequence[Tokenized], length: int, pad_id: int) -> Row:
    input_ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for example in group:
        input_ids += example.input_ids
        labels += example.labels
        positions += range(len(example.input_ids))
    real = len(input_ids)
    padding = length - real
    # Padding gets positions of its own from 0, so it reads as a separate (ignored) sequence.
    return Row(input_ids + [pad_id] * padding, labels + [IGNORE] * padding,
               positions + list(range(padding)), real)


def build_dataset(tokenizer, examples: Sequence[dict], *, max_length: int, batch_size: int = 1,
                  batching: str = "pack") -> BuiltDataset:
    """Tokenize, drop examples longer than ``max_length``, and plan the steps: each step holds
    at most ``batch_size * max_length`` tokens including padding."""
    if batching not in ("pack", "group"):
        raise ValueError(f"batching: must be 'pack' or 'group', got {batching!r}")
    tokenized = [tokenize_example(tokenizer, example, index) for index, example in enumerate(examples)]
    if not tokenized:
        raise ValueError("dataset: no training examples")
    kept = [t for t in tokenized if len(t.input_ids) <= max_length]
    if not kept:
        raise ValueError(f"max_length: every example is longer than {max_length} tokens")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if batching == "pack":
        rows = pack(kept, row_length=max_length, pad_id=pad_id)
        groups = [list(range(start, min(start + batch_size, len(rows))))
                  for start in range(0, len(rows), batch_size)]
    else:
        rows = [_row([t], len(t.input_ids), pad_id) for t in sorted(kept, key=lambda t: len(t.input_ids))]
        groups = group_by_length([len(r.input_ids) for r in rows], budget=batch_size * max_length)
    return BuiltDataset(
        rows=rows, groups=groups, packed=batching == "pack", examples=len(kept),
        skipped_too_long=len(tokenized) - len(kept), longest=max(len(t.input_ids) for t in tokenized),
        real_tokens=sum(len(t.input_ids) for t in kept), trained_tokens=sum(t.trained_tokens for t in kept),
    )


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


def example_lengths(tokenizer, examples: Sequence[dict]) -> list[int]:
    return [len(tokenize_example(tokenizer, e, i).input_ids) for i, e in enumerate(examples)]


def batches(dataset: BuiltDataset, *, epoch: int, seed: int) -> Iterator[list[Row]]:
    """The steps of one epoch in a fixed shuffled order (the same after a resume)."""
    order = list(range(len(dataset.groups)))
    random.Random(seed * 100_003 + epoch).shuffle(order)
    for index in order:
        yield [dataset.rows[i] for i in dataset.groups[index]]


def collate(rows: Sequence[Row], *, pad_id: int, packed: bool = True, multiple: int = 1):
    """Tensors for one step: input_ids, labels, and position_ids (None when not packed, so the
    model uses plain causal attention). Rows of unequal length are right-padded, to a width
    rounded up to ``multiple``: CPU kernels (oneDNN) build a primitive per new shape, so a few
    shapes reused beat a new one every step."""
    import torch

    width = max(len(row.input_ids) for row in rows)
    width = -(-width // multiple) * multiple

    def padded(values: list[int], fill: int) -> list[int]:
        return values + [fill] * (width - len(values))

    input_ids = torch.tensor([padded(r.input_ids, pad_id) for r in rows])
    labels = torch.tensor([padded(r.labels, IGNORE) for r in rows])
    if not packed:
        return input_ids, labels, None
    positions = torch.tensor([r.position_ids + list(range(width - len(r.position_ids))) for r in rows])
    return input_ids, labels, positions
