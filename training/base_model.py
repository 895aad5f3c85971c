"""Build the small local base model that runs the whole pipeline offline.

Without a model hub, docsbot trains a byte-level BPE tokenizer on a documentation
corpus (with a ChatML chat template whose ``<|im_end|>`` is the EOS token) and a
small Llama-shaped causal LM, pre-trained briefly on the same corpus so that it
writes the domain's words rather than noise. Tests use the same code with
``pretrain_steps=0`` (a random-init model).
"""
from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
TEXT_SUFFIXES = {".md", ".rst", ".txt", ".html", ".htm", ".py"}


@dataclass(frozen=True)
class ModelShape:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    max_position_embeddings: int


SHAPES: dict[str, ModelShape] = {
    # For unit tests: loads and trains in well under a second.
    "test": ModelShape(1024, 64, 128, 2, 4, 2, 512),
    # The offline default: small enough to pre-train for a few minutes on 2 CPU cores.
    "tiny": ModelShape(4096, 256, 688, 4, 8, 4, 1024),
}


def read_corpus(paths: Iterable[Path], *, max_chars: int = 20_000_000) -> list[str]:
    """Plain text of every text-like file under the given files or folders (tarballs included)."""
    import tarfile

    texts: list[str] = []
    total = 0
    for root in paths:
        root = Path(root)
        if root.is_file() and root.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(root) as archive:
                for member in archive.getmembers():
                    if member.isfile() and Path(member.name).suffix.lower() in TEXT_SUFFIXES:
                        extracted = archive.extractfile(member)
                        if extracted is not None:
                            texts.append(_clean(extracted.read().decode("utf-8", "replace"), member.name))
                            total += len(texts[-1])
        else:
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            for path in files:
                if path.suffix.lower() in TEXT_SUFFIXES:
                    texts.append(_clean(path.read_text("utf-8", "replace"), path.name))
                    total += len(texts[-1])
        if total > max_chars:
            break
    return [t for t in texts if t.strip()]


def _clean(text: str, name: str) -> str:
    if name.endswith((".html", ".htm")):
        import re

        text = re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", " ", text)
        text = re.sub(r"(?s)<[^>]+>", " ", text)
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r"\n\s*\n+", "\n\n", text)
    return text


