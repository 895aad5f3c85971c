"""Answers without words, and the opening that asks the model for some.

A small model can put nearly as much weight on opening its answer with a citation marker as with a word
(seen with SmolLM2-135M: "[" at -2.03, "`" at -2.13, "docs" at -2.25), and greedy decoding then writes
"[1] [1] ..." and nothing else. Such an answer tells the user nothing, so chat asks once more with the
answer opened by the likeliest first token that starts a word: the rest is still the model's own.
"""
from __future__ import annotations

import re

_CITATION = re.compile(r"\[\d+\]")
_WORD_CHARACTER = re.compile(r"[^\W_]")  # a letter or digit, in any script
_OPENS_A_WORD = re.compile(r"^\s?[^\W\d_]")  # a token whose text starts with a letter (one space before it)


def is_wordless(text: str) -> bool:
    """True when the text has no letter or digit outside its citation markers ("[1]", "`[2]`", "")."""
    return _WORD_CHARACTER.search(_CITATION.sub("", text)) is None


def worded_opening(first_tokens: list[tuple[str, float]]) -> str | None:
    """The likeliest of an answer's candidate first tokens (text, logprob) that starts a word; None when none does
    (markers, punctuation, special tokens such as "<|im_end|>" are passed over)."""
    for token, _logprob in sorted(first_tokens, key=lambda item: -item[1]):
        if _OPENS_A_WORD.match(token):
            return token
    return None
