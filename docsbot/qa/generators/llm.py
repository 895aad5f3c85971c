"""The LLM generator, answer first: the structural generator's pairs, and for the prose sentences none of them answers,
a question the base model writes, kept only after a round trip.

For each answer span (a prose sentence of the chunk that no structural pair quotes, ``answer_spans``) the model
writes the question that sentence answers (few-shot, examples from products no team documents); the model then
answers that question from the chunk, and the pair is kept only when its reply agrees with the sentence (token F1 at
least ``min_agreement``). Retrieval routing the question back to its chunk is the other half of the round trip: the
answerability filter checks it for every generator's pairs (``docsbot.qa.screening``).

Works against any OpenAI-compatible endpoint the serving client speaks to (the embedded server or vLLM). A serving
error or timeout rejects the chunk with a transient reason (the next run tries it again); it never fails the run.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from docsbot.documents.parsing import Block
from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.base import (
    MIN_CHUNK_CHARS,
    MODEL_WRITTEN,
    Candidate,
    ChunkInput,
    ChunkResult,
)
from docsbot.qa.generators.structural import StructuralGenerator
from docsbot.qa.generators.text import sentences

ASK_SYSTEM = "You turn a sentence from software documentation into the question it answers."
ASK_EXAMPLES = (  # products no team here documents: the examples teach the form, not a vocabulary
    ("Docker", "The docker ps command lists the running containers; add -a to include stopped ones.",
     "How do I list stopped containers with docker ps?"),
    ("PostgreSQL", "VACUUM reclaims storage occupied by dead tuples.", "What does VACUUM do in PostgreSQL?"),
    ("nginx", "If no port is given in the listen directive, nginx listens on port 80.",
     "Which port does nginx listen on when the listen directive gives none?"),
)
ASK_TURNS = [(f"Product: {product}\nSentence: {sentence}", question) for product, sentence, question in ASK_EXAMPLES]
ANSWER_SYSTEM = "Answer the question with the sentence of the section that answers it, word for word."

# A sentence that leans on the one before it, points elsewhere, or asks: no answer on its own.
_LEANS = re.compile(r"^(?:This|That|These|Those|It|They|Its|Their|Here|There|So|But|And|Also|However|Then|Such|"
                    r"He|She|We|Our|Note|See)\b")
_POINTS = re.compile(r"\b(?:following|below|above|previous|next section|as follows)\b", re.IGNORECASE)
# Questions about the prompt rather than the product ("What is the product's name?").
_ABOUT_THE_PROMPT = re.compile(r"\b(?:the|this) (?:product|sentence|section|document|text|passage)\b", re.IGNORECASE)
MIN_SPAN_CHARS, MAX_SPAN_CHARS = 50, 300
QUESTION_TOKENS = 48


@dataclass(frozen=True)
class RoundTrip:
    question: str
    reply: str
    agreement: float


def answer_spans(blocks: Sequence[Block], answered: list[str]) -> list[str]:
    """The chunk's prose sentences that can answer a question alone and that no pair in ``answered`` quotes."""
    spans = []
    for block in blocks:
        if block.kind != "paragraph":
            continue
        for sentence in sentences(block.text):
            if not MIN_SPAN_CHARS <= len(sentence) <= MAX_SPAN_CHARS or not sentence.endswith(".") \
                    or _LEANS.match(sentence) or _POINTS.search(sentence) or sentence.endswith(":") \
                    or any(sentence in answer for answer in answered):
                continue
            spans.append(sentence)
    return spans


def clean_question(text: str) -> str:
    """The model's first line as a question, or '' when it is none a user would ask."""
    line = next((line.strip().strip("\"'“”") for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"^(?:Question|Q)\s*:\s*", "", line)
    words = line.split()
    if not line.endswith("?") or not 4 <= len(words) <= 25 or _ABOUT_THE_PROMPT.search(line):
        return ""
    return line


class LLMGenerator:
    name = "llm"
    concurrency = 4  # sections in flight; vLLM batches them, the embedded server queues them

    def __init__(self, client, *, model: str | None = None, max_tokens: int = 128, spans_per_chunk: int = 3,
                 min_agreement: float = 0.5, max_chunk_chars: int = 4000):
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.spans_per_chunk = spans_per_chunk
        self.min_agreement = min_agreement
        self.max_chunk_chars = max_chunk_chars
        self.structural = StructuralGenerator()

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
                raise ValueError("the serving endpoint lists no base model")
            self.model = base[0]
        return self.model

    def _chat(self, system: str, turns: list[tuple[str, str]], last: str, max_tokens: int) -> str:
        messages = [{"role": "system", "content": system}]
        for user, assistant in turns:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        messages.append({"role": "user", "content": last})
        return self.client.chat(model=self._model(), max_tokens=max_tokens, temperature=0.0,
                                messages=messages).text

    def round_trip(self, chunk: ChunkInput, span: str) -> RoundTrip | None:
        """The model's question for ``span`` and its answer to it from the chunk; None when it wrote no question."""
        from training.text_metrics import token_f1  # stdlib only

        product = vocabulary.product() or chunk.title
        question = clean_question(self._chat(ASK_SYSTEM, ASK_TURNS, f"Product: {product}\nSentence: {span}",
                                             min(QUESTION_TOKENS, self.max_tokens)))
        if not question:
            return None
        section = " > ".join(chunk.heading_path) or chunk.title
        reply = self._chat(ANSWER_SYSTEM, [], f"Section: {section}\n\n{chunk.body[:self.max_chunk_chars]}\n\n"
                                              f"Question: {question}", self.max_tokens)
        return RoundTrip(question, reply, token_f1(reply, span))

    def generate(self, chunk: ChunkInput) -> ChunkResult:
        return self.generate_section([chunk])[0]

    def generate_section(self, chunks: Sequence[ChunkInput]) -> list[ChunkResult]:
        """The structural generator's pairs of the section, and the model's for each chunk's remaining sentences."""
        structural = self.structural.generate_section(chunks)
        return [self._with_model_pairs(chunk, result.candidates) for chunk, result in zip(chunks, structural)]

    def _with_model_pairs(self, chunk: ChunkInput, structural: list[Candidate]) -> ChunkResult:
        from serving.client import ServingError

        if len(chunk.body) < MIN_CHUNK_CHARS:
            return ChunkResult(rejection="chunk_too_short", detail=f"{len(chunk.body)} characters of text")
        written: list[Candidate] = []
        tried = 0
        with vocabulary.using(chunk.vocabulary):
            for span in answer_spans(chunk.parsed_blocks(), [c.answer for c in structural])[:self.spans_per_chunk]:
                tried += 1
                try:
                    trip = self.round_trip(chunk, span)
                except (ServingError, TimeoutError, ValueError) as exc:
                    message = str(getattr(exc, "message", "") or exc)
                    reason = "llm_timeout" if "timed out" in message.lower() or "timeout" in message.lower() \
                        else "llm_error"
                    return ChunkResult(rejection=reason, detail=message[:300])
                if trip is not None and trip.agreement >= self.min_agreement:
                    written.append(Candidate(trip.question, span, MODEL_WRITTEN))
        if structural or written:
            return ChunkResult(candidates=[*structural, *written])
        detail = (f"the model's questions for {tried} sentence(s) did not survive the round trip" if tried
                  else "no heading, definition, option, API, error or example, and no prose sentence to ask about")
        return ChunkResult(rejection="llm_round_trip" if tried else "no_structure", detail=detail)