def build_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer trained on ``texts``, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2,
    )
    core.train_from_iterator(texts or ["docsbot"], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=None, eos_token="<|im_end|>", pad_token="<|pad|>",
        unk_token=None, additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 1024
    return tokenizer


def build_model(tokenizer, shape: ModelShape, *, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


# The reading drill's prompt. Production's prompt lives in docsbot (this package has no Django);
# the drill only has to teach the skill that prompt asks for: find the passage, quote it, cite it.
READING_SYSTEM_PROMPT = ("Answer the question using only the documents below. Quote the relevant sentence "
                         "and cite its document number like [1].")
# Once the first third of the pre-training has warmed the model up on plain text, a quarter of
# each batch's rows are drills, each twice a text row's length (40% of the batch's tokens).
READING_ROWS_SHARE = 4  # one drill row per this many rows


def _passages(texts: list[str]) -> list[str]:
    passages = []
    for text in texts:
        for block in re.split(r"\n\s*\n", text):
            block = " ".join(block.split())
            if 80 <= len(block) <= 500 and len(_sentences(block)) >= 1:
                passages.append(block)
    return passages


def _sentences(passage: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", passage) if len(s.split()) >= 5]


def reading_example(passages: list[str], rng: random.Random, *, documents: int = 3) -> list[dict[str, str]]:
    """A self-supervised reading drill in chat form: a few numbered passages, a question cued by
    words of one sentence, and that sentence quoted with its citation as the answer.

    A real instruct base model arrives able to read its context; the offline tiny one learns the
    skill here, so a team adapter has something to specialise rather than starting from noise."""
    chosen = rng.sample(passages, k=min(documents, len(passages)))
    source = rng.randrange(len(chosen))
    sentence = rng.choice(_sentences(chosen[source]))
    words = sentence.rstrip(".!?").split()
    start = rng.randrange(max(1, len(words) - 3))
    cue = " ".join(words[start:start + rng.randint(2, 4)])
    blocks = "\n".join(f'<document index="{n}">\n{text}\n</document>' for n, text in enumerate(chosen, start=1))
    return [{"role": "system", "content": READING_SYSTEM_PROMPT},
            {"role": "user", "content": f"<documents>\n{blocks}\n</documents>\n\nQuestion: What do the documents "
                                        f"say about {cue}?"},
            {"role": "assistant", "content": f"{sentence} [{source + 1}]"}]


def _reading_row(tokenizer, passages: list[str], rng: random.Random, seq_len: int) -> tuple[list[int], list[int]]:
    """One drill as a row of ``seq_len`` ids and its labels (loss on the answer and its end token)."""
    while True:
        messages = reading_example(passages, rng)
        prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages, tokenize=True)
        prompt, full = _ids(prompt), _ids(full)
        full = full[:len(full) - full[::-1].index(tokenizer.eos_token_id)]  # nothing after the answer's end
        if len(full) <= seq_len:
            break
    pad = tokenizer.pad_token_id
    labels = [-100] * len(prompt) + full[len(prompt):]
    return full + [pad] * (seq_len - len(full)), labels + [-100] * (seq_len - len(full))


def _ids(encoded) -> list[int]:
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)  # a BatchEncoding or ids


def pretrain(model, tokenizer, texts: list[str], *, steps: int, seq_len: int = 256, batch_size: int = 16,
             lr: float = 3e-3, seed: int = 0, time_budget_s: float | None = None,
             progress: Callable[[int, int, float], None] | None = None) -> list[float]:
    """Next-token pre-training on packed rows of the corpus, with reading drills mixed in after
    the first third of the steps or time; returns the loss curve."""
    import torch

    if steps <= 0:
        return []
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for text in texts:
        stream.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        stream.append(eos)
    if len(stream) < seq_len + 1:
        stream = stream * (seq_len // max(1, len(stream)) + 2)
    rows = torch.tensor(stream[: (len(stream) // seq_len) * seq_len]).view(-1, seq_len)
    passages = _passages(texts)
    reading_len = 2 * seq_len
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    model.train()
    losses: list[float] = []
    started = time.monotonic()
    for step in range(steps):
        elapsed_share = max(step / steps, (time.monotonic() - started) / time_budget_s if time_budget_s else 0)
        reading = len(passages) >= 3 and elapsed_share >= 1 / 3
        drill_rows = batch_size // READING_ROWS_SHARE if reading else 0
        index = torch.tensor([rng.randrange(rows.shape[0]) for _ in range(batch_size - drill_rows)])
        batch = rows[index]
        loss = model(input_ids=batch, labels=batch).loss
        if drill_rows:
            drills = [_reading_row(tokenizer, passages, rng, reading_len) for _ in range(drill_rows)]
            ids = torch.tensor([d[0] for d in drills])
            labels = torch.tensor([d[1] for d in drills])
            loss = (loss + model(input_ids=ids, labels=labels).loss) / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if progress:
            progress(step + 1, steps, losses[-1])
        if time_budget_s is not None and time.monotonic() - started > time_budget_s:
            break
    model.eval()
    return losses


def build_base_model(output_dir: Path, corpus: Iterable[Path] | list[str], *, size: str = "tiny",
                     pretrain_steps: int = 600, time_budget_s: float | None = None, seed: int = 0,
                     progress: Callable[[int, int, float], None] | None = None) -> Path:
    """Tokenizer + model + a ``docsbot_base.json`` record, saved with ``save_pretrained``."""
    shape = SHAPES[size]
    corpus_list = list(corpus)
    texts = corpus_list if corpus_list and isinstance(corpus_list[0], str) else read_corpus(corpus_list)
    if not texts:
        raise ValueError("the corpus has no text files (.md, .rst, .txt, .html, .py)")
    tokenizer = build_tokenizer(texts, shape.vocab_size)
    model = build_model(tokenizer, shape, seed=seed)
    losses = pretrain(model, tokenizer, texts, steps=pretrain_steps, seed=seed,
                      time_budget_s=time_budget_s, progress=progress)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    record = {"shape": asdict(shape), "size": size, "pretrain_steps": len(losses),
              "final_loss": losses[-1] if losses else None, "documents": len(texts)}
    (output_dir / "docsbot_base.json").write_text(json.dumps(record, indent=2))
    return output_dir
