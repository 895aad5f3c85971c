"""The LLM generator: the base model writes pairs for one chunk at a time, as JSON.

Works against any OpenAI-compatible endpoint the serving client speaks to (the embedded
server or vLLM). Malformed output and timeouts reject the chunk with a reason; they never
fail the run.
"""
from __future__ import annotations

import json
import re
from typing import Any

from docsbot.qa.generators.base import MIN_CHUNK_CHARS, Candidate, ChunkInput, ChunkResult

KINDS = ("how-to", "what-is", "troubleshooting", "option", "api", "example")
SYSTEM = ("You write question-answer pairs for training a documentation assistant. "
          "You reply with JSON only, no prose.")
INSTRUCTIONS = """Document: {title}
Section: {path}

<section>
{body}
</section>

Write up to {count} questions that a user of this product could ask and that the section above answers.
Use different kinds where the text allows: "how-to" (How do I ...?), "what-is" (What is ...?),
"troubleshooting" (What does the error ... mean?), "option" (What does the ... option do?).
Each answer must quote the section's own words and be at most three sentences.
Reply with a JSON array like [{{"kind": "how-to", "question": "...", "answer": "..."}}]."""


class MalformedOutput(ValueError):
    pass


def parse_pairs(text: str) -> list[Candidate]:
    """Pairs from the model's reply; tolerant of code fences, prose around the JSON, a wrapping
    object and trailing commas. Raises MalformedOutput when nothing usable is there."""
    cleaned = re.sub(r"```(?:json)?", "", text).strip()
    data: Any = None
    for opener, closer in (("[", "]"), ("{", "}")):
        start, end = cleaned.find(opener), cleaned.rfind(closer)
        if start == -1 or end <= start:
            continue
        snippet = re.sub(r",\s*([\]}])", r"\1", cleaned[start:end + 1])
        try:
            data = json.loads(snippet)
            break
        except json.JSONDecodeError:
            continue
    if data is None:
        raise MalformedOutput("no JSON array or object in the reply")
    if isinstance(data, dict):
        data = data.get("pairs") or data.get("questions") or [data]
    if not isinstance(data, list):
        raise MalformedOutput("the JSON is not a list of pairs")
    pairs = []
    for item in data:
        if not isinstance(item, dict):
            continue
        question, answer = item.get("question"), item.get("answer")
        if not isinstance(question, str) or not isinstance(answer, str) or not question.strip() or not answer.strip():
            continue
        kind = item.get("kind") if item.get("kind") in KINDS else "other"
        question = question.strip()
        pairs.append(Candidate(question if question.endswith("?") else question + "?", answer.strip(), kind))
    if not pairs:
        raise MalformedOutput("no item with a non-empty question and answer")
    return pairs


class LLMGenerator:
    name = "llm"
    concurrency = 4  # chunks in flight; vLLM batches them, the embedded server queues them

    def __init__(self, client, *, model: str | None = None, max_tokens: int = 512, pairs_per_chunk: int = 4,
                 max_chunk_chars: int = 4000):
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.pairs_per_chunk = pairs_per_chunk
        self.max_chunk_chars = max_chunk_chars

    @classmethod
    def from_settings(cls) -> LLMGenerator:
        from django.conf import settings

        from docsbot.core.serving import serving_client

        return cls(serving_client(), max_tokens=settings.QA_LLM_MAX_TOKENS)

    def _model(self) -> str:
        if self.model is None:
            models = [m.get("id", "") for m in self.client.list_models()]
            base = [m for m in models if m and not m.startswith("team-")]
            if not base:
                raise MalformedOutput("the serving endpoint lists no base model")
            self.model = base[0]
        return self.model

    def generate(self, chunk: ChunkInput) -> ChunkResult:
        from serving.client import ServingError

        body = chunk.body
        if len(body) < MIN_CHUNK_CHARS:
            return ChunkResult(rejection="chunk_too_short", detail=f"{len(body)} characters of text")
        prompt = INSTRUCTIONS.format(title=chunk.title, path=" > ".join(chunk.heading_path) or chunk.title,
                                     body=body[: self.max_chunk_chars], count=self.pairs_per_chunk)
        try:
            result = self.client.chat(model=self._model(), max_tokens=self.max_tokens, temperature=0.0,
                                      messages=[{"role": "system", "content": SYSTEM},
                                                {"role": "user", "content": prompt}])
        except ServingError as exc:
            message = str(getattr(exc, "message", "") or exc)
            reason = "llm_timeout" if "timed out" in message.lower() or "timeout" in message.lower() else "llm_error"
            return ChunkResult(rejection=reason, detail=message[:300])
        except TimeoutError as exc:
            return ChunkResult(rejection="llm_timeout", detail=str(exc)[:300])
        except MalformedOutput as exc:
            return ChunkResult(rejection="llm_error", detail=str(exc))
        try:
            return ChunkResult(candidates=parse_pairs(result.text)[: self.pairs_per_chunk])
        except MalformedOutput as exc:
            return ChunkResult(rejection="llm_malformed", detail=f"{exc}: {result.text[:200]!r}")
