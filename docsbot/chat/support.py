"""How much of an answer the documents in its prompt say: the check that withholds an answer the model wrote
from its own head (docsbot.chat.generate.answer_finish).

A model trained on docsbot's examples answers by quoting the documents; an answer the documents do not hold
(the model's own knowledge, or an invention) shares few word pairs with them. The measure is the share of the
answer's word pairs (bigrams of normalised words, citation markers and code fences removed) found in any
document of the prompt; the question's own word pairs do not count as support, since an answer that only
restates the question says nothing the documents hold.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise

_CITATION = re.compile(r"\[\d+\]")
_FENCE = re.compile(r"```[\w-]*")
MIN_PAIRS = 4  # fewer of its own word pairs: too short an answer to tell ("Yes. [1]")
# An answer whose first this many words its documents do not say is stopped there, unshown: the base model's
# inventions run to the token budget (seconds of a CPU's time each). On the natural questions' 228 answers of three
# corpora (bench/README.md, Chat) it stops 4 that the whole-answer check would keep, none of them grounded (two
# labelled ungrounded, two that go on to say the documents do not cover the question), and no adapter's.
EARLY_WORDS = 16
SHOW, HOLD, STOP = "show", "hold", "stop"


def _words(text: str) -> list[str]:
    from training.text_metrics import normalize_tokens  # stdlib only, imported where used

    return normalize_tokens(_FENCE.sub(" ", _CITATION.sub(" ", text)))


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    return set(pairwise(words))


class DocumentSupport:
    """The word pairs of a prompt's documents and of its question, read once, to score answers against: the
    answer being written is scored at every word until it can be told."""

    def __init__(self, documents: Iterable[str], question: str = "") -> None:
        self.held = set().union(*(_pairs(_words(document)) for document in documents))
        self.asked = _pairs(_words(question))

    def of(self, answer: str) -> float | None:
        """The share of ``answer``'s word pairs that a document holds, the question's own pairs left out; None
        when there is nothing to check: an answer that says the documents do not cover the question, or one
        with too few pairs of its own to tell (a word or two, or the question restated)."""
        from training.text_metrics import says_not_covered

        if says_not_covered(answer):
            return None
        own = [pair for pair in _pairs(_words(answer)) if pair not in self.asked]
        if len(own) < MIN_PAIRS:
            return None
        return sum(pair in self.held for pair in own) / len(own)

    def verdict(self, text: str, *, threshold: float) -> str:
        """What to do with an answer being written, from its text so far: SHOW it (its documents say its
        start), HOLD it back (too short to tell, or unsupported but still short), or STOP writing it (its first
        EARLY_WORDS words unsupported: it will be withheld)."""
        support = self.of(text)
        if support is None:
            return HOLD
        if support >= threshold:
            return SHOW
        return STOP if len(text.split()) >= EARLY_WORDS else HOLD


def answer_support(answer: str, *, documents: Iterable[str], question: str = "") -> float | None:
    """``DocumentSupport.of`` for one answer."""
    return DocumentSupport(documents, question).of(answer)


def start_verdict(text: str, *, documents: Iterable[str], question: str, threshold: float) -> str:
    """``DocumentSupport.verdict`` for one text."""
    return DocumentSupport(documents, question).verdict(text, threshold=threshold)
